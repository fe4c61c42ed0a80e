// A bounded run of the randomized event-stream parser test (sse-fuzz.mjs); the
// long campaign is `node test/fuzz-sse.mjs --iterations N`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { campaign, iteration, reference, run } from './sse-fuzz.mjs';
import { MAX_SSE_LINE } from '../npm/client.js';

test('SSE parser: 50,000 seeded random streams agree with the reference, split anywhere, within bounds', () => {
  const res = campaign({ seed: 20260101, iterations: 50_000 });
  assert.equal(res.iterations, 50_000);
});

test('SSE parser: the same iteration builds the same stream', () => {
  assert.equal(iteration(7, 123), iteration(7, 123));
});

test('SSE parser: a line of the bound is accepted, one longer refused, however it is split', () => {
  const enc = new TextEncoder();
  for (const n of [MAX_SSE_LINE - 6, MAX_SSE_LINE - 5]) {
    const lines = ['data: ' + 'x'.repeat(n), '', ': end'];
    const want = reference(lines);
    assert.equal(want.refused, n > MAX_SSE_LINE - 6);
    for (const eol of ['\n', '\r\n', '\r']) {
      const bytes = enc.encode(lines.join(eol) + eol);
      for (const cut of [0, 6 + n, 7 + n, bytes.length]) {
        const got = run([bytes.subarray(0, cut), bytes.subarray(cut)]);
        assert.deepEqual(got, want, `line of ${n + 6}, ${JSON.stringify(eol)}, cut at ${cut}`);
      }
    }
  }
});
