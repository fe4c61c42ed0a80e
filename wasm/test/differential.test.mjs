// Differential test: the same rulesets and 10,000 seeded random contexts through the
// native CLI (`edgeflag eval --contexts`, one JSON line of every flag's detail per
// context) and through the WASM build (`allFlagsJSON`), compared byte for byte.
// Reproduce a failure with EDGEFLAG_DIFF_SEED=<seed printed in the message>.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { Ruleset, Context, ContextError } from '../npm/node.js';
import { ROOT, compile, edgeflag, rng, tempDir } from './helpers.mjs';

const SEED = Number(process.env.EDGEFLAG_DIFF_SEED ?? 20261121);
const N = Number(process.env.EDGEFLAG_DIFF_N ?? 10_000);

const pick = (r, xs) => xs[Math.floor(r() * xs.length)];

const STRINGS = ['', 'DE', 'AT', 'CH', 'FR', 'KP', 'US', 'pro', 'free', 'enterprise', 'ios', 'web', 'android',
  'beta', 'staff', 'batch-7', 'eu-west-1', 'us-east-1', 'true', '3.2', '3.1.4', '3.2.0-rc.1', '10.0.0', 'v1',
  'ana@edgeflag.dev', 'x@example.com', 'ÄÖÜ', 'Ωmega', '日本', '🚀', 'a'.repeat(40), 'user-42', 'user-666',
  '2026-01-01T00:00:00Z', '2030-06-30T12:00:00+02:00', 'not-a-date', '1.5', 'gold', 'org-1', 'acct-9'];
const NUMBERS = [0, -0, 1, 2, 3, 5, 7.5, 10, -1, 0.1, 1e-6, 1e20, 2 ** 53, 2 ** 53 + 2, -(2 ** 60), 123456789.125,
  1767225600000, 99999, 0.30000000000000004];

function scalar(r) {
  const x = r();
  if (x < 0.55) return pick(r, STRINGS);
  if (x < 0.85) return pick(r, NUMBERS);
  return r() < 0.5;
}

/** One random context over `attrs`; about 2 % are invalid on purpose. */
function randomContext(r, attrs) {
  const ctx = {};
  const keyRoll = r();
  if (keyRoll < 0.85) ctx.key = r() < 0.7 ? `user-${Math.floor(r() * 2000)}` : pick(r, STRINGS);
  else if (keyRoll < 0.87) ctx.key = pick(r, NUMBERS); // invalid: key must be a string
  for (const a of attrs) {
    if (a === 'key' || r() < 0.3) continue;
    const x = r();
    if (x < 0.1) ctx[a] = null;
    else if (x < 0.3) {
      const list = Array.from({ length: Math.floor(r() * 4) }, () => (r() < 0.7 ? pick(r, STRINGS) : pick(r, NUMBERS)));
      if (r() < 0.02) list.push(true); // invalid: booleans are not list elements
      ctx[a] = list;
    } else ctx[a] = scalar(r);
  }
  return ctx;
}

function attributesOf(source, found = new Set(['key'])) {
  if (Array.isArray(source)) source.forEach((x) => attributesOf(x, found));
  else if (source && typeof source === 'object') {
    for (const [k, v] of Object.entries(source)) {
      if ((k === 'attribute' || k === 'bucket_by') && typeof v === 'string') found.add(v);
      else attributesOf(v, found);
    }
  }
  return found;
}

function exampleAttributes() {
  const dir = path.join(ROOT, 'examples');
  const text = ['flags/checkout.yaml', 'flags/ops.yaml', 'segments.yaml']
    .map((f) => readFileSync(path.join(dir, f), 'utf8')).join('\n');
  const found = new Set(['key']);
  for (const m of text.matchAll(/attribute:\s*([A-Za-z0-9_.-]+)/g)) found.add(m[1]);
  for (const m of text.matchAll(/bucket_by:\s*([A-Za-z0-9_.-]+)/g)) found.add(m[1]);
  return [...found];
}

