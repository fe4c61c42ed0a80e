// The server provider (npm/openfeature/server.js) through the real
// @openfeature/server-sdk, over the package's client polling a real
// `edgeflag serve --watch`: every resolve type with value, variant, reason
// (the one mapping, tests/vectors/openfeature.json) and metadata; the error
// codes with the default value; status NOT_READY → (ERROR →) READY as the
// first ruleset arrives late; a flag flip pushed over the event stream as
// PROVIDER_CONFIGURATION_CHANGED; STALE for an expired signed ruleset, READY
// again when a fresh one arrives. Differential: 400 seeded random contexts,
// every flag through the provider and through the origin's OFREP endpoint
// (the Rust context rule, `context_from_openfeature`): the same value, variant,
// reason, metadata and INVALID_CONTEXT refusals.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { OpenFeature, ProviderEvents, ProviderStatus, ErrorCode } from '@openfeature/server-sdk';
import { createClient, Ruleset } from '../npm/node.js';
import { EdgeflagProvider, attributesOf, openFeatureErrorCode, openFeatureReason } from '../npm/openfeature/server.js';
import { compile, publicKey, rng, sign, startServe, tempDir, waitFor } from './helpers.mjs';
import { startProxy } from './proxy.mjs';
import {
  DEFAULTS, FLAG_TYPES, SDK_METHOD, VECTORS, expectedError, expectedReason, projectSource, randomContext,
} from './openfeature-helpers.mjs';

let project, origin, client;
const clients = [];
const servers = [];

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

/** Resolves with the first event of `type` a domain's client sees (at most `ms`). */
function nextEvent(ofClient, type, ms = 30_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { ofClient.removeHandler(type, h); reject(new Error(`no ${type} within ${ms} ms`)); }, ms);
    const h = (e) => { clearTimeout(timer); ofClient.removeHandler(type, h); resolve(e); };
    ofClient.addHandler(type, h);
  });
}

before(async () => {
  project = projectSource();
  origin = await startServe({ watch: project.dir });
  servers.push(origin);
  client = createClient({ url: `${origin.url}/production/current.efr`, pollIntervalMs: 600_000 });
  clients.push(client);
  await OpenFeature.setProviderAndWait('main', new EdgeflagProvider(client));
});

after(async () => {
  await OpenFeature.close();
  for (const c of clients) c.close();
  for (const s of servers) await s.close();
});

test('the JS mapping is tests/vectors/openfeature.json, row for row', () => {
  assert.ok(VECTORS.reasons.length >= 9 && VECTORS.errors.length >= 2);
  for (const row of VECTORS.reasons) {
    assert.equal(openFeatureReason({ reason: { kind: row.edgeflag }, in_rollout: row.in_rollout }), row.openfeature, JSON.stringify(row));
  }
  for (const row of VECTORS.errors) assert.equal(openFeatureErrorCode(row.edgeflag), row.openfeature, JSON.stringify(row));
});

