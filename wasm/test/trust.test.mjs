// Signed rulesets, expiry and the client's network bounds, against raw loopback
// origins serving fixtures signed by `wasm/examples/sign_fixture.rs` (the WASM
// build cannot sign): keys given → only rulesets signed by them are installed;
// expired downloads refused, an expired bootstrap taken and reported stale; a
// download timeout; an event-stream idle timeout; the Link header's origin rule.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { createClient, Ruleset, TrustedKeys, KeyError, FetchEventSource, redirectRefusal } from '../npm/node.js';
import { compile, sign, publicKey, waitFor, ROOT } from './helpers.mjs';
import { startRawServer } from './proxy.mjs';

const EPOCH = 1_700_000_000_000;
const HOUR = 3_600_000;
let base; // a compiled production ruleset (epoch 0, unsigned)
let K1, K2, K3; // public keys of the test keys of seeds 1, 2, 3
let id1, id2;

before(() => {
  base = compile(path.join(ROOT, 'examples')).read('production');
  [K1, K2, K3] = [1, 2, 3].map(publicKey);
  [id1, id2] = TrustedKeys.parse([K1, K2]).ids;
});

const signed = (version, seed = 1, extra = {}) =>
  sign(base, { seed, version, epoch: EPOCH, expiresAt: Date.now() + HOUR, ...extra });

/** An origin whose current.efr is `srv.state.body` (a function of the request number, or bytes). */
async function origin(body, { link, events } = {}) {
  const srv = await startRawServer((req, res, entry) => {
    if (req.url === '/production/events' && events) return events(req, res, entry);
    if (req.url === '/moved.efr') return res.writeHead(301, { Location: '/production/current.efr' }).end();
    if (req.url !== '/production/current.efr') return res.writeHead(404).end();
    const h = srv.state.handler;
    if (h) return h(req, res, entry);
    const bytes = srv.state.body;
    const headers = { 'Content-Length': String(bytes.length), ETag: `"${entry.n}"` };
    if (link) headers.Link = link;
    res.writeHead(200, headers).end(Buffer.from(bytes));
  });
  srv.state = { body, handler: null };
  srv.current = `${srv.url}/production/current.efr`;
  return srv;
}

/** Runs `f` with console.warn captured; returns [result, warnings]. */
async function capturingWarnings(f) {
  const warnings = [];
  const warn = console.warn;
  console.warn = (...a) => warnings.push(a.join(' '));
  try {
    return [await f(), warnings];
  } finally {
    console.warn = warn;
  }
}

test('TrustedKeys: an array or one string per line; bad keys throw KeyError with a kind', () => {
  const a = TrustedKeys.parse([K1, K2]);
  const b = TrustedKeys.parse(`# production keys\n${K1}\n\n${K2}\n`);
  assert.deepEqual(a.ids, b.ids);
  assert.equal(a.ids.length, 2);
  assert.match(a.ids[0], /^[0-9a-f]{16}$/);
  for (const [text, kind] of [['', 'KEY_EMPTY'], ['ssh-ed25519 AAAA', 'KEY_PREFIX'], [`${K1}\n${K1}`, 'KEY_DUPLICATE']]) {
    assert.throws(() => TrustedKeys.parse(text), (e) => e instanceof KeyError && e.kind === kind, kind);
  }
  assert.throws(() => createClient({ url: 'http://127.0.0.1:9/x.efr', publicKeys: ['nope'] }), KeyError);
});

test('Ruleset: signedBy, expiresAt, isExpired; checkReplaces with trustedKeys and now', () => {
  const keys = TrustedKeys.parse(K1);
  const rs = Ruleset.fromBytes(signed(3, 1, { expiresAt: 2_000_000_000_000 }));
  assert.equal(rs.signedBy, id1);
  assert.equal(rs.expiresAt, 2_000_000_000_000);
  assert.equal(rs.isExpired(1_999_999_999_999), false);
  assert.equal(rs.isExpired(2_000_000_000_000), true);
  const unsigned = Ruleset.fromBytes(base);
  assert.equal(unsigned.signedBy, null);
  assert.equal(unsigned.expiresAt, null);
  assert.equal(unsigned.isExpired(), false);

  assert.equal(rs.checkReplaces(null, 'production', { trustedKeys: keys, now: Date.now() }), true);
  const kind = (f) => { try { f(); return 'accepted'; } catch (e) { return e.kind; } };
  assert.equal(kind(() => unsigned.checkReplaces(null, null, { trustedKeys: keys })), 'UNSIGNED');
  assert.equal(kind(() => Ruleset.fromBytes(signed(3, 2)).checkReplaces(null, null, { trustedKeys: keys })), 'UNKNOWN_KEY');
  assert.equal(kind(() => Ruleset.fromBytes(signed(3, 1, { tamper: true })).checkReplaces(null, null, { trustedKeys: keys })), 'BAD_SIGNATURE');
  assert.equal(kind(() => rs.checkReplaces(null, null, { trustedKeys: keys, now: 2_000_000_000_000 })), 'EXPIRED');
  assert.equal(kind(() => rs.checkReplaces(null, null, { trustedKeys: keys })), 'accepted'); // a local source
  // Without keys: anything verified by its checksum, signed or not.
  assert.equal(kind(() => unsigned.checkReplaces(null)), 'accepted');
  assert.throws(() => rs.checkReplaces(null, null, { trustedKeys: [K1] }), TypeError);
});

