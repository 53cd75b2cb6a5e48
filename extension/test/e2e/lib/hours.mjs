// Posting hours for a policy, chosen against the real clock (the daemon's clock is never faked):
// in a fixed-offset time zone whose wall clock reads 12:00-12:59 right now, so that "now" is
// hours away from every boundary and a run cannot cross one, whatever the time of day it starts.

/** noonZone is the Etc/GMT zone whose local time is now in the hour from 12:00 (Etc/GMT-2 is UTC+2). */
export function noonZone(now = new Date()) {
  const east = 12 - now.getUTCHours(); // -11 .. 12: all of them exist in the IANA database
  return east === 0 ? 'Etc/GMT' : `Etc/GMT${east > 0 ? '-' : '+'}${Math.abs(east)}`;
}

/**
 * postingHours returns the policy's posting_hours with now inside them (06:00-19:00 local, now at
 * least 5 hours from either end) or outside them (00:00-06:00 local, now 6 hours after the end
 * and 11 before the next start), every day of the week.
 */
export function postingHours(inside, now = new Date()) {
  return {
    days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'],
    start: inside ? '06:00' : '00:00',
    end: inside ? '19:00' : '06:00',
    time_zone: noonZone(now),
  };
}
