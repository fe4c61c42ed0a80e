// createClient against a real `edgeflag serve --watch` origin (through a recording,
// fault-injecting loopback proxy): ETag polling, atomic swaps on a flag flip, the
// refusals that keep the last good ruleset, backoff and Retry-After.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createClient, Context, Ruleset, eventsLink, retryAfterMs, FetchEventSource } from '../npm/node.js';
import { exampleSourceCopy, startServe, waitFor, compile } from './helpers.mjs';
import { startProxy, startRawServer, pump } from './proxy.mjs';
import { gzipSync } from 'node:zlib';

let src, origin, proxy, url;

before(async () => {
  src = exampleSourceCopy();
  origin = await startServe({ watch: src });
  proxy = await startProxy(origin.url);
  url = `${proxy.url}/production/current.efr`;
});

after(async () => {
  await proxy?.close();
  await origin?.close();
});

/** Flips the production kill switch of search-v2 in the watched source. */
function flipSearch(enabled) {
  const f = path.join(src, 'flags', 'ops.yaml');
  const text = readFileSync(f, 'utf8');
  const next = text.replace(/^    enabled: (true|false)$/m, `    enabled: ${enabled}`);
  assert.notEqual(next, text, 'the flip changed the source');
  writeFileSync(f, next);
}

const user = () => new Context({ key: 'user-7', country: 'FR', plan: 'enterprise' });

test('helpers: Link header and Retry-After parsing', () => {
  assert.equal(eventsLink('</production/events>; rel="edgeflag-events"', 'http://h:1/production/current.efr'), 'http://h:1/production/events');
  assert.equal(eventsLink('<https://x/a>; rel="other", </e>; rel=edgeflag-events', 'http://h/'), 'http://h/e');
  assert.equal(eventsLink('</e>; rel="other"', 'http://h/'), null);
  assert.equal(eventsLink(null, 'http://h/'), null);
  assert.equal(retryAfterMs('3'), 3000);
  assert.equal(retryAfterMs(new Date(10_000).toUTCString(), 4_000), 6000);
  assert.equal(retryAfterMs('soon'), null);
});

test('polls with If-None-Match, swaps on a flip, refuses bad downloads and keeps the last good ruleset', async () => {
  const client = createClient({ url, pollIntervalMs: 0 });
  const changes = [];
  client.onChange((rs, prev) => changes.push([rs.version, prev?.version ?? null]));
  const rs1 = await client.ready();
  assert.equal(rs1.environment, 'production');
  const v1 = rs1.version;
  const v1bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
  assert.equal(client.evaluate('search-v2', user()).reason.kind, 'OFF');
  assert.equal(client.boolValue('search-v2', user(), true), false);

  // Unchanged: a conditional GET answered 304, nothing swapped.
  const n = proxy.log.length;
  await client.refresh();
  const last = proxy.log.at(-1);
  assert.ok(proxy.log.length > n);
  assert.equal(last.ifNoneMatch, client.status().etag);
  assert.equal(last.status, 304);
  assert.equal(client.ruleset, rs1);

  // Corrupted, truncated, other environment: refused, the last good one serves on.
  const staging = compile(src).read('staging');
  for (const [fault, kind] of [['corrupt', /checksum/i], ['truncate', /truncated/i], [{ body: staging }, /environment/i]]) {
    proxy.state.fault = fault;
    const st = await client.refresh();
    proxy.state.fault = null;
    assert.equal(client.ruleset, rs1, `after ${JSON.stringify(fault)}`);
    assert.equal(st.state, 'stale');
    assert.match(st.lastError, kind);
    assert.equal(st.consecutiveFailures, 1);
    const ok = await client.refresh();
    assert.equal(ok.state, 'ready');
    assert.equal(ok.consecutiveFailures, 0);
  }

  // A flag flip: the watched source changes, serve republishes, the next poll swaps.
  flipSearch(true);
  await waitFor(async () => (await client.refresh()).version > v1, 30_000, 'the flipped ruleset');
  const rs2 = client.ruleset;
  assert.notEqual(rs2, rs1);
  assert.notEqual(client.evaluate('search-v2', user()).reason.kind, 'OFF');
  assert.deepEqual(changes, [[v1, null], [rs2.version, v1]]);
  // The old ruleset still answers as before (a swap never mutates it).
  assert.equal(rs1.evaluate('search-v2', user()).reason.kind, 'OFF');

  // An older version is refused.
  proxy.state.fault = { body: v1bytes };
  const st = await client.refresh();
  proxy.state.fault = null;
  assert.equal(client.ruleset, rs2);
  assert.match(st.lastError, /older/);
  client.close();
  assert.equal(client.status().state, 'closed');
});

