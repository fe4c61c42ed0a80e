// Regressions of the JS client's event-stream parser (SseParser in npm/client.js)
// found by the randomized test (sse-fuzz.test.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SseParser, MAX_SSE_LINE } from '../npm/client.js';

function parse(chunks) {
  const events = [];
  const p = new SseParser({ onEvent: (type, data) => events.push([type, data]) });
  try {
    for (const c of chunks) p.feed(new TextEncoder().encode(c));
  } catch (e) {
    return { events, error: e.message };
  }
  return { events, error: null };
}

test('a line of exactly MAX_SSE_LINE characters ending in CRLF or CR is accepted wherever a chunk ends', () => {
  const line = 'data: ' + 'x'.repeat(MAX_SSE_LINE - 6);
  for (const eol of ['\r\n', '\r']) {
    const whole = parse([`${line}${eol}${eol}: end\n`]);
    assert.equal(whole.error, null);
    assert.equal(whole.events.length, 1);
    // The chunk ends with the CR, which may be half of a CRLF: it is held with the
    // line, and must not count as a character of it (it did: refused).
    assert.deepEqual(parse([`${line}\r`, `${eol === '\r' ? '' : '\n'}${eol}: end\n`]), whole);
  }
  // One character more is refused, however it is split.
  const long = `${line}x\r`;
  assert.match(parse([long, '\n\n']).error, /longer than/);
  assert.match(parse([`${long}\n\n`]).error, /longer than/);
});

test('a line arriving one byte per chunk costs linear time, not quadratic', () => {
  // Each chunk used to rescan (and re-flatten) the whole held line: 65,000
  // one-byte chunks took about 5 s of CPU, blocking the event loop; now ~0.3 s.
  const p = new SseParser();
  const one = new TextEncoder().encode('x');
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < 65_000; i++) p.feed(one);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  assert.equal(p.held().line, 65_000);
  assert.ok(ms < 2_000, `65,000 one-byte chunks took ${ms.toFixed(0)} ms`);
  const events = [];
  const q = new SseParser({ onEvent: (type, data) => events.push(data) });
  for (const c of 'data: a\r\ndata: b\r\n\r\n') q.feed(new TextEncoder().encode(c));
  assert.deepEqual(events, ['a\nb']);
});