test('with keys: signed is accepted; unsigned, unknown-key and tampered are refused and the last good one serves on', async () => {
  const srv = await origin(signed(1));
  const client = createClient({ url: srv.current, pollIntervalMs: 0, events: false, publicKeys: [K1] });
  try {
    const rs1 = await client.ready();
    let st = client.status();
    assert.equal(st.verified, true);
    assert.equal(st.signedBy, id1);
    assert.equal(rs1.version, 1);
    for (const [body, kind] of [[base, 'UNSIGNED'], [signed(2, 2), 'UNKNOWN_KEY'], [signed(2, 1, { tamper: true }), 'BAD_SIGNATURE']]) {
      srv.state.body = body;
      st = await client.refresh();
      assert.equal(client.ruleset, rs1, kind);
      assert.equal(st.state, 'stale', kind);
      assert.equal(st.lastErrorKind, kind);
      assert.ok(st.lastError.startsWith(`${kind}: `), st.lastError);
      assert.equal(st.version, 1);
    }
    srv.state.body = signed(2);
    st = await client.refresh();
    assert.equal(st.state, 'ready');
    assert.equal(st.lastErrorKind, null);
    assert.equal(client.ruleset.version, 2);
  } finally {
    client.close();
    await srv.close();
  }
});

test('with keys, an unsigned first download is refused: nothing is served', async () => {
  const srv = await origin(base);
  const client = createClient({ url: srv.current, pollIntervalMs: 0, events: false, publicKeys: K1 });
  try {
    const st = await client.refresh();
    assert.equal(client.ruleset, null);
    assert.equal(st.state, 'loading');
    assert.equal(st.lastErrorKind, 'UNSIGNED');
  } finally {
    client.close();
    await srv.close();
  }
});

test('without keys: unsigned is accepted, and the status says it is not verified', async () => {
  const srv = await origin(base);
  const client = createClient({ url: srv.current, pollIntervalMs: 0, events: false });
  try {
    await client.ready();
    const st = client.status();
    assert.equal(st.verified, false);
    assert.equal(st.signedBy, null);
    assert.equal(st.state, 'ready');
    // A signed one is taken too, but not reported as verified.
    srv.state.body = signed(1);
    assert.equal((await client.refresh()).signedBy, null);
    assert.equal(client.ruleset.signedBy, id1);
    assert.equal(client.status().verified, false);
  } finally {
    client.close();
    await srv.close();
  }
});

test('rotation: with two keys trusted, a ruleset by the new key replaces one by the old', async () => {
  const srv = await origin(signed(1, 1));
  const client = createClient({ url: srv.current, pollIntervalMs: 0, events: false, publicKeys: `${K1}\n${K2}` });
  try {
    await client.ready();
    assert.equal(client.status().signedBy, id1);
    srv.state.body = signed(2, 2);
    const st = await client.refresh();
    assert.equal(st.version, 2);
    assert.equal(st.signedBy, id2);
    // A third key is still a stranger.
    srv.state.body = signed(3, 3);
    assert.equal((await client.refresh()).lastErrorKind, 'UNKNOWN_KEY');
    assert.equal(client.ruleset.version, 2);
  } finally {
    client.close();
    await srv.close();
  }
  assert.ok(K3);
});