test('timer polling, exponential backoff with jitter, Retry-After', async () => {
  const client = createClient({ url, pollIntervalMs: 100, random: () => 1 });
  await client.ready();
  const start = proxy.log.length;
  await waitFor(() => proxy.log.slice(start).filter((e) => e.status === 304).length >= 3, 10_000, 'three 304 polls');
  const okDelay = client.status().nextPollInMs;
  assert.ok(okDelay >= 90 && okDelay <= 110, `poll delay ${okDelay}`);

  // Failures: backoff doubles (1 s, 2 s with random() = 1), Retry-After wins when longer.
  proxy.state.fault = { status: 503, retryAfter: 7 };
  const s1 = await client.refresh();
  assert.equal(s1.consecutiveFailures, 1);
  assert.equal(s1.nextPollInMs, 7000);
  proxy.state.fault = { status: 500 };
  const s2 = await client.refresh();
  assert.equal(s2.nextPollInMs, 2000);
  const s3 = await client.refresh();
  assert.equal(s3.nextPollInMs, 4000);
  assert.equal(client.ruleset !== null && s3.state, 'stale');
  proxy.state.fault = null;
  const s4 = await client.refresh();
  assert.equal(s4.state, 'ready');
  assert.ok(s4.nextPollInMs <= 110);
  client.close();
});

test('bootstrap serves before the first download; a bootstrap of another environment is refused later', async () => {
  const staging = compile(src).read('staging');
  const client = createClient({ url, pollIntervalMs: 0, bootstrap: staging });
  assert.equal(client.ruleset.environment, 'staging');
  assert.equal(client.status().state, 'ready');
  const st = await client.refresh(); // production bytes for a client locked to staging
  assert.equal(client.ruleset.environment, 'staging');
  assert.match(st.lastError, /environment/);
  client.close();

  const notReady = createClient({ url: 'http://127.0.0.1:9/none.efr', pollIntervalMs: 0 });
  assert.equal(notReady.boolValue('search-v2', { key: 'u' }, true), true);
  assert.equal(notReady.evaluate('search-v2', { key: 'u' }).reason.error_kind, 'CLIENT_NOT_READY');
  const st2 = await notReady.refresh();
  assert.equal(st2.state, 'loading');
  assert.ok(st2.lastError);
  notReady.close();
  assert.throws(() => Ruleset.fromBytes(staging.subarray(0, 100)), { name: 'DecodeError', kind: 'TRUNCATED' });
});

test('Node subscribes to the event stream (FetchEventSource) and gets a flip pushed', async () => {
  const client = createClient({ url, pollIntervalMs: 600_000 });
  const rs = await client.ready();
  await waitFor(() => client.status().streaming, 10_000, 'the event stream');
  const events = proxy.log.filter((e) => e.url === '/production/events');
  assert.ok(events.length >= 1, 'the client followed the Link header to /production/events');
  const polls = proxy.log.filter((e) => e.url.endsWith('/current.efr')).length;
  flipSearch(false);
  await waitFor(() => client.ruleset.version > rs.version, 30_000, 'the pushed flip');
  assert.equal(client.evaluate('search-v2', user()).reason.kind, 'OFF');
  // One download after the event, no timer polls (the interval is 10 minutes).
  assert.equal(proxy.log.filter((e) => e.url.endsWith('/current.efr')).length, polls + 1);
  client.close();
  assert.equal(client.status().streaming, false);
});

