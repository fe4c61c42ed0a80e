// Client rulesets in the npm package: what browsers load instead of the server
// ruleset (`<env>.client/current.efr`: client-side flags only, user ids and `in`
// values hashed). A test project with client-side flags is published with the
// real CLI and served with `edgeflag serve`:
// - a client taking only client rulesets (`rulesets: 'client'`, the browser
//   default) gets the client ruleset, and its answers for targeted users are
//   right; pointed at the server ruleset it refuses it (SERVER_RULESET) and
//   serves nothing; `rulesets: 'any'` (the Node default) takes it;
// - differential: for contexts made of the project's own target keys, segment
//   members and `in` values, every client-side flag's detail from the WASM client
//   ruleset equals the WASM server ruleset's, and the native CLI's on the same
//   client ruleset byte for byte.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createClient, Ruleset, Context } from '../npm/node.js';
import { createClient as createClientOfClientJs } from '../npm/client.js';
import {
  CLIENT_PROJECT_SECRETS, clientProjectSource, compile, edgeflag, rng, startServe, tempDir,
} from './helpers.mjs';
import { startProxy } from './proxy.mjs';

let src, pub, origin, proxy;

before(async () => {
  src = clientProjectSource();
  pub = tempDir('edgeflag-client-pub-');
  const out = edgeflag(['publish', src, '--to', pub, '--actor', 'node-test']).stdout;
  assert.match(out, /published production\.client v1/);
  assert.match(out, /published production v1/);
  origin = await startServe({ dir: pub });
  proxy = await startProxy(origin.url);
});

after(async () => {
  await proxy?.close();
  await origin?.close();
});

const clientUrl = () => `${origin.url}/production.client/current.efr`;
const serverUrl = () => `${origin.url}/production/current.efr`;

/** Resolves to 'ready' when `client.ready()` resolves within `ms`, else 'pending'. */
const readiness = (client, ms = 300) => Promise.race([
  client.ready().then(() => 'ready'),
  new Promise((r) => setTimeout(() => r('pending'), ms)),
]);

test('a client-only client loads production.client and answers for targeted users (hashed ids) like the server ruleset', async () => {
  const bytes = Buffer.from(await (await fetch(clientUrl())).arrayBuffer());
  for (const secret of CLIENT_PROJECT_SECRETS) {
    assert.equal(bytes.includes(secret), false, `the client ruleset lists ${secret} in clear`);
  }
  const client = createClient({ url: clientUrl(), pollIntervalMs: 0, events: false, rulesets: 'client' });
  try {
    const rs = await client.ready();
    const st = client.status();
    assert.equal(st.state, 'ready');
    assert.equal(st.lastError, null);
    assert.equal(rs.isClient, true);
    assert.equal(rs.environment, 'production.client');
    assert.deepEqual(rs.flagKeys(), ['checkout-v2', 'banner']);
    assert.equal(rs.size, 2, 'size counts the flags callers see, not the hidden prerequisite');

    const server = Ruleset.fromBytes(new Uint8Array(await (await fetch(serverUrl())).arrayBuffer()));
    assert.equal(server.isClient, false);
    assert.ok(server.flagKeys().includes('server-only'));

    const cases = [
      // [context, expected checkout-v2 value, reason]
      [{ key: 'alice@example.com', country: 'DE' }, true, { kind: 'TARGET_MATCH' }],
      [{ key: 'bob@example.com', country: 'US' }, true, { kind: 'TARGET_MATCH' }],
      [{ key: 'eve@example.com', country: 'DE', age: 30 }, false, { kind: 'TARGET_MATCH' }],
      [{ key: 'dave@example.com', country: 'US' }, true, { kind: 'RULE_MATCH', rule_index: 0, rule_id: 'beta-users' }],
      [{ key: 'carol@corp.example', country: 'US' }, true, { kind: 'RULE_MATCH', rule_index: 0, rule_id: 'beta-users' }],
      [{ key: 'u-9', country: 'US', plan: 'enterprise' }, true, { kind: 'RULE_MATCH', rule_index: 0, rule_id: 'beta-users' }],
      [{ key: 'u-9', country: 'US', team: 'search' }, true, { kind: 'RULE_MATCH', rule_index: 0, rule_id: 'beta-users' }],
      [{ key: 'mallory@corp.example', country: 'US', team: 'search' }, false, { kind: 'FALLTHROUGH' }],
      [{ key: 'u-9', country: 'US', path: '/admin/users' }, false, { kind: 'RULE_MATCH', rule_index: 2, rule_id: null }],
      [{ key: 'frank@example.com', country: 'DE' }, false, { kind: 'PREREQUISITE_FAILED', prerequisite: 'payments-ready' }],
      [{ key: 'alice@example.com', country: 'XX' }, false, { kind: 'PREREQUISITE_FAILED', prerequisite: 'payments-ready' }],
      [{ key: 'u-9', country: 'US' }, false, { kind: 'FALLTHROUGH' }],
    ];
    for (const [attrs, value, reason] of cases) {
      const ctx = new Context(attrs);
      const detail = client.evaluate('checkout-v2', ctx);
      assert.equal(detail.value, value, JSON.stringify(attrs));
      assert.deepEqual(detail.reason, reason, JSON.stringify(attrs));
      assert.equal(client.boolValue('checkout-v2', ctx, !value), value, JSON.stringify(attrs));
      assert.deepEqual(detail, server.evaluate('checkout-v2', ctx), JSON.stringify(attrs));
      ctx.free();
    }
    // Only client-side flags resolve: the prerequisite it carries stays hidden,
    // the server-only flag is not there.
    const alice = { key: 'alice@example.com', country: 'DE' };
    for (const key of ['payments-ready', 'server-only']) {
      assert.deepEqual(client.evaluate(key, alice).reason, { kind: 'ERROR', error_kind: 'FLAG_NOT_FOUND' }, key);
      assert.equal(client.boolValue(key, { key: 'heidi@example.com' }, false), false, key);
    }
    assert.deepEqual(Object.keys(client.allFlags(alice)), ['checkout-v2', 'banner']);
    // banner is off in production: its off variation, as on the server.
    assert.deepEqual(client.evaluate('banner', { key: 'g', email: 'grace@example.com' }),
      server.evaluate('banner', { key: 'g', email: 'grace@example.com' }));
    assert.equal(client.evaluate('banner', { key: 'g' }).reason.kind, 'OFF');
  } finally {
    client.close();
  }
});