test('an expired ruleset from the network is refused; an expired bootstrap is taken and reported stale', async () => {
  const expired = signed(5, 1, { expiresAt: Date.now() - 1000 });
  const srv = await origin(expired);
  const [, warnings] = await capturingWarnings(async () => {
    const fresh = createClient({ url: srv.current, pollIntervalMs: 0, events: false, publicKeys: [K1] });
    const st = await fresh.refresh();
    fresh.close();
    assert.equal(st.lastErrorKind, 'EXPIRED');
    assert.equal(fresh.ruleset, null);

    const boot = createClient({ url: srv.current, pollIntervalMs: 0, events: false, publicKeys: [K1], bootstrap: expired });
    try {
      assert.equal(boot.ruleset.version, 5);
      let s = boot.status();
      assert.equal(s.stale, true);
      assert.equal(s.expiresAt, boot.ruleset.expiresAt);
      assert.equal(s.verified, true);
      // The same (expired) ruleset from the network is refused; the bootstrap serves on.
      s = await boot.refresh();
      assert.equal(s.lastErrorKind, 'EXPIRED');
      assert.equal(boot.ruleset.version, 5);
      assert.equal(boot.boolValue('new-checkout', { key: 'u', email: 'a@edgeflag.dev' }, false), true);
      // A fresh one replaces it, and the client is no longer stale.
      srv.state.body = signed(6);
      s = await boot.refresh();
      assert.equal(s.version, 6);
      assert.equal(s.stale, false);
      boot.status();
    } finally {
      boot.close();
    }
  });
  await srv.close();
  assert.equal(warnings.filter((w) => /expired/.test(w)).length, 1, warnings.join('\n'));
});

test('a held ruleset that expires keeps serving, and the client reports it stale once (status, onStatus, console.warn)', async () => {
  const soon = Date.now() + 1500;
  const srv = await origin(signed(1, 1, { expiresAt: soon }));
  const [, warnings] = await capturingWarnings(async () => {
    const client = createClient({ url: srv.current, pollIntervalMs: 600_000, events: false, publicKeys: [K1] });
    const events = [];
    client.onStatus((s) => { if (s.stale) events.push(s); });
    try {
      await client.ready();
      await waitFor(() => client.ruleset && client.status().expiresAt === soon, 5_000, 'the ruleset');
      assert.equal(client.status().stale, false);
      await waitFor(() => events.length > 0, 5_000, 'a stale status event');
      assert.ok(Date.now() >= soon);
      assert.equal(events[0].stale, true);
      assert.equal(events[0].expiresAt, soon);
      assert.equal(client.status().stale, true);
      assert.equal(client.ruleset.version, 1);
      assert.equal(client.boolValue('new-checkout', { key: 'u', email: 'a@edgeflag.dev' }, false), true);
      client.status();
      client.status();
    } finally {
      client.close();
    }
  });
  await srv.close();
  assert.equal(warnings.length, 1, warnings.join('\n'));
  assert.match(warnings[0], /ruleset v1 .* expired at .* still served/);
});

test('a download that stalls (no headers, or a body that stops) is aborted after fetchTimeoutMs', async () => {
  const srv = await origin(base);
  const client = createClient({ url: srv.current, pollIntervalMs: 0, events: false, fetchTimeoutMs: 300 });
  try {
    const rs = await client.ready();
    const stalls = {
      headers: () => { /* never answers */ },
      body: (req, res) => { res.writeHead(200, { 'Content-Length': String(base.length) }); res.write(Buffer.from(base.subarray(0, 100))); },
    };
    for (const [name, handler] of Object.entries(stalls)) {
      srv.state.handler = handler;
      const t0 = Date.now();
      const st = await client.refresh();
      const took = Date.now() - t0;
      assert.ok(took >= 290 && took < 5_000, `${name}: ${took} ms`);
      assert.equal(st.lastErrorKind, 'TIMEOUT', name);
      assert.match(st.lastError, /no complete response within 300 ms/);
      assert.equal(client.ruleset, rs);
      srv.state.handler = null;
      assert.equal((await client.refresh()).state, 'ready');
    }
  } finally {
    client.close();
    await srv.close();
  }
});

test('FetchEventSource drops a stream silent for idleTimeoutMs and reconnects; keep-alive comments keep it open', async () => {
  let keepAlive = false;
  const srv = await startRawServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    res.write(': hello\n\n');
    if (keepAlive) {
      const iv = setInterval(() => res.write(': keep-alive\n\n'), 100);
      res.on('close', () => clearInterval(iv));
    }
    // Otherwise silent, the connection open: a half-open stream.
  });
  const errors = [];
  let es = new FetchEventSource(`${srv.url}/production/events`, { idleTimeoutMs: 300, minReconnectMs: 50, maxReconnectMs: 100, random: () => 0 });
  es.addEventListener('error', (e) => errors.push(e.error));
  try {
    await waitFor(() => srv.log.length >= 3, 5_000, 'reconnections after idle streams');
    assert.match(String(errors[0]?.message), /idle for 300 ms/);
    const gap = srv.log[1].at - srv.log[0].at;
    assert.ok(gap >= 300, `reconnected after ${gap} ms`);
  } finally {
    es.close();
  }
  keepAlive = true;
  const n = srv.log.length;
  es = new FetchEventSource(`${srv.url}/production/events`, { idleTimeoutMs: 300, minReconnectMs: 50 });
  try {
    await new Promise((r) => setTimeout(r, 1_000));
    assert.equal(srv.log.length - n, 1, 'one connection, kept open by comments');
  } finally {
    es.close();
    await srv.close();
  }
});