test('FetchEventSource parses events split across chunks and CRLF line ends', async () => {
  const chunks = [': keep-alive\r\n\r', '\nevent: rule', 'set\r\ndata: {"version":', '7}\r\n', '\r\nid: 9\ndata: a\ndata: b\n\n'];
  const fakeFetch = async () => new Response(new ReadableStream({
    start(c) { for (const ch of chunks) c.enqueue(new TextEncoder().encode(ch)); c.close(); },
  }), { headers: { 'Content-Type': 'text/event-stream' } });
  const es = new FetchEventSource('http://127.0.0.1:9/e', { fetch: fakeFetch });
  const got = [];
  es.addEventListener('ruleset', (e) => got.push(['ruleset', e.data]));
  es.addEventListener('message', (e) => got.push(['message', e.data, e.lastEventId]));
  await waitFor(() => got.length === 2, 5_000, 'two events');
  es.close();
  assert.deepEqual(got, [['ruleset', '{"version":7}'], ['message', 'a\nb', '9']]);
});

// --- Hostile origins: every stream and body below is bounded by the server too
// (bytes, count and time), so a client without the bounds fails instead of hanging.

const MiB = 1 << 20;
const sse = (res) => res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });

test('FetchEventSource closes a stream whose line never ends, and reconnects', async () => {
  const srv = await startRawServer((req, res, entry) => {
    sse(res);
    if (entry.n > 1) { res.write(': fine\n\n'); return; } // the reconnection stays open
    res.write('retry: 0\ndata: '); // retry: 0 so the reconnection takes minReconnectMs
    pump(res, Buffer.alloc(64 << 10, 'x'), 20 * MiB, entry);
  });
  const es = new FetchEventSource(`${srv.url}/e`, { minReconnectMs: 50 });
  const errors = [];
  es.addEventListener('error', (e) => errors.push(String(e.error?.message)));
  try {
    await waitFor(() => errors.length >= 1, 20_000, 'an error');
    assert.match(errors[0], /line longer than 65536/);
    await waitFor(() => srv.log[0].closedAt, 5_000, 'the connection closed');
    assert.equal(srv.log[0].aborted, true, 'the client closed the connection');
    assert.ok(srv.log[0].sent < 8 * MiB, `the server got to write ${srv.log[0].sent} bytes`);
    await waitFor(() => srv.log.length >= 2, 5_000, 'a reconnection');
  } finally {
    es.close();
    await srv.close();
  }
});

test('FetchEventSource closes a stream of data lines that never ends an event, and reconnects', async () => {
  const line = Buffer.from(`data: ${'y'.repeat(1000)}\n`);
  const srv = await startRawServer((req, res, entry) => {
    sse(res);
    if (entry.n > 1) { res.write(': fine\n\n'); return; }
    res.write('retry: 0\n');
    pump(res, Buffer.concat(Array(64).fill(line)), 20 * MiB, entry);
  });
  const es = new FetchEventSource(`${srv.url}/e`, { minReconnectMs: 50 });
  const errors = [];
  const events = [];
  es.addEventListener('error', (e) => errors.push(String(e.error?.message)));
  es.addEventListener('message', (e) => events.push(e.data.length));
  try {
    await waitFor(() => errors.length >= 1, 20_000, 'an error');
    assert.match(errors[0], /event longer than 65536/);
    assert.deepEqual(events, [], 'no partial event dispatched');
    await waitFor(() => srv.log[0].closedAt, 5_000, 'the connection closed');
    assert.equal(srv.log[0].aborted, true);
    assert.ok(srv.log[0].sent < 8 * MiB, `the server got to write ${srv.log[0].sent} bytes`);
    await waitFor(() => srv.log.length >= 2, 5_000, 'a reconnection');
  } finally {
    es.close();
    await srv.close();
  }
});