test('a client-only client pointed at the server ruleset refuses it (SERVER_RULESET) and serves nothing', async () => {
  const client = createClient({ url: serverUrl(), pollIntervalMs: 0, events: false, rulesets: 'client' });
  try {
    const st = await client.refresh();
    assert.equal(st.state, 'loading');
    assert.equal(st.lastErrorKind, 'SERVER_RULESET');
    assert.equal(st.lastError,
      `SERVER_RULESET: ${serverUrl()} is a server ruleset (it lists user ids and server-only flags); ` +
      "browsers load production.client/current.efr, published beside it; pass rulesets: 'any' to allow");
    assert.equal(st.version, null);
    // The check at creation and this one (refresh() during a check checks again).
    const failures = st.consecutiveFailures;
    assert.ok(failures >= 1, `consecutiveFailures ${failures}`);
    assert.equal(client.ruleset, null);
    assert.equal(await readiness(client), 'pending');
    assert.equal(client.boolValue('checkout-v2', { key: 'alice@example.com', country: 'DE' }, false), false);
    assert.deepEqual(client.evaluate('server-only', { key: 'heidi@example.com' }).reason,
      { kind: 'ERROR', error_kind: 'CLIENT_NOT_READY' });
    assert.deepEqual(client.allFlags({ key: 'heidi@example.com' }), {});
    // Refused again on the next check (its ETag was not remembered).
    assert.equal((await client.refresh()).consecutiveFailures, failures + 1);
  } finally {
    client.close();
  }
});

test("rulesets: 'any' (the Node entry's default) takes the server ruleset; client.js's own default is 'client'", async () => {
  for (const options of [{ rulesets: 'any' }, {}]) {
    const client = createClient({ url: serverUrl(), pollIntervalMs: 0, events: false, ...options });
    try {
      const rs = await client.ready();
      assert.equal(rs.isClient, false, JSON.stringify(options));
      assert.equal(rs.environment, 'production');
      assert.equal(client.status().lastError, null);
      assert.equal(client.boolValue('server-only', { key: 'heidi@example.com' }, false), true);
    } finally {
      client.close();
    }
  }
  // What the browser entry exports: client.js's createClient, 'client' unless told.
  const browserLike = createClientOfClientJs({ url: serverUrl(), pollIntervalMs: 0, events: false });
  try {
    assert.equal((await browserLike.refresh()).lastErrorKind, 'SERVER_RULESET');
    assert.equal(browserLike.ruleset, null);
  } finally {
    browserLike.close();
  }
});