test('every resolve type: value, variant, reason by the one mapping, flag metadata', async () => {
  const of = OpenFeature.getClient('main');
  assert.equal(of.providerStatus, ProviderStatus.READY);
  const rs = client.ruleset;
  // [flag, OpenFeature context, its edgeflag attributes (the context rule by hand), edgeflag reason, in_rollout]
  const cases = [
    ['banner', { targetingKey: 'u1', country: 'DE' }, { key: 'u1', country: 'DE' }, 'RULE_MATCH', false],
    ['banner', { targetingKey: 'u1', address: { country: 'FR' } }, { key: 'u1', 'address.country': 'FR' }, 'RULE_MATCH', false],
    ['banner', { targetingKey: 'u1', country: 'US' }, { key: 'u1', country: 'US' }, 'FALLTHROUGH', false],
    ['theme', { targetingKey: 'user-7' }, { key: 'user-7' }, 'TARGET_MATCH', false],
    ['theme', { key: 'user-7' }, { key: 'user-7' }, 'TARGET_MATCH', false],
    ['theme', { targetingKey: 'u2', a: { b: 'x' } }, { key: 'u2', 'a.b': 'x' }, 'RULE_MATCH', false],
    ['limit', { targetingKey: 'u1' }, { key: 'u1' }, 'FALLTHROUGH', false],
    ['limit', { targetingKey: 'u1', tags: ['a', 7] }, { key: 'u1', tags: ['a', 7] }, 'RULE_MATCH', false],
    ['layout', { targetingKey: 'u1' }, { key: 'u1' }, 'FALLTHROUGH', false],
    ['layout', { targetingKey: 'u1', seats: 12 }, { key: 'u1', seats: 12 }, 'RULE_MATCH', true],
    ['kill', { targetingKey: 'u1' }, { key: 'u1' }, 'OFF', false],
    ['gated', { targetingKey: 'u1' }, { key: 'u1' }, 'PREREQUISITE_FAILED', false],
    ['rollout', { targetingKey: 'u1' }, { key: 'u1' }, 'FALLTHROUGH', true],
    ['rollout', { country: 'DE' }, { country: 'DE' }, 'DEFAULT', false],
    ['rollout', { targetingKey: 'u1', deep: { l1: { l2: { l3: { l4: { l5: { l6: 'z' } } } } } } },
      { key: 'u1', 'deep.l1.l2.l3.l4.l5.l6': 'z' }, 'RULE_MATCH', false],
  ];
  const seen = new Set();
  for (const [flag, ctx, attrs, kind, inRollout] of cases) {
    assert.deepEqual(attributesOf(ctx), attrs, `attributes of ${JSON.stringify(ctx)}`);
    const raw = rs.evaluate(flag, attrs);
    const what = `${flag} ${JSON.stringify(ctx)}`;
    assert.equal(raw.reason.kind, kind, what);
    assert.equal(raw.in_rollout, inRollout, what);
    const type = FLAG_TYPES[flag];
    // A default no flag serves (for booleans, the other value): a default in place of the value shows.
    const dflt = type === 'boolean' ? !raw.value : DEFAULTS[type];
    const d = await of[SDK_METHOD[type]](flag, dflt, ctx);
    assert.deepEqual(d.value, raw.value, what);
    assert.equal(d.variant, raw.variation, what);
    assert.equal(d.reason, expectedReason(raw), what);
    assert.equal(d.errorCode, undefined, what);
    assert.equal(d.flagMetadata.reason, kind, what);
    assert.equal(d.flagMetadata.version, rs.version);
    assert.equal(d.flagMetadata.epoch, rs.epoch);
    assert.equal(d.flagMetadata.environment, 'production');
    assert.equal(d.flagMetadata.stale, undefined);
    if (kind === 'RULE_MATCH') {
      assert.equal(d.flagMetadata.rule_index, raw.reason.rule_index);
      assert.equal(d.flagMetadata.rule_id, raw.reason.rule_id ?? undefined);
    }
    if (kind === 'PREREQUISITE_FAILED') assert.equal(d.flagMetadata.prerequisite, 'kill');
    seen.add(`${kind}/${inRollout}`);
  }
  // Every row of the mapping but ERROR (next test) was exercised.
  for (const row of VECTORS.reasons.filter((r) => r.edgeflag !== 'ERROR')) {
    assert.ok(seen.has(`${row.edgeflag}/${row.in_rollout}`), `no case for ${row.edgeflag} in_rollout=${row.in_rollout}`);
  }
  // Concrete values, independent of the evaluator.
  const de = await of.getBooleanDetails('banner', false, { targetingKey: 'u1', country: 'DE' });
  assert.deepEqual([de.value, de.variant, de.flagMetadata.rule_id, de.flagMetadata.rule_index], [true, 'on', 'germans', 0]);
  assert.deepEqual(await of.getObjectValue('layout', {}, { targetingKey: 'u1' }), { cols: 2, dense: true });
  assert.equal(await of.getNumberValue('limit', 0, { targetingKey: 'u1' }), 2.5);
  assert.equal(await of.getStringValue('theme', 'none', { targetingKey: 'user-7' }), 'dark');
});

