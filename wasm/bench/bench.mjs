// Node benchmark of the WASM build (not a test). Same flags and subject as the
// criterion benches (bench/src/lib.rs), written by `bench/examples/wasm_fixtures.rs`.
//
//   node wasm/bench/bench.mjs            # builds the fixtures with cargo if missing
//   EDGEFLAG_BENCH_FIXTURES=DIR node …   # or use fixtures written earlier
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { Ruleset, Context } from '../npm/node.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
let dir = process.env.EDGEFLAG_BENCH_FIXTURES;
if (!dir || !existsSync(path.join(dir, 'big.efr'))) {
  dir = dir || mkdtempSync(path.join(tmpdir(), 'edgeflag-bench-'));
  const r = spawnSync('cargo', ['run', '-q', '--release', '-p', 'edgeflag-bench', '--example', 'wasm_fixtures', '-j', '2', '--', dir],
    { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(1);
}
const read = (f) => new Uint8Array(readFileSync(path.join(dir, f)));
const subject = JSON.parse(readFileSync(path.join(dir, 'subject.json'), 'utf8'));

/** Median ns per call over `rounds` timed batches of `n` calls. */
function bench(name, n, f) {
  for (let i = 0; i < n; i++) f(); // warm-up (JIT, caches)
  const rounds = 15;
  const per = [];
  let sink = 0;
  for (let r = 0; r < rounds; r++) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) sink ^= f() ? 1 : 0;
    per.push(Number(process.hrtime.bigint() - t) / n);
  }
  per.sort((a, b) => a - b);
  const med = per[rounds >> 1];
  const fmt = med >= 1e6 ? `${(med / 1e6).toFixed(2)} ms` : med >= 1e3 ? `${(med / 1e3).toFixed(2)} µs` : `${med.toFixed(1)} ns`;
  console.log(`${name.padEnd(58)} ${fmt.padStart(12)}   (${sink & 0})`);
  return med;
}

const wasm = readFileSync(path.join(here, '..', 'npm', 'gen', 'edgeflag_bg.wasm'));
console.log(`module: ${wasm.length} bytes raw, ${gzipSync(wasm, { level: 9 }).length} bytes zlib level 9 (gzip(1) -9 is a few % smaller)`);
console.log(`node ${process.version}, fixtures ${dir}\n`);

const small = Ruleset.fromBytes(read('small.efr'));
const hundred = Ruleset.fromBytes(read('hundred.efr'));
const bigBytes = read('big.efr');
const ctx = new Context(subject);

bench('S1 boolValue, reused Context', 1_000_000, () => small.boolValue('flag-s1', ctx, false));
bench('S2 boolValue, reused Context', 1_000_000, () => small.boolValue('flag-s2', ctx, false));
bench('S1 boolValue, fresh JS object per call', 200_000, () => small.boolValue('flag-s1', { ...subject }, false));
bench('S2 boolValue, fresh JS object per call', 200_000, () => small.boolValue('flag-s2', { ...subject }, false));
bench('S2 evaluate (detail object), reused Context', 200_000, () => small.evaluate('flag-s2', ctx).in_rollout);
bench('new Context(object) + free', 200_000, () => { const c = new Context(subject); c.free(); return 1; });
bench('allFlags, 100 flags (parsed object), reused Context', 5_000, () => hundred.allFlags(ctx) !== null);
bench('allFlagsJSON, 100 flags (text), reused Context', 5_000, () => hundred.allFlagsJSON(ctx).length);
const big = Ruleset.fromBytes(bigBytes);
bench('S3 boolValue among 10,000 flags, reused Context', 1_000_000, () => big.boolValue('flag-s2', ctx, false));
bench(`load 10,000 flags (Ruleset.fromBytes, ${bigBytes.length} bytes)`, 20, () => { const r = Ruleset.fromBytes(bigBytes); r.free(); return 1; });