test('a held client ruleset keeps serving when the origin serves a server ruleset in its place', async () => {
  const serverBytes = new Uint8Array(readFileSync(path.join(pub, 'production', 'current.efr')));
  const url = `${proxy.url}/production.client/current.efr`;
  const client = createClient({ url, pollIntervalMs: 0, events: false, rulesets: 'client' });
  try {
    const rs = await client.ready();
    proxy.state.fault = { body: serverBytes };
    const st = await client.refresh();
    proxy.state.fault = null;
    assert.equal(client.ruleset, rs);
    assert.equal(st.state, 'stale');
    assert.equal(st.lastErrorKind, 'SERVER_RULESET');
    assert.match(st.lastError, new RegExp(`^SERVER_RULESET: ${url.replace(/[.]/g, '\\.')} is a server ruleset`));
    assert.equal(client.boolValue('checkout-v2', { key: 'alice@example.com', country: 'DE' }, false), true);
    const ok = await client.refresh();
    assert.equal(ok.state, 'ready');
    assert.equal(ok.lastErrorKind, null);
  } finally {
    proxy.state.fault = null;
    client.close();
  }
});

test('a server ruleset as bootstrap is refused like a download; the client ruleset then serves', async () => {
  const serverBytes = new Uint8Array(readFileSync(path.join(pub, 'production', 'current.efr')));
  const client = createClient({ url: clientUrl(), pollIntervalMs: 0, events: false, rulesets: 'client', bootstrap: serverBytes });
  try {
    // Before any download: nothing served, the refusal recorded.
    let st = client.status();
    assert.equal(client.ruleset, null);
    assert.equal(st.state, 'loading');
    assert.equal(st.lastErrorKind, 'SERVER_RULESET');
    assert.match(st.lastError, /^SERVER_RULESET: the bootstrap is a server ruleset .*production\.client\/current\.efr/);
    const rs = await client.ready();
    st = client.status();
    assert.equal(rs.isClient, true);
    assert.equal(st.state, 'ready');
    assert.equal(st.lastError, null);
  } finally {
    client.close();
  }
  // A client ruleset as bootstrap is taken at once.
  const clientBytes = new Uint8Array(readFileSync(path.join(pub, 'production.client', 'current.efr')));
  const boot = createClient({ url: 'http://127.0.0.1:9/none.efr', pollIntervalMs: 0, events: false, rulesets: 'client', bootstrap: clientBytes });
  assert.equal(boot.status().state, 'ready');
  assert.equal(boot.ruleset.isClient, true);
  boot.close();
});

test('rulesets is validated: anything but client or any throws TypeError', () => {
  for (const rulesets of ['server', 'Client', '', null, 1, true]) {
    assert.throws(() => createClient({ url: clientUrl(), pollIntervalMs: 0, rulesets }), TypeError, String(rulesets));
    assert.throws(() => createClientOfClientJs({ url: clientUrl(), pollIntervalMs: 0, rulesets }), TypeError, String(rulesets));
  }
  assert.throws(() => createClient({ url: clientUrl(), pollIntervalMs: 0, rulesets: 'server' }), /rulesets must be one of client, any/);
});

// The project's own target keys, segment members and `in` values, so that hashed
// lookups are exercised where they match, plus values near them that must not.
const KEYS = ['alice@example.com', 'bob@example.com', 'eve@example.com', 'carol@corp.example', 'mallory@corp.example',
  'dave@example.com', 'frank@example.com', 'secret-agent@example.com', 'heidi@example.com', 'grace@example.com',
  'Alice@example.com', 'alice@example.com ', 'u-1', 'u-2', 'u-3', ''];