test('errors: FLAG_NOT_FOUND, TYPE_MISMATCH, INVALID_CONTEXT, each with the default value', async () => {
  const of = OpenFeature.getClient('main');
  const errorReason = expectedReason({ reason: { kind: 'ERROR' }, in_rollout: false });
  const ctx = { targetingKey: 'u1', country: 'DE' };
  let d = await of.getBooleanDetails('nope', true, ctx);
  assert.deepEqual([d.value, d.reason, d.errorCode], [true, errorReason, expectedError('FLAG_NOT_FOUND')]);
  assert.match(d.errorMessage, /nope/);
  for (const [flag, type] of Object.entries(FLAG_TYPES)) {
    for (const other of ['boolean', 'string', 'number', 'object'].filter((t) => t !== type)) {
      d = await of[SDK_METHOD[other]](flag, DEFAULTS[other], ctx);
      assert.deepEqual([d.value, d.reason, d.errorCode], [DEFAULTS[other], errorReason, expectedError('WRONG_TYPE')], `${flag} as ${other}`);
    }
  }
  const invalid = [
    [{ targetingKey: 'u1', user: { tags: [true] } }, 'user.tags', /list elements/],
    [{ targetingKey: 7 }, 'targetingKey', /must be a string/],
    [{ key: 7 }, 'key', /must be a string/],
    [{ targetingKey: 'u1', ratio: Number.NaN }, 'ratio', /finite/],
    [{ targetingKey: 'u1', n: { a: { b: { c: { d: { e: { f: { g: { h: 1 } } } } } } } } }, 'n.a.b.c.d.e.f.g', /too deeply/],
  ];
  for (const [bad, where, why] of invalid) {
    d = await of.getBooleanDetails('banner', true, bad);
    assert.deepEqual([d.value, d.reason, d.errorCode], [true, errorReason, ErrorCode.INVALID_CONTEXT], JSON.stringify(bad));
    assert.ok(d.errorMessage.includes(JSON.stringify(where)), d.errorMessage);
    assert.match(d.errorMessage, why);
  }
  // Seven nested objects (an attribute of eight segments) are not too deep.
  d = await of.getBooleanDetails('banner', true, { targetingKey: 'u1', n: { a: { b: { c: { d: { e: { f: { g: 1 } } } } } } } });
  assert.equal(d.errorCode, undefined);
  assert.deepEqual(attributesOf({ n: { a: { b: { c: { d: { e: { f: { g: 1 } } } } } } } }), { 'n.a.b.c.d.e.f.g': 1 });
});

