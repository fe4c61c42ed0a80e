// Randomized, mutational testing of the JS client's event-stream parser
// (SseParser in npm/client.js, the parser FetchEventSource runs on each stream).
// Deterministic: iteration i of seed s always builds the same stream, so a failure
// is reproduced by `node test/fuzz-sse.mjs --seed s --from i --iterations 1`.
//
// Each iteration builds a valid stream as a list of lines (events with `event:`,
// `id:`, `retry:`, one or more `data:` lines, comments, blank lines), mutates it at
// the line level (blank lines dropped so events run together, lines duplicated,
// junk and huge `retry:` values, lines and events of about the 64 Ki bounds, in
// ASCII, BMP and astral characters), joins it with LF, CRLF or CR per line, and
// sometimes mutates the bytes (flips, insertions, deletions, stray CR/LF). Then:
//  - fed whole, the parser reports what a line-level reference model expects
//    (events, ids, retries, or a refusal) whenever the bytes were not mutated;
//  - fed in chunks split at random byte positions (inside UTF-8 sequences,
//    between CR and LF), it reports exactly what it reports fed whole;
//  - after every chunk it holds no more than the bounds (held()), and no event it
//    dispatched has more data than MAX_SSE_EVENT.
import { SseParser, MAX_SSE_LINE, MAX_SSE_EVENT } from '../npm/client.js';

/** mulberry32: a small, fast, seedable PRNG returning floats in [0, 1). */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The PRNG of iteration `i` of campaign `seed` (independent of every other iteration). */
export function iterationRng(seed, i) {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(i + 1, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x27d4eb2f);
  return prng(h ^ (h >>> 15));
}

const HUGE = 1 / 512;
const ALPHABET = ['a', 'b', 'z', '0', '9', ' ', ':', '{', '"', '}', ',', 'é', 'ß', '中', '😀', '\u2028', '\t'];
const NAMES = ['ruleset', 'message', 'ping', '', 'e v', 'événement'];

function pick(r, xs) { return xs[Math.floor(r() * xs.length)]; }
function int(r, n) { return Math.floor(r() * n); }

function text(r, max) {
  let s = '';
  const n = int(r, max + 1);
  for (let i = 0; i < n; i++) s += pick(r, ALPHABET);
  return s;
}

/** A string of exactly `units` UTF-16 code units made of `ch` (1 or 2 units) and padding. */
function sized(r, units) {
  const ch = pick(r, ['x', 'é', '中', '😀']);
  const s = ch.repeat(Math.floor(units / ch.length));
  return s + 'y'.repeat(units - s.length);
}

/** Lines of a stream, without their line ends. */
function generate(r) {
  const lines = [];
  if (r() < 0.3) lines.push(': ' + text(r, 8));
  const events = int(r, 5);
  const huge = r() < HUGE;
  for (let e = 0; e < events; e++) {
    if (r() < 0.5) lines.push('event: ' + pick(r, NAMES));
    if (r() < 0.2) lines.push('id: ' + text(r, 4));
    if (r() < 0.15) lines.push('retry: ' + pick(r, ['0', '1000', '3000', '12x', '', ' 5', '99999999999999999999']));
    if (r() < 0.1) lines.push(':' + text(r, 6));
    const data = 1 + int(r, 3);
    for (let d = 0; d < data; d++) {
      const prefix = pick(r, ['data: ', 'data:', 'data:  ']);
      if (huge && r() < 0.6) {
        // A line of about MAX_SSE_LINE, or lines whose event is about MAX_SSE_EVENT.
        const target = r() < 0.5 ? MAX_SSE_LINE : Math.floor(MAX_SSE_EVENT / data);
        lines.push(prefix + sized(r, Math.max(0, target - prefix.length - 1 + int(r, 5) - 2)));
      } else if (r() < 0.05) {
        lines.push('data');
      } else {
        lines.push(prefix + text(r, 12));
      }
    }
    if (r() < 0.1) lines.push(pick(r, ['unknown: x', 'dat: y', 'DATA: z', 'event']));
    lines.push('');
  }
  mutateLines(r, lines);
  lines.push(': end'); // so the last line end is never a CR waiting for an LF
  return lines;
}

function mutateLines(r, lines) {
  const n = int(r, 4);
  for (let k = 0; k < n && lines.length; k++) {
    const i = int(r, lines.length);
    switch (int(r, 5)) {
      case 0: if (lines[i] === '') lines.splice(i, 1); break; // a missing blank line
      case 1: lines.splice(i, 0, lines[i]); break;
      case 2: lines.splice(i, 0, 'retry: ' + String(int(r, 1e9))); break;
      case 3: lines.splice(i, 0, ''); break;
      case 4: lines.length = i; break; // the stream ends mid-event
    }
  }
}

/** The line ends: LF, CRLF or CR, except that an empty line after a CR never
 * starts with LF (the two would be one CRLF). */
function lineEnds(r, lines) {
  const ends = [];
  for (let i = 0; i < lines.length; i++) {
    let end = pick(r, ['\n', '\n', '\r\n', '\r']);
    if (lines[i] === '' && ends[i - 1] === '\r' && end === '\n') end = '\r';
    ends.push(end);
  }
  return ends;
}

