// declarativeNetRequest rules built from the platform table. Pure module: no browser APIs.
//
// Two kinds of rule:
//   - block rules (dynamic, so they hold from browser start, before the worker runs): one per
//     publishing endpoint and host, priority BLOCK_PRIORITY;
//   - allow rules (session-scoped, limited to one tab): one per endpoint of a platform, priority
//     ALLOW_PRIORITY, added for exactly one request after a verified grant and removed as soon as
//     that request is seen.

import { supported, endpointRegexes } from './platforms.js';

export const BLOCK_PRIORITY = 100;
export const ALLOW_PRIORITY = 200;
/** Block rule ids are 1..BLOCK_ID_MAX; allow rule ids start at ALLOW_ID_BASE. */
export const BLOCK_ID_MAX = 4999;
export const ALLOW_ID_BASE = 5000;

// Every kind of request a page can publish with. Form posts navigate (main_frame, sub_frame).
export const RESOURCE_TYPES = ['xmlhttprequest', 'main_frame', 'sub_frame', 'ping', 'other'];

function condition(regexFilter, method, extra = {}) {
  return {
    regexFilter,
    isUrlFilterCaseSensitive: false,
    requestMethods: [method.toLowerCase()],
    resourceTypes: RESOURCE_TYPES,
    ...extra,
  };
}

/**
 * blockRules builds the block rules for every supported platform.
 * @param {any} table
 * @param {string[]} instances Mastodon (and similar) instance hosts
 * @returns {object[]} declarativeNetRequest rules
 */
export function blockRules(table, instances = []) {
  const rules = [];
  let id = 1;
  for (const p of supported(table)) {
    for (const e of p.publish) {
      for (const re of endpointRegexes(p, e, instances)) {
        if (id > BLOCK_ID_MAX) throw new Error('too many block rules');
        rules.push({ id: id++, priority: BLOCK_PRIORITY, action: { type: 'block' }, condition: condition(re, e.method) });
      }
    }
  }
  return rules;
}

/** The static ruleset that holds while IT's configuration is not known yet (see pendingRules). */
export const PENDING_RULESET = 'pending';

/**
 * pendingRules builds the fail-closed rules of the platforms whose hosts come from
 * configuration (Mastodon): their publishing endpoints on every https host. They ship as a
 * static ruleset enabled from installation, so a fresh profile is governed from its first
 * request, and the worker turns them off only once managed storage has answered and the
 * governed set is in place.
 * @param {any} table
 * @returns {any[]} declarativeNetRequest rules
 */
export function pendingRules(table) {
  const rules = [];
  let id = 1;
  for (const p of supported(table)) {
    if (!p.instances_from_policy) continue;
    for (const e of p.publish) {
      if (!e.path_regex) continue;
      const re = `^https://[^/?#]+${e.path_regex.replace(/^\^/, '')}`;
      rules.push({ id: id++, priority: BLOCK_PRIORITY, action: { type: 'block' }, condition: condition(re, e.method) });
    }
  }
  return rules;
}

/**
 * pendingMatch reports whether method+url is one of the pendingRules' shapes.
 */
export function pendingMatch(table, method, url) {
  const m = String(method || '').toUpperCase();
  return pendingRules(table).some((r) => r.condition.requestMethods.includes(m.toLowerCase()) && new RegExp(r.condition.regexFilter, 'i').test(url));
}

/**
 * allowRules builds the rules that let one tab send one publishing request to platform p.
 * The caller removes them when the request is seen or after a short timeout.
 * @param {any} p platform entry
 * @param {number} tabId
 * @param {number} firstId first free id (>= ALLOW_ID_BASE)
 * @param {string[]} instances
 * @param {string} [host] limit to this host (for platforms with many instances)
 * @param {string} [action] the approved action: a repost's approval opens only the repost
 *   endpoints, a text's (post, reply, quote) only the others
 */
export function allowRules(p, tabId, firstId, instances = [], host, action) {
  if (!Number.isInteger(tabId) || tabId < 0) throw new Error('allowRules: a real tab id is needed');
  if (!Number.isInteger(firstId) || firstId < ALLOW_ID_BASE) throw new Error('allowRules: id below ALLOW_ID_BASE');
  const rules = [];
  let id = firstId;
  for (const e of p.publish) {
    if (action !== undefined && !endpointFits(e, action)) continue;
    let res = endpointRegexes(p, e, instances);
    // An instance platform: only the page's own instance. (API hosts are not the page's host.)
    if (host && e.path_regex && p.instances_from_policy) res = endpointRegexes(p, e, [host]).filter((r) => res.includes(r));
    for (const re of res) {
      rules.push({ id: id++, priority: ALLOW_PRIORITY, action: { type: 'allow' }, condition: condition(re, e.method, { tabIds: [tabId] }) });
    }
  }
  return rules;
}

/**
 * isAllowRule reports whether a rule id belongs to the allow range.
 */
export function isAllowRule(id) {
  return id >= ALLOW_ID_BASE;
}

/**
 * ruleUpdate computes the update turning `existing` into `wanted`, touching only the block range.
 * @returns {{removeRuleIds: number[], addRules: any[]}}
 */
export function ruleUpdate(existing, wanted) {
  const key = (r) => JSON.stringify([r.priority, r.action, r.condition]);
  const have = new Map(existing.filter((r) => r.id <= BLOCK_ID_MAX).map((r) => [r.id, key(r)]));
  const same = wanted.length === have.size && wanted.every((r) => have.get(r.id) === key(r));
  if (same) return { removeRuleIds: [], addRules: [] };
  return { removeRuleIds: [...have.keys()], addRules: wanted };
}

/**
 * endpointFits reports whether publishing endpoint e may carry an approved action. Platforms
 * send replies and quotes through their "new post" endpoint, so those share it; a repost has
 * endpoints of its own and nothing else may use them.
 * @param {{action: string}} e
 * @param {string} action
 */
export function endpointFits(e, action) {
  return (e.action === 'repost') === (action === 'repost');
}