test('status: NOT_READY until the first ruleset; a timed-out initialize is ERROR, then READY when it arrives', async () => {
  const port = await freePort();
  const late = createClient({ url: `http://127.0.0.1:${port}/production/current.efr`, pollIntervalMs: 1000 });
  clients.push(late);
  OpenFeature.setProvider('waiting', new EdgeflagProvider(late));
  const waiting = OpenFeature.getClient('waiting');
  const timedOut = OpenFeature.getClient('timed-out');
  const errored = nextEvent(timedOut, ProviderEvents.Error, 10_000);
  OpenFeature.setProvider('timed-out', new EdgeflagProvider({ client: late }, { initTimeoutMs: 300 }));
  assert.equal(waiting.providerStatus, ProviderStatus.NOT_READY);
  let d = await waiting.getBooleanDetails('banner', true, { targetingKey: 'u1', country: 'DE' });
  assert.deepEqual([d.value, d.errorCode], [true, ErrorCode.PROVIDER_NOT_READY]);
  const e = await errored;
  assert.match(e.message, /no ruleset within 300 ms/);
  assert.equal(timedOut.providerStatus, ProviderStatus.ERROR);
  assert.equal(waiting.providerStatus, ProviderStatus.NOT_READY);
  d = await timedOut.getBooleanDetails('banner', true, { targetingKey: 'u1', country: 'DE' });
  assert.deepEqual([d.value, d.errorCode], [true, ErrorCode.PROVIDER_NOT_READY]);
  assert.match(d.errorMessage, /no ruleset yet \(last error: /);

  // The origin comes up on that port: both become READY (the client retries with backoff).
  const readyWaiting = nextEvent(waiting, ProviderEvents.Ready);
  const readyTimedOut = nextEvent(timedOut, ProviderEvents.Ready);
  const pub = tempDir('edgeflag-of-pub-');
  servers.push(await startServe({ dir: pub, watch: project.dir, port }));
  await Promise.all([readyWaiting, readyTimedOut]);
  for (const c of [waiting, timedOut]) {
    assert.equal(c.providerStatus, ProviderStatus.READY);
    d = await c.getBooleanDetails('banner', false, { targetingKey: 'u1', country: 'DE' });
    assert.deepEqual([d.value, d.reason, d.errorCode], [true, 'TARGETING_MATCH', undefined]);
  }
});

test('a flag flip pushed over the event stream: PROVIDER_CONFIGURATION_CHANGED, then the new value', async () => {
  const of = OpenFeature.getClient('main');
  await waitFor(() => client.status().streaming, 15_000, 'the event stream');
  const us = { targetingKey: 'u1', country: 'US' };
  const before = await of.getBooleanDetails('banner', true, us);
  assert.deepEqual([before.value, before.reason], [false, 'DEFAULT']);
  const changed = nextEvent(of, ProviderEvents.ConfigurationChanged);
  project.flip('on');
  const e = await changed;
  assert.ok(e.metadata.version > before.flagMetadata.version, JSON.stringify(e));
  assert.equal(e.metadata.environment, 'production');
  const after = await of.getBooleanDetails('banner', false, us);
  assert.deepEqual([after.value, after.variant, after.reason], [true, 'on', 'DEFAULT']);
  assert.equal(after.flagMetadata.version, client.ruleset.version);
  assert.equal(after.flagMetadata.version, e.metadata.version);
  // The poll interval is ten minutes: the push delivered it.
  assert.ok(client.status().nextPollInMs > 60_000);
  assert.equal(of.providerStatus, ProviderStatus.READY);
});

test('STALE: an expired signed ruleset is served with stale metadata; a fresh one makes it READY again', async () => {
  const EPOCH = 1_700_000_000_000;
  const bytes = compile(project.dir).read('production');
  // A fixed Ruleset that has expired.
  const expired = Ruleset.fromBytes(sign(bytes, { seed: 1, version: 1, epoch: EPOCH, expiresAt: Date.now() - 60_000 }));
  const fixed = OpenFeature.getClient('fixed');
  const staleFixed = nextEvent(fixed, ProviderEvents.Stale, 10_000);
  await OpenFeature.setProviderAndWait('fixed', new EdgeflagProvider(expired));
  await staleFixed;
  assert.equal(fixed.providerStatus, ProviderStatus.STALE);
  let d = await fixed.getBooleanDetails('banner', false, { targetingKey: 'u1', country: 'DE' });
  assert.deepEqual([d.value, d.reason, d.flagMetadata.stale], [true, 'TARGETING_MATCH', true]);

  // A client whose bootstrap expires 1.5 s from now while the origin fails; then a fresh ruleset.
  const pub = tempDir('edgeflag-of-signed-');
  mkdirSync(path.join(pub, 'production'), { recursive: true });
  writeFileSync(path.join(pub, 'production', '.next.efr'), sign(bytes, { seed: 1, version: 2, epoch: EPOCH, expiresAt: Date.now() + 3_600_000 }));
  renameSync(path.join(pub, 'production', '.next.efr'), path.join(pub, 'production', 'current.efr'));
  const signedOrigin = await startServe({ dir: pub });
  servers.push(signedOrigin);
  const proxy = await startProxy(signedOrigin.url);
  servers.push(proxy);
  proxy.state.fault = { status: 503 };
  const expiring = createClient({
    url: `${proxy.url}/production/current.efr`,
    publicKeys: [publicKey(1)],
    bootstrap: sign(bytes, { seed: 1, version: 1, epoch: EPOCH, expiresAt: Date.now() + 1500 }),
    pollIntervalMs: 600_000,
    events: false,
  });
  clients.push(expiring);
  const of = OpenFeature.getClient('expiring');
  await OpenFeature.setProviderAndWait('expiring', new EdgeflagProvider(expiring));
  assert.equal(of.providerStatus, ProviderStatus.READY);
  d = await of.getBooleanDetails('banner', false, { targetingKey: 'u1', country: 'DE' });
  assert.deepEqual([d.value, d.flagMetadata.version, d.flagMetadata.stale], [true, 1, undefined]);
  const stale = nextEvent(of, ProviderEvents.Stale, 10_000);
  await stale;
  assert.equal(of.providerStatus, ProviderStatus.STALE);
  d = await of.getBooleanDetails('banner', false, { targetingKey: 'u1', country: 'DE' });
  assert.deepEqual([d.value, d.flagMetadata.version, d.flagMetadata.stale], [true, 1, true]);

  proxy.state.fault = null;
  const changed = nextEvent(of, ProviderEvents.ConfigurationChanged);
  const ready = nextEvent(of, ProviderEvents.Ready);
  await expiring.refresh();
  await Promise.all([changed, ready]);
  assert.equal(of.providerStatus, ProviderStatus.READY);
  d = await of.getBooleanDetails('banner', false, { targetingKey: 'u1', country: 'DE' });
  assert.deepEqual([d.value, d.flagMetadata.version, d.flagMetadata.stale], [true, 2, undefined]);
});

test('differential: 400 random contexts, the provider and the origin\'s OFREP endpoint agree', async () => {
  const of = OpenFeature.getClient('main');
  const seed = Number(process.env.EDGEFLAG_DIFF_SEED ?? 20261202);
  const r = rng(seed);
  const counts = { invalid: 0, ok: 0 };
  const kinds = new Set();
  for (let i = 0; i < 400; i++) {
    const ctx = randomContext(r);
    const what = `seed ${seed} #${i}: ${JSON.stringify(ctx)}`;
    const res = await fetch(`${origin.url}/production/ofrep/v1/evaluate/flags`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ context: ctx }),
    });
    const body = await res.json();
    if (res.status === 400) {
      assert.equal(body.errorCode, 'INVALID_CONTEXT', `${what}: ${JSON.stringify(body)}`);
      counts.invalid += 1;
      for (const [flag, type] of Object.entries(FLAG_TYPES)) {
        const d = await of[SDK_METHOD[type]](flag, DEFAULTS[type], ctx);
        assert.equal(d.errorCode, ErrorCode.INVALID_CONTEXT, `${what}: ${flag}`);
        assert.deepEqual(d.value, DEFAULTS[type]);
        assert.ok(body.errorDetails.includes(d.errorMessage), `${what}: OFREP says ${body.errorDetails}, the provider ${d.errorMessage}`);
      }
      continue;
    }
    assert.equal(res.status, 200, `${what}: ${JSON.stringify(body)}`);
    assert.deepEqual(body.flags.map((f) => f.key).sort(), Object.keys(FLAG_TYPES).sort());
    counts.ok += 1;
    for (const f of body.flags) {
      assert.equal(f.errorCode, undefined, `${what}: ${JSON.stringify(f)}`);
      const type = FLAG_TYPES[f.key];
      const d = await of[SDK_METHOD[type]](f.key, DEFAULTS[type], ctx);
      assert.equal(d.errorCode, undefined, `${what}: ${f.key}: ${d.errorMessage}`);
      assert.deepEqual([d.value, d.variant, d.reason], [f.value, f.variant, f.reason], `${what}: ${f.key}`);
      assert.equal(d.flagMetadata.reason, f.metadata.edgeflagReason, `${what}: ${f.key}`);
      assert.equal(d.flagMetadata.rule_index, f.metadata.ruleIndex, `${what}: ${f.key}`);
      assert.equal(d.flagMetadata.rule_id, f.metadata.ruleId, `${what}: ${f.key}`);
      kinds.add(`${f.key}:${f.metadata.edgeflagReason}`);
    }
  }
  // The contexts reached the refusals and the rules that read nested, dotted and list attributes.
  assert.ok(counts.invalid >= 20 && counts.ok >= 200, JSON.stringify(counts));
  for (const k of ['banner:RULE_MATCH', 'banner:FALLTHROUGH', 'theme:TARGET_MATCH', 'theme:RULE_MATCH', 'limit:RULE_MATCH',
    'layout:RULE_MATCH', 'rollout:RULE_MATCH', 'rollout:FALLTHROUGH']) {
    assert.ok(kinds.has(k), `no context reached ${k}: ${[...kinds].join(' ')}`);
  }
});
