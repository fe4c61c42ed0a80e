// Shared by the OpenFeature provider tests: a project with a flag of every
// type and every reason, the one reason mapping as data
// (tests/vectors/openfeature.json), and a seeded generator of OpenFeature
// contexts for the differential against the origin's OFREP endpoint.
import assert from 'node:assert/strict';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT, tempDir } from './helpers.mjs';

/**
 * Every flag is client-side (the web tests read the client ruleset). `banner`'s
 * fallthrough is the flip. Reasons: RULE_MATCH (banner, theme, limit),
 * TARGET_MATCH (theme), FALLTHROUGH (limit, layout), a rule's rollout (layout,
 * seats ≥ 10), a fallthrough rollout (rollout), OFF (kill),
 * PREREQUISITE_FAILED (gated), DEFAULT (rollout without a key).
 */
export const source = (bannerFallthrough = 'off') => `environments: [production]
flags:
  banner:
    client_side: true
    rules:
      - id: germans
        clauses: [{attribute: country, op: in, values: [DE]}]
        serve: "on"
      - clauses: [{attribute: address.country, op: in, values: [FR]}]
        serve: "on"
    fallthrough: "${bannerFallthrough}"
  theme:
    client_side: true
    variations: {light: light, dark: dark}
    off_variation: light
    targets: {dark: [user-7]}
    rules:
      - id: ab
        clauses: [{attribute: a.b, op: in, values: [x]}]
        serve: dark
    fallthrough: light
  limit:
    client_side: true
    variations: {high: 2.5, low: 10}
    off_variation: low
    rules:
      - clauses: [{attribute: tags, op: in, values: [vip, 7]}]
        serve: low
    fallthrough: high
  layout:
    client_side: true
    variations: {grid: {cols: 2, dense: true}, list: [1, "two"]}
    off_variation: list
    rules:
      - id: big
        clauses: [{attribute: seats, op: gte, values: [10]}]
        serve: {rollout: {grid: 50, list: 50}}
    fallthrough: grid
  kill:
    client_side: true
    enabled: false
  gated:
    client_side: true
    prerequisites: [{flag: kill, variations: ["on"]}]
    fallthrough: "on"
  rollout:
    client_side: true
    rules:
      - clauses: [{attribute: deep.l1.l2.l3.l4.l5.l6, op: in, values: [z]}]
        serve: "on"
    fallthrough: {rollout: {"on": 50, "off": 50}}
`;

/** The OpenFeature type of each flag of `source`. */
export const FLAG_TYPES = { banner: 'boolean', theme: 'string', limit: 'number', layout: 'object', kill: 'boolean', gated: 'boolean', rollout: 'boolean' };
export const DEFAULTS = { boolean: false, string: 'dflt', number: -1, object: { dflt: true } };
export const SDK_METHOD = { boolean: 'getBooleanDetails', string: 'getStringDetails', number: 'getNumberDetails', object: 'getObjectDetails' };

/** A fresh source directory holding `source(...)`; `flip(value)` rewrites it atomically. */
export function projectSource() {
  const dir = tempDir('edgeflag-of-src-');
  const write = (fallthrough) => {
    const tmp = path.join(dir, '.flags.yaml.tmp');
    writeFileSync(tmp, source(fallthrough));
    renameSync(tmp, path.join(dir, 'flags.yaml'));
  };
  write('off');
  return { dir, flip: write };
}

/** tests/vectors/openfeature.json: the one mapping, as data. */
export const VECTORS = JSON.parse(readFileSync(path.join(ROOT, 'tests', 'vectors', 'openfeature.json'), 'utf8'));

/** The OpenFeature reason the mapping gives an edgeflag detail (`{reason: {kind}, in_rollout}`). */
export function expectedReason(detail) {
  const row = VECTORS.reasons.find((r) => r.edgeflag === detail.reason.kind && r.in_rollout === detail.in_rollout);
  assert.ok(row, `tests/vectors/openfeature.json has no row for ${detail.reason.kind} (in_rollout ${detail.in_rollout})`);
  return row.openfeature;
}

/** The OpenFeature error code the mapping gives an edgeflag error kind. */
export function expectedError(kind) {
  const row = VECTORS.errors.find((r) => r.edgeflag === kind);
  assert.ok(row, `tests/vectors/openfeature.json has no error row for ${kind}`);
  return row.openfeature;
}

/**
 * A seeded random OpenFeature context over the attributes `source` reads:
 * targetingKey or `key` (sometimes not a string), nested objects and dotted
 * names that collide (in either order), lists (sometimes with booleans or
 * nulls), numbers, Dates, undefined, nesting up to 9 levels (8 is too deep).
 */
export function randomContext(r) {
  const pick = (a) => a[Math.floor(r() * a.length)];
  const entries = [];
  const k = r();
  if (k < 0.75) entries.push(['targetingKey', pick(['u1', 'user-7', 'u-3', `u${Math.floor(r() * 10_000)}`])]);
  else if (k < 0.9) entries.push(['key', pick(['user-7', 'u9', `k${Math.floor(r() * 1000)}`])]);
  else if (k < 0.95) entries.push(['targetingKey', pick([7, true, ['user-7'], { id: 'u' }])]);
  else { entries.push(['targetingKey', 'u5']); entries.push(['key', pick([3, 'user-7'])]); }
  if (r() < 0.7) entries.push(['country', pick(['DE', 'FR', 'US', null, 42, undefined])]);
  if (r() < 0.5) entries.push(['address', pick([{ country: 'FR' }, { country: 'DE', city: 'Berlin' }, { country: null }, {}])]);
  if (r() < 0.2) entries.push(['address.country', pick(['FR', 'US', null])]);
  if (r() < 0.4) entries.push(['a', pick([{ b: 'x' }, { b: 'y' }, { b: ['x'] }, { b: { c: 'x' } }])]);
  if (r() < 0.2) entries.push(['a.b', pick(['x', 'y', null])]);
  if (r() < 0.5) entries.push(['tags', pick([['vip'], [7], ['a', 1.5], [], ['x', true], ['vip', null], [new Date(0)]])]);
  if (r() < 0.5) entries.push(['seats', pick([5, 10, 12.5, '12', true, -0])]);
  if (r() < 0.3) {
    // n nested objects: deep.l1…ln; n = 6 reaches the rule's 'z', n ≥ 8 is too deep.
    const n = 1 + Math.floor(r() * 9);
    let v = pick(['z', 'y']);
    for (let i = n; i >= 1; i--) v = { [`l${i}`]: v };
    entries.push(['deep', v]);
  }
  if (r() < 0.2) entries.push(['since', new Date(1_700_000_000_000 + Math.floor(r() * 1e9))]);
  if (r() < 0.2) entries.push(['gone', pick([null, undefined])]);
  for (let i = entries.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [entries[i], entries[j]] = [entries[j], entries[i]];
  }
  return Object.fromEntries(entries);
}