test('FetchEventSource: retry: 0 and an immediate close do not make a reconnect loop', async (t) => {
  const srv = await startRawServer((req, res) => { sse(res); res.end('retry: 0\n\n'); });
  const es = new FetchEventSource(`${srv.url}/e`);
  await new Promise((r) => setTimeout(r, 2_000));
  es.close();
  const n = srv.log.length;
  await srv.close();
  t.diagnostic(`${n} connections in 2 s`);
  assert.ok(n >= 2 && n <= 3, `${n} connections in 2 s (at least 1 s apart)`);
});

test('FetchEventSource: reconnection backoff doubles on repeated failures and resets after a stream stayed open', async () => {
  const srv = await startRawServer((req, res, entry) => {
    sse(res);
    if (entry.n === 5) { res.write('retry: 0\n\n'); setTimeout(() => res.end(), 400); return; }
    res.end('retry: 0\n\n');
  });
  const es = new FetchEventSource(`${srv.url}/e`, { minReconnectMs: 40, stableMs: 300, random: () => 1 });
  try {
    await waitFor(() => srv.log.length >= 6, 10_000, 'six connections');
  } finally {
    es.close();
    await srv.close();
  }
  const l = srv.log;
  const gap = (i) => l[i].at - l[i - 1].closedAt; // closed → next connection
  for (const [i, min] of [[1, 40], [2, 80], [3, 160], [4, 320]]) {
    assert.ok(gap(i) >= min - 5, `gap ${i}: ${gap(i)} ms, want ≥ ${min}`);
  }
  // Connection 5 stayed open 400 ms (> stableMs): the next delay starts over at 40 ms, not 640.
  assert.ok(gap(5) < 320, `gap after a stable stream: ${gap(5)} ms`);
});

/** A raw origin of one environment: current.efr (304 on its ETag) with a Link to /production/events. */
async function rawOrigin(bytes, { efr, events } = {}) {
  const srv = await startRawServer((req, res, entry) => {
    if (req.url === '/production/events') return events ? events(req, res, entry) : res.writeHead(404).end();
    const mode = srv.state.efr;
    const link = { Link: '</production/events>; rel="edgeflag-events"', ETag: '"good"' };
    if (!mode) {
      if (entry.ifNoneMatch === '"good"') return res.writeHead(304, link).end();
      return res.writeHead(200, { ...link, 'Content-Length': String(bytes.length) }).end(Buffer.from(bytes));
    }
    return mode(req, res, entry);
  });
  srv.state = { efr };
  srv.gets = () => srv.log.filter((e) => e.url === '/production/current.efr');
  return srv;
}

test('a Content-Length over the largest ruleset is refused without reading the body; the last good ruleset serves on', async () => {
  const bytes = compile(src).read('production');
  const srv = await rawOrigin(bytes);
  const client = createClient({ url: `${srv.url}/production/current.efr`, pollIntervalMs: 0, events: false });
  try {
    const rs = await client.ready();
    const declared = 64 * MiB + 192 + 1; // the default maximum is the format's: a 64 MiB body and its header
    srv.state.efr = (req, res, entry) => {
      res.writeHead(200, { 'Content-Length': String(declared) });
      pump(res, Buffer.alloc(1 * MiB), declared, entry);
    };
    const st = await client.refresh();
    assert.equal(client.ruleset, rs);
    assert.equal(st.state, 'stale');
    assert.match(st.lastError, new RegExp(`Content-Length ${declared} exceeds the largest ruleset \\(${64 * MiB + 192} bytes\\)`));
    const e = srv.gets().at(-1);
    await waitFor(() => e.closedAt, 5_000, 'the connection closed');
    assert.equal(e.aborted, true);
    assert.ok(e.sent < 16 * MiB, `the server got to write ${e.sent} bytes`);
    srv.state.efr = null;
    assert.equal((await client.refresh()).state, 'ready');
  } finally {
    client.close();
    await srv.close();
  }
});