function differential(name, efr, attrs, n, seed) {
  const r = rng(seed);
  const dir = tempDir('edgeflag-diff-');
  const lines = Array.from({ length: n }, () => JSON.stringify(randomContext(r, attrs)));
  const file = path.join(dir, 'contexts.jsonl');
  writeFileSync(file, lines.join('\n') + '\n');
  const native = edgeflag(['eval', '--ruleset', efr, '--contexts', file], { allowFailure: true })
    .stdout.split('\n').filter((l) => l !== '');
  assert.equal(native.length, n, `${name}: native printed ${native.length} lines for ${n} contexts`);
  const rs = Ruleset.fromBytes(new Uint8Array(readFileSync(efr)));
  let compared = 0;
  let refused = 0;
  const kinds = new Set();
  for (let i = 0; i < n; i++) {
    const where = `${name}, seed ${seed}, context ${i + 1}: ${lines[i]}`;
    let ctx;
    try {
      ctx = new Context(JSON.parse(lines[i]));
    } catch (e) {
      assert.ok(e instanceof ContextError, `${where}: ${e}`);
      assert.match(native[i], /^\{"error":/, `${where}: WASM refused the context (${e.message}), native did not`);
      refused++;
      continue;
    }
    assert.doesNotMatch(native[i], /^\{"error":/, `${where}: native refused the context, WASM did not`);
    assert.equal(rs.allFlagsJSON(ctx), native[i], where);
    for (const m of native[i].matchAll(/"kind":"([A-Z_]+)"/g)) kinds.add(m[1]);
    ctx.free();
    compared++;
  }
  rs.free();
  return { compared, refused, kinds };
}

test(`example flags: ${N} random contexts, native vs WASM, byte for byte`, (t) => {
  const out = compile(path.join(ROOT, 'examples'));
  const attrs = exampleAttributes();
  for (const [i, env] of ['staging', 'production'].entries()) {
    const { compared, refused, kinds } = differential(`examples/${env}`, path.join(out.dir, `${env}.efr`), attrs, N, SEED + i);
    t.diagnostic(`${env}: ${compared} compared, ${refused} refused by both, reasons ${[...kinds].sort().join(' ')}`);
    assert.ok(compared > N * 0.9 && refused > 0, `${env}: compared ${compared}, refused ${refused}`);
    // The generator reaches every outcome the example flags have.
    for (const k of ['OFF', 'PREREQUISITE_FAILED', 'TARGET_MATCH', 'RULE_MATCH', 'FALLTHROUGH', 'DEFAULT']) {
      if (env === 'production' || k !== 'OFF') assert.ok(kinds.has(k), `${env}: no ${k} among the results`);
    }
  }
});

test('golden-vector sources (every operator): 1,000 random contexts each, native vs WASM', (t) => {
  const suites = JSON.parse(readFileSync(path.join(ROOT, 'tests/vectors/cases.json'), 'utf8'));
  const seen = new Set();
  let k = 0;
  for (const suite of suites) {
    const key = JSON.stringify(suite.source) + suite.environment;
    if (seen.has(key)) continue;
    seen.add(key);
    const src = tempDir('edgeflag-diffsrc-');
    mkdirSync(path.join(src, 'src'));
    writeFileSync(path.join(src, 'src', 'flags.json'), JSON.stringify(suite.source));
    const out = compile(path.join(src, 'src'));
    const env = suite.environment ?? 'default';
    const { compared, kinds } = differential(`vectors/${suite.name}`, path.join(out.dir, `${env}.efr`),
      [...attributesOf(suite.source)], 1000, SEED + 100 + k++);
    t.diagnostic(`vectors/${suite.name}: ${compared} compared, reasons ${[...kinds].sort().join(' ')}`);
    assert.ok(compared > 900);
    assert.ok(kinds.has('RULE_MATCH') || suite.name === 'rollouts', `vectors/${suite.name}: no rule ever matched`);
  }
});