test('the client passes eventIdleTimeoutMs to its event stream', async () => {
  const srv = await origin(base, {
    link: '</production/events>; rel="edgeflag-events"',
    events: (req, res) => { res.writeHead(200, { 'Content-Type': 'text/event-stream' }); res.write(': hi\n\n'); },
  });
  const client = createClient({ url: srv.current, pollIntervalMs: 0, eventIdleTimeoutMs: 200 });
  try {
    await client.ready();
    const streams = () => srv.log.filter((e) => e.url === '/production/events');
    await waitFor(() => streams().length >= 2, 5_000, 'a reconnection after 200 ms of silence');
    const gap = streams()[1].at - streams()[0].at;
    assert.ok(gap >= 200, `reconnected after ${gap} ms`);
  } finally {
    client.close();
    await srv.close();
  }
});

test('a Link to another origin is not followed by default, is with redirects: "any"; never https to http', async () => {
  const other = await startRawServer((req, res) => { res.writeHead(200, { 'Content-Type': 'text/event-stream' }); res.write(': hi\n\n'); });
  const srv = await origin(base, { link: `<${other.url}/production/events>; rel="edgeflag-events"` });
  try {
    const [, warnings] = await capturingWarnings(async () => {
      const client = createClient({ url: srv.current, pollIntervalMs: 0 });
      await client.ready();
      await client.refresh();
      await new Promise((r) => setTimeout(r, 200));
      const st = client.status();
      client.close();
      assert.equal(other.log.length, 0, 'no request to the other origin');
      assert.equal(st.streaming, false);
      assert.match(st.eventsRefused, /another origin than http:\/\/127\.0\.0\.1:\d+ \(redirects: "same-origin"; "any" allows it\)/);
    });
    assert.equal(warnings.length, 1, warnings.join('\n'));

    const client = createClient({ url: srv.current, pollIntervalMs: 0, redirects: 'any' });
    try {
      await client.ready();
      await waitFor(() => client.status().streaming, 5_000, 'the stream on the other origin');
      assert.equal(other.log.length, 1);
      assert.equal(client.status().eventsRefused, null);
    } finally {
      client.close();
    }
  } finally {
    await srv.close();
    await other.close();
  }
  const from = 'https://flags.example/production/current.efr';
  for (const policy of ['same-origin', 'any', 'none']) {
    assert.match(redirectRefusal(policy, from, 'http://flags.example/production/events', { isRedirect: false }), /https to http is never followed/);
  }
  assert.equal(redirectRefusal('same-origin', from, 'https://flags.example:443/e'), null);
  assert.match(redirectRefusal('same-origin', 'http://h/x', 'https://h/x'), /another origin/);
  assert.match(redirectRefusal('none', from, 'https://flags.example/moved'), /follows no redirects/);
  assert.equal(redirectRefusal('none', from, 'https://flags.example/events', { isRedirect: false }), null);
  assert.throws(() => createClient({ url: from, redirects: 'sometimes' }), TypeError);
});

test('a redirect of the ruleset to another origin is refused (REDIRECT); redirects: "any" follows it', async () => {
  const target = await origin(base);
  const srv = await startRawServer((req, res) => res.writeHead(302, { Location: target.current }).end());
  try {
    const client = createClient({ url: `${srv.url}/production/current.efr`, pollIntervalMs: 0, events: false });
    const st = await client.refresh();
    client.close();
    assert.equal(st.lastErrorKind, 'REDIRECT');
    assert.match(st.lastError, /redirect to .* refused: .* another origin/);
    assert.equal(client.ruleset, null);

    const any = createClient({ url: `${srv.url}/production/current.efr`, pollIntervalMs: 0, events: false, redirects: 'any' });
    await any.ready();
    any.close();

    // Not even within the origin with redirects: "none".
    const none = createClient({ url: `${target.url}/moved.efr`, pollIntervalMs: 0, events: false, redirects: 'none' });
    const s = await none.refresh();
    none.close();
    assert.equal(none.ruleset, null);
    assert.equal(s.lastErrorKind, 'REDIRECT');
    assert.match(s.lastError, /redirect to .*\/production\/current\.efr refused: the client follows no redirects/);
    const same = createClient({ url: `${target.url}/moved.efr`, pollIntervalMs: 0, events: false });
    await same.ready();
    same.close();
  } finally {
    await srv.close();
    await target.close();
  }
});