test('a body without Content-Length, or compressed under a small one, stops being read at maxRulesetBytes', async () => {
  const bytes = compile(src).read('production');
  const srv = await rawOrigin(bytes);
  const client = createClient({ url: `${srv.url}/production/current.efr`, pollIntervalMs: 0, events: false, maxRulesetBytes: 1 * MiB });
  const zeros = gzipSync(Buffer.alloc(20 * MiB)); // ~20 KB on the wire, 20 MiB decoded
  try {
    const rs = await client.ready(); // a real ruleset fits
    const modes = {
      chunked: (req, res, entry) => { res.writeHead(200); pump(res, Buffer.alloc(64 << 10), 20 * MiB, entry); },
      gzip: (req, res, entry) => {
        res.writeHead(200, { 'Content-Encoding': 'gzip', 'Content-Length': String(zeros.length) });
        pump(res, zeros, zeros.length, entry);
      },
    };
    for (const [name, mode] of Object.entries(modes)) {
      srv.state.efr = mode;
      const st = await client.refresh();
      assert.equal(client.ruleset, rs, name);
      assert.equal(st.state, 'stale', name);
      assert.match(st.lastError, /body exceeds the largest ruleset \(1048576 bytes\)/, name);
      const e = srv.gets().at(-1);
      if (name === 'chunked') {
        await waitFor(() => e.closedAt, 5_000, 'the connection closed');
        assert.equal(e.aborted, true, name);
        assert.ok(e.sent < 16 * MiB, `${name}: the server got to write ${e.sent} bytes`);
      }
      srv.state.efr = null;
      assert.equal((await client.refresh()).state, 'ready', name);
    }
  } finally {
    client.close();
    await srv.close();
  }
});

test('an announcement every millisecond does not make a download per announcement; a lone one still fetches at once', async (t) => {
  const bytes = compile(src).read('production');
  const rs = Ruleset.fromBytes(bytes);
  let v = rs.version;
  let flood = null;
  let lone = null;
  const announce = (res) => res.write(`event: ruleset\ndata: {"version":${++v},"epoch":${rs.epoch}}\n\n`);
  const srv = await rawOrigin(bytes, {
    events: (req, res, entry) => {
      sse(res);
      if (entry.n > 3 || flood) { res.write(': quiet\n\n'); return; } // later connections: silent
      flood = { start: Date.now(), end: null };
      const iv = setInterval(() => announce(res), 1);
      res.on('close', () => clearInterval(iv));
      setTimeout(() => {
        clearInterval(iv);
        flood.end = Date.now();
        // Quiet for 500 ms, then one announcement (a kill switch).
        setTimeout(() => { lone = Date.now(); announce(res); }, 500);
      }, 2_000);
    },
  });
  const client = createClient({ url: `${srv.url}/production/current.efr`, pollIntervalMs: 600_000 });
  try {
    await client.ready();
    await waitFor(() => lone && Date.now() - lone > 300, 10_000, 'the flood and the lone announcement');
    const during = srv.gets().filter((e) => e.at >= flood.start && e.at <= flood.end + 20).length;
    const rate = during / ((flood.end - flood.start) / 1000);
    t.diagnostic(`${during} ruleset GETs during a ${flood.end - flood.start} ms flood (${rate.toFixed(1)}/s)`);
    assert.ok(during >= 2, `${during} GETs: the announcements were acted on`);
    assert.ok(rate <= 12, `${during} ruleset GETs in ${flood.end - flood.start} ms`);
    const after = srv.gets().filter((e) => e.at >= lone);
    assert.equal(after.length, 1, 'one GET for the lone announcement');
    t.diagnostic(`the lone announcement fetched after ${after[0].at - lone} ms`);
    assert.ok(after[0].at - lone < 100, `the lone announcement fetched after ${after[0].at - lone} ms`);
  } finally {
    client.close();
    await srv.close();
  }
});