/** The line-level reference: what a parser reports for these lines. */
export function reference(lines) {
  const out = { log: [], refused: false };
  let type = '';
  let data = [];
  let size = 0;
  for (const line of lines) {
    if (line.length > MAX_SSE_LINE) { out.refused = true; return out; }
    if (line === '') {
      if (data.length) out.log.push(['event', type || 'message', data.join('\n')]);
      type = ''; data = []; size = 0;
      continue;
    }
    if (line[0] === ':') continue;
    const i = line.indexOf(':');
    const field = i < 0 ? line : line.slice(0, i);
    let val = i < 0 ? '' : line.slice(i + 1);
    if (val[0] === ' ') val = val.slice(1);
    if (field === 'event') type = val;
    else if (field === 'data') {
      size += val.length + 1;
      if (size > MAX_SSE_EVENT) { out.refused = true; return out; }
      data.push(val);
    } else if (field === 'id') out.log.push(['id', val]);
    else if (field === 'retry' && /^\d+$/.test(val)) out.log.push(['retry', Number(val)]);
  }
  return out;
}

/** Feeds `chunks` to a fresh parser, checking its bounds after every chunk. */
export function run(chunks) {
  const out = { log: [], refused: false };
  const p = new SseParser({
    onEvent: (type, data) => {
      if (data.length > MAX_SSE_EVENT) throw new Error(`dispatched an event of ${data.length} characters`);
      out.log.push(['event', type, data]);
    },
    onId: (id) => out.log.push(['id', id]),
    onRetry: (ms) => out.log.push(['retry', ms]),
  });
  for (const chunk of chunks) {
    try {
      p.feed(chunk);
    } catch (e) {
      if (!/longer than/.test(e.message)) throw e;
      out.refused = true;
      return out;
    }
    const h = p.held();
    if (h.line > MAX_SSE_LINE || h.type > MAX_SSE_LINE || h.event > MAX_SSE_EVENT) {
      throw new Error(`parser holds ${JSON.stringify(h)}`);
    }
  }
  return out;
}

function mutateBytes(r, bytes) {
  let b = bytes;
  const n = 1 + int(r, 4);
  const insert = (i, xs) => {
    const out = new Uint8Array(b.length + xs.length);
    out.set(b.subarray(0, i), 0);
    out.set(xs, i);
    out.set(b.subarray(i), i + xs.length);
    return out;
  };
  for (let k = 0; k < n; k++) {
    const i = int(r, b.length + 1);
    switch (int(r, 4)) {
      case 0: if (i < b.length) { b = b.slice(); b[i] ^= 1 << int(r, 8); } break;
      case 1: b = insert(i, [pick(r, [0x0a, 0x0d, 0x3a, 0x20, 0xc3, 0xf0, 0x80, 0xff])]); break;
      case 2: if (i < b.length) { const out = new Uint8Array(b.length - 1); out.set(b.subarray(0, i), 0); out.set(b.subarray(i + 1), i); b = out; } break;
      case 3: b = insert(i, [0x0d, 0x0a]); break;
    }
  }
  return b;
}

function split(r, bytes) {
  const cuts = [];
  const n = int(r, 9);
  for (let k = 0; k < n; k++) cuts.push(int(r, bytes.length + 1));
  // Sometimes cut right after every CR, or inside a multi-byte character.
  if (r() < 0.2) for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0x0d) cuts.push(i + 1);
  if (r() < 0.2) {
    for (let k = 0, i = int(r, bytes.length); k < 8 && i < bytes.length; i += 1 + int(r, 64)) {
      if (bytes[i] >= 0x80) { cuts.push(i); k++; }
    }
  }
  cuts.sort((a, b) => a - b);
  const chunks = [];
  let start = 0;
  for (const c of cuts) { chunks.push(bytes.subarray(start, c)); start = c; }
  chunks.push(bytes.subarray(start));
  return chunks;
}

const encoder = new TextEncoder();

function same(a, b) {
  if (a.refused !== b.refused || a.log.length !== b.log.length) return false;
  return a.log.every((x, i) => x.length === b.log[i].length && x.every((y, j) => y === b.log[i][j]));
}

function describe(x) {
  const s = JSON.stringify(x);
  return s.length > 300 ? `${s.slice(0, 300)}… (${s.length} characters)` : s;
}

/** One iteration; throws with a description of the disagreement. */
export function iteration(seed, i) {
  const r = iterationRng(seed, i);
  const lines = generate(r);
  const ends = lineEnds(r, lines);
  let bytes = encoder.encode(lines.map((l, k) => l + ends[k]).join(''));
  const mutated = r() < 0.25;
  if (mutated) bytes = mutateBytes(r, bytes);
  const whole = run([bytes]);
  if (!mutated) {
    const want = reference(lines);
    if (!same(whole, want)) {
      throw new Error(`seed ${seed} iteration ${i}: fed whole, got ${describe(whole)}, the reference says ${describe(want)}`);
    }
  }
  const chunks = split(r, bytes);
  const parts = run(chunks);
  if (!same(parts, whole)) {
    throw new Error(`seed ${seed} iteration ${i}: split at ${describe(chunks.map((c) => c.length))} got ${describe(parts)}, fed whole ${describe(whole)}`);
  }
  return bytes.length;
}

/** Runs iterations `from` .. `from + iterations - 1`; returns counts and timing. */
export function campaign({ seed = 1, from = 0, iterations = 10_000, onProgress } = {}) {
  const t0 = process.hrtime.bigint();
  let bytes = 0;
  for (let i = from; i < from + iterations; i++) {
    bytes += iteration(seed, i);
    if (onProgress && (i - from + 1) % 1_000_000 === 0) onProgress(i - from + 1, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { iterations, bytes, seconds, perSecond: iterations / seconds };
}
