#!/usr/bin/env node
// A long randomized campaign against the JS client's event-stream parser (see
// sse-fuzz.mjs for what each iteration builds and checks).
//   node test/fuzz-sse.mjs --iterations 10000000 [--seed 1] [--from 0]
// Prints iterations per second; on a failure prints the seed and iteration and
// exits 1 (`--from I --iterations 1` replays it).
import { campaign } from './sse-fuzz.mjs';

const args = { iterations: 1_000_000, seed: 1, from: 0 };
for (let i = 2; i < process.argv.length; i += 2) {
  const name = process.argv[i].replace(/^--/, '');
  const value = Number(process.argv[i + 1]);
  if (!(name in args) || !Number.isSafeInteger(value) || value < 0) {
    console.error(`usage: fuzz-sse.mjs [--iterations N] [--seed S] [--from I]`);
    process.exit(2);
  }
  args[name] = value;
}
try {
  const res = campaign({
    ...args,
    onProgress: (n, s) => console.log(`${n} iterations, ${Math.round(n / s)}/s`),
  });
  console.log(`seed ${args.seed}: ${res.iterations} iterations (${(res.bytes / 1e6).toFixed(1)} MB of stream) in ${res.seconds.toFixed(1)} s, ${Math.round(res.perSecond)} iterations/s, no failure`);
} catch (e) {
  console.error(e.message);
  process.exit(1);
}
