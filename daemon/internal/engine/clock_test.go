package engine

import (
	"context"
	"testing"
	"time"
	"unsafe"

	"foureyes/daemon/internal/api"
	"foureyes/daemon/internal/clock"
)

// monoClock is the system clock as the engine sees it: each reading has a wall time (from
// wall, which the test sets back and forward like a person or NTP would) and a monotonic
// reading (which only moves with elapsed time, and stands still while the laptop sleeps). Go
// compares two such times by the monotonic reading alone, which clock.Fake cannot show.
type monoClock struct {
	t       *testing.T
	wall    *clock.Fake
	base    time.Time // a real reading: its monotonic part is where the fake one starts
	elapsed time.Duration
}

// monoExt points at the monotonic reading inside a time.Time that has one (the second word,
// "ext", in Go's layout). The clock checks its own readings, so a change of layout fails the
// test instead of passing it.
func monoExt(t *time.Time) *int64 {
	return (*int64)(unsafe.Add(unsafe.Pointer(t), unsafe.Sizeof(uint64(0))))
}

func newMonoClock(t *testing.T, wall *clock.Fake) *monoClock {
	return &monoClock{t: t, wall: wall, base: time.Now()}
}

func (c *monoClock) Now() time.Time {
	w := c.wall.Now()
	// base moved to the wall time (both readings move alike), then the monotonic reading set.
	n := c.base.Add(w.Sub(c.base.Round(0)))
	*monoExt(&n) = *monoExt(&c.base) + int64(c.elapsed)
	if !n.Round(0).Equal(w) || n.Sub(c.base) != c.elapsed {
		c.t.Fatalf("cannot make a reading with wall time %v and %v elapsed (Go's time layout changed?)", w, c.elapsed)
	}
	return n
}

// pass lets d go by: both readings move.
func (c *monoClock) pass(d time.Duration) { c.elapsed += d; c.wall.Advance(d) }

// setWall moves only the wall clock (a person, or NTP, setting it).
func (c *monoClock) setWall(d time.Duration) { c.wall.Advance(d) }

// sleep is a suspended laptop: the wall clock moves, the monotonic clock does not.
func (c *monoClock) sleep(d time.Duration) { c.wall.Advance(d) }

func newMonoFixture(t *testing.T) (*fixture, *monoClock) {
	f := newFixture(t)
	mc := newMonoClock(t, f.clk)
	f.engineClock = mc
	f.start()
	f.enrol("anna", "")
	return f, mc
}

// The wall clock set back after a session was issued: the session still ends after its TTL of
// elapsed time, a spent session stays spent, and a spent code is not accepted again.
func TestClockSetBack(t *testing.T) {
	ctx := context.Background()
	f, mc := newMonoFixture(t)
	ttl := f.pol.SessionTTL()

	r := f.request("eins")
	code := f.codeFor("anna", f.clk.Now())
	ap, err := f.staff().Approve(ctx, r.ID, "anna", code)
	if err != nil {
		t.Fatal(err)
	}
	mc.setWall(-time.Hour)
	mc.pass(ttl + time.Second)
	_, err = f.staff().Consume(ctx, use(ap.Session, r.Digest))
	wantCode(t, err, api.CodeExpired)

	// A spent session, then the clock set back: still spent.
	mc.setWall(time.Hour) // back to where it was
	mc.pass(30 * time.Second)
	r2 := f.request("zwei")
	ap2, err := f.staff().Approve(ctx, r2.ID, "anna", f.codeFor("anna", f.clk.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.staff().Consume(ctx, use(ap2.Session, r2.Digest)); err != nil {
		t.Fatal(err)
	}
	spentAt := f.clk.Now()
	mc.setWall(-30 * time.Second)
	_, err = f.staff().Consume(ctx, use(ap2.Session, r2.Digest))
	wantCode(t, err, api.CodeAlreadyUsed)

	// The spent code, and the code of the step the clock went back to: refused as replays
	// (the newest accepted step is remembered), so nothing is approved until the wall clock
	// is past it again.
	r3 := f.request("drei")
	for _, at := range []time.Time{spentAt, f.clk.Now()} {
		_, err = f.staff().Approve(ctx, r3.ID, "anna", f.codeFor("anna", at))
		wantCode(t, err, api.CodeReplayed)
	}
	// Further back, the spent code is outside the window: refused too.
	mc.setWall(-5 * time.Minute)
	_, err = f.staff().Approve(ctx, r3.ID, "anna", f.codeFor("anna", spentAt))
	wantCode(t, err, api.CodeBadCode)
	_, err = f.staff().Approve(ctx, r3.ID, "anna", f.codeFor("anna", f.clk.Now()))
	wantCode(t, err, api.CodeReplayed)
	if ss, err := f.staff().ListSessions(ctx); err != nil || len(ss) != 2 {
		t.Fatalf("sessions: %v %+v (want the two issued before, no more)", err, ss)
	}
	f.verifyAudit()
}

// The laptop sleeps (the monotonic clock stands still) or the wall clock is set forward: a
// session whose TTL has passed on the wall clock has ended, and setting the clock back again
// does not revive it.
func TestClockSleepAndSetForward(t *testing.T) {
	ctx := context.Background()
	f, mc := newMonoFixture(t)
	ttl := f.pol.SessionTTL()

	r := f.request("eins")
	ap, err := f.staff().Approve(ctx, r.ID, "anna", f.codeFor("anna", f.clk.Now()))
	if err != nil {
		t.Fatal(err)
	}
	mc.pass(time.Minute)
	mc.sleep(time.Hour)
	mc.pass(time.Second)
	_, err = f.staff().Consume(ctx, use(ap.Session, r.Digest))
	wantCode(t, err, api.CodeExpired)

	// Set forward past the TTL, then back: the session ended and stays ended.
	mc.pass(30 * time.Second)
	r2 := f.request("zwei")
	ap2, err := f.staff().Approve(ctx, r2.ID, "anna", f.codeFor("anna", f.clk.Now()))
	if err != nil {
		t.Fatal(err)
	}
	mc.setWall(ttl + time.Minute)
	f.eng.Tick()
	mc.setWall(-ttl - time.Minute)
	_, err = f.staff().Consume(ctx, use(ap2.Session, r2.Digest))
	wantCode(t, err, api.CodeExpired)

	// A request waiting for approval ends the same way.
	mc.pass(30 * time.Second)
	r3 := f.request("drei")
	mc.sleep(f.pol.RequestTTL() + time.Minute)
	_, err = f.staff().Approve(ctx, r3.ID, "anna", f.codeFor("anna", f.clk.Now()))
	wantCode(t, err, api.CodeExpired)
	f.verifyAudit()
}