const VALUES = {
  country: ['DE', 'FR', '42', 42, 'US', 'XX', 'de', ['DE', 'US'], ['XX']],
  age: [17, 18, 30, 40, '18'],
  team: ['payments', 'search', 'ads', ['ads', 'search']],
  plan: ['enterprise', 'free', 'Enterprise'],
  path: ['/admin/users', '/admin', '/home', '/adm'],
  email: ['grace@example.com', 'x@corp.example', 'alice@example.com', 'grace@example.co'],
  tags: [['vip'], ['new'], ['new', 'vip'], 'vip', []],
};

function contexts(seed, n) {
  const r = rng(seed);
  const pick = (xs) => xs[Math.floor(r() * xs.length)];
  const out = [];
  // Every key with every single attribute value, then seeded random combinations.
  for (const key of KEYS) {
    out.push({ key });
    for (const [attr, values] of Object.entries(VALUES)) {
      for (const v of values) out.push({ key, country: attr === 'country' ? v : 'DE', [attr]: v });
    }
  }
  for (let i = 0; i < n; i++) {
    const ctx = { key: pick(KEYS) };
    for (const [attr, values] of Object.entries(VALUES)) if (r() < 0.6) ctx[attr] = pick(values);
    out.push(ctx);
  }
  return out;
}

test('differential: every client-side flag answers from the WASM client ruleset as from the WASM server ruleset (and as the native CLI on it)', (t) => {
  const out = compile(src);
  const all = new Set();
  for (const [i, env] of ['staging', 'production'].entries()) {
    const server = Ruleset.fromBytes(out.read(env));
    const client = Ruleset.fromBytes(out.read(`${env}.client`));
    assert.equal(server.isClient, false);
    assert.equal(client.isClient, true);
    assert.equal(client.environment, `${env}.client`);
    const keys = client.flagKeys();
    assert.deepEqual(keys, ['checkout-v2', 'banner']);
    assert.deepEqual(server.flagKeys().filter((k) => keys.includes(k)), keys, 'same flags, same order');
    assert.equal(client.size, keys.length);

    const lines = contexts(20261202 + i, 3000);
    const kinds = new Map();
    for (const attrs of lines) {
      const where = `${env}: ${JSON.stringify(attrs)}`;
      const ctx = new Context(attrs);
      for (const key of keys) {
        const text = client.evaluateJSON(key, ctx);
        assert.equal(text, server.evaluateJSON(key, ctx), `${where} ${key}`);
        const kind = JSON.parse(text).reason.kind;
        kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
      }
      assert.equal(client.boolValue('checkout-v2', ctx, null), server.boolValue('checkout-v2', ctx, null), where);
      assert.equal(client.stringValue('banner', ctx, null), server.stringValue('banner', ctx, null), where);
      const serverAll = server.allFlags(ctx);
      assert.deepEqual(client.allFlags(ctx), Object.fromEntries(keys.map((k) => [k, serverAll[k]])), where);
      ctx.free();
    }
    t.diagnostic(`${env}: ${lines.length} contexts × ${keys.length} flags; ${[...kinds].map(([k, n]) => `${k} ${n}`).join(', ')}`);
    // Hits, not only misses: the test fails if hashed lookups never match.
    assert.ok((kinds.get('TARGET_MATCH') ?? 0) > 0, `${env}: no TARGET_MATCH`);
    assert.ok((kinds.get('RULE_MATCH') ?? 0) > 0, `${env}: no RULE_MATCH`);
    for (const k of kinds.keys()) all.add(`${env}:${k}`);

    // The native evaluator on the same client ruleset, byte for byte.
    const dir = tempDir('edgeflag-client-diff-');
    const file = path.join(dir, 'contexts.jsonl');
    writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    const native = edgeflag(['eval', '--ruleset', path.join(out.dir, `${env}.client.efr`), '--contexts', file])
      .stdout.split('\n').filter(Boolean);
    assert.equal(native.length, lines.length);
    for (const [j, attrs] of lines.entries()) {
      assert.equal(client.allFlagsJSON(attrs), native[j], `${env}.client native vs WASM: ${JSON.stringify(attrs)}`);
    }
    client.free();
    server.free();
  }
  // Every outcome is reached: the banner's rules (staging) and the off switch (production) included.
  for (const k of ['staging:TARGET_MATCH', 'staging:RULE_MATCH', 'staging:FALLTHROUGH', 'staging:PREREQUISITE_FAILED',
    'production:OFF', 'production:RULE_MATCH']) {
    assert.ok(all.has(k), `no ${k}`);
  }
});
