// In headless Chromium (a plain page, the OpenFeature packages through an
// import map, no bundler): the web provider (npm/openfeature/web.js) through
// the real @openfeature/web-sdk over the browser entry's client (the client
// ruleset of a real `edgeflag serve --watch` on another port), and the official
// @openfeature/ofrep-web-provider against the same origin's OFREP endpoint.
//
// The web provider: every type, variant, reason (tests/vectors/openfeature.json)
// and metadata; every flag is evaluated once per context (allFlags), resolves
// evaluate nothing; a context change is synchronous (PROVIDER_CONTEXT_CHANGED,
// no RECONCILING); the errors; NOT_READY before a first ruleset; answers equal
// the typed getters for every flag and type. Both providers: the answers agree,
// and a flag flip arrives through the event stream (the poll intervals are ten
// minutes) as PROVIDER_CONFIGURATION_CHANGED naming the changed flag.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { WASM_DIR, startServe, tempDir } from './helpers.mjs';
import { startStatic } from './static.mjs';
import { DEFAULTS, FLAG_TYPES, VECTORS, expectedError, expectedReason, projectSource } from './openfeature-helpers.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
let project, origin, site, context, page;
const requests = [];

before(async () => {
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM} (apt-get install chromium)`);
  project = projectSource();
  origin = await startServe({ watch: project.dir });
  site = await startStatic({
    '/pkg/': path.join(WASM_DIR, 'npm') + '/',
    '/node_modules/': path.join(WASM_DIR, 'node_modules') + '/',
    '/': path.join(WASM_DIR, 'test', 'browser') + '/',
  });
  context = await chromium.launchPersistentContext(tempDir('edgeflag-chromium-'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e));
  page.on('request', (r) => requests.push({ url: r.url(), method: r.method() }));
  await page.goto(`${site.url}/openfeature.html`);
  await page.waitForFunction(() => window.ofReady === true, null, { timeout: 30_000 }).catch((e) => {
    throw new Error(`page not ready: ${e.message} ${errors.join('; ')}`);
  });
  await page.evaluate(async (url) => {
    const { OpenFeature, EdgeflagWebProvider, createClient, watch } = window.of;
    // The browser entry's defaults: the client ruleset only.
    const client = createClient({ url: `${url}/production.client/current.efr`, pollIntervalMs: 600_000 });
    const provider = new EdgeflagWebProvider(client);
    window.ef = { client, provider };
    watch('edgeflag', OpenFeature.getClient('edgeflag'));
    await OpenFeature.setProviderAndWait('edgeflag', provider, { targetingKey: 'u1', country: 'DE' });
  }, origin.url);
});

after(async () => {
  await page?.evaluate(() => window.of.OpenFeature.close()).catch(() => {});
  await context?.close();
  await site?.close();
  await origin?.close();
});

/**
 * In the page: sets the domain's context, then resolves `flags` with their
 * types (defaults: `defaults[flag]`, else `defaults[type]`); also counts the
 * evaluations that took.
 */
function resolveAll(domain, ctx, flags, types = FLAG_TYPES, defaults = DEFAULTS) {
  return page.evaluate(async ({ domain, ctx, flags, types, defaults }) => {
    const { OpenFeature } = window.of;
    const rs = window.ef.client.ruleset;
    const calls = {};
    const methods = ['allFlagsJSON', 'evaluateJSON'];
    const saved = methods.map((m) => rs[m]);
    methods.forEach((m, i) => { rs[m] = function (...a) { calls[m] = (calls[m] ?? 0) + 1; return saved[i].apply(this, a); }; });
    try {
      const c = OpenFeature.getClient(domain);
      const before = window.of.events.length;
      await OpenFeature.setContext(domain, ctx);
      const afterContext = { ...calls };
      const method = { boolean: 'getBooleanDetails', string: 'getStringDetails', number: 'getNumberDetails', object: 'getObjectDetails' };
      const details = flags.map((f) => {
        const d = c[method[types[f]]](f, Object.hasOwn(defaults, f) ? defaults[f] : defaults[types[f]]);
        return { ...d, flagMetadata: { ...d.flagMetadata } };
      });
      return {
        details,
        status: c.providerStatus,
        afterContext,
        afterResolves: { ...calls },
        events: window.of.events.slice(before).filter((e) => e.where === domain).map((e) => e.type),
        version: rs.version,
      };
    } finally {
      methods.forEach((m, i) => { rs[m] = saved[i]; });
    }
  }, { domain, ctx, flags, types, defaults });
}

/** In the page: the client ruleset's own detail of `flag` for edgeflag attributes. */
function raw(flag, attrs) {
  return page.evaluate(({ flag, attrs }) => window.ef.client.ruleset.evaluate(flag, attrs), { flag, attrs });
}

test('web provider: every type from one evaluation per context, reasons by the one mapping, metadata', async () => {
  // [OpenFeature context, its edgeflag attributes (the context rule by hand), [flag, edgeflag reason, in_rollout]…]
  const cases = [
    [{ targetingKey: 'u1', country: 'DE' }, { key: 'u1', country: 'DE' },
      [['banner', 'RULE_MATCH', false], ['limit', 'FALLTHROUGH', false], ['layout', 'FALLTHROUGH', false], ['kill', 'OFF', false],
        ['gated', 'PREREQUISITE_FAILED', false], ['rollout', 'FALLTHROUGH', true], ['theme', 'FALLTHROUGH', false]]],
    [{ targetingKey: 'user-7', address: { country: 'FR' }, tags: ['vip'], seats: 12 },
      { key: 'user-7', 'address.country': 'FR', tags: ['vip'], seats: 12 },
      [['banner', 'RULE_MATCH', false], ['theme', 'TARGET_MATCH', false], ['limit', 'RULE_MATCH', false], ['layout', 'RULE_MATCH', true]]],
    [{ country: 'US', a: { b: 'x' } }, { country: 'US', 'a.b': 'x' },
      [['rollout', 'DEFAULT', false], ['theme', 'RULE_MATCH', false], ['banner', 'FALLTHROUGH', false]]],
  ];
  const seen = new Set();
  for (const [ctx, attrs, expected] of cases) {
    const mapped = await page.evaluate((c) => window.of.attributesOf(c), ctx);
    assert.deepEqual(mapped, attrs);
    const flags = expected.map(([f]) => f);
    const raws = [];
    for (const f of flags) raws.push(await raw(f, attrs));
    // Defaults no flag serves (for booleans, the other value): a default in place of the value shows.
    const defaults = { ...DEFAULTS };
    for (const [i, f] of flags.entries()) if (FLAG_TYPES[f] === 'boolean') defaults[f] = !raws[i].value;
    const got = await resolveAll('edgeflag', ctx, flags, FLAG_TYPES, defaults);
    // One evaluation of every flag for the context; the resolves evaluate nothing.
    assert.deepEqual(got.afterContext, { allFlagsJSON: 1 }, JSON.stringify(ctx));
    assert.deepEqual(got.afterResolves, { allFlagsJSON: 1 });
    assert.equal(got.status, 'READY');
    for (const [i, [flag, kind, inRollout]] of expected.entries()) {
      const d = got.details[i];
      const r = raws[i];
      const what = `${flag} ${JSON.stringify(ctx)}`;
      assert.equal(r.reason.kind, kind, what);
      assert.equal(r.in_rollout, inRollout, what);
      assert.deepEqual(d.value, r.value, what);
      assert.equal(d.variant, r.variation, what);
      assert.equal(d.reason, expectedReason(r), what);
      assert.equal(d.errorCode, undefined, what);
      assert.equal(d.flagMetadata.reason, kind, what);
      assert.equal(d.flagMetadata.environment, 'production.client');
      assert.equal(d.flagMetadata.version, got.version);
      if (kind === 'RULE_MATCH') assert.equal(d.flagMetadata.rule_index, r.reason.rule_index);
      seen.add(`${kind}/${inRollout}`);
    }
  }
  for (const row of VECTORS.reasons.filter((r) => r.edgeflag !== 'ERROR')) {
    assert.ok(seen.has(`${row.edgeflag}/${row.in_rollout}`), `no case for ${row.edgeflag} in_rollout=${row.in_rollout}`);
  }
});

test('web provider: a context change is synchronous (CONTEXT_CHANGED, no RECONCILING); the errors with the default', async () => {
  const us = await resolveAll('edgeflag', { targetingKey: 'u1', country: 'US' }, ['banner']);
  assert.deepEqual(us.events, ['PROVIDER_CONTEXT_CHANGED']);
  assert.deepEqual([us.details[0].value, us.details[0].reason], [false, 'DEFAULT']);
  const de = await resolveAll('edgeflag', { targetingKey: 'u1', country: 'DE' }, ['banner']);
  assert.deepEqual([de.details[0].value, de.details[0].reason], [true, 'TARGETING_MATCH']);

  const errorReason = expectedReason({ reason: { kind: 'ERROR' }, in_rollout: false });
  // Each flag as every other type: TYPE_MISMATCH; an unknown flag: FLAG_NOT_FOUND.
  const flags = [];
  for (const [flag, type] of Object.entries(FLAG_TYPES)) {
    for (const other of ['boolean', 'string', 'number', 'object'].filter((t) => t !== type)) flags.push([flag, other]);
  }
  const mismatches = await page.evaluate(({ flags, defaults }) => {
    const c = window.of.OpenFeature.getClient('edgeflag');
    const method = { boolean: 'getBooleanDetails', string: 'getStringDetails', number: 'getNumberDetails', object: 'getObjectDetails' };
    return flags.map(([f, t]) => c[method[t]](f, defaults[t]));
  }, { flags, defaults: DEFAULTS });
  for (const [i, [flag, type]] of flags.entries()) {
    const d = mismatches[i];
    assert.deepEqual([d.value, d.reason, d.errorCode], [DEFAULTS[type], errorReason, expectedError('WRONG_TYPE')], `${flag} as ${type}`);
  }
  const missing = await resolveAll('edgeflag', { targetingKey: 'u1' }, ['nope'], { nope: 'boolean' });
  assert.deepEqual([missing.details[0].value, missing.details[0].reason, missing.details[0].errorCode],
    [DEFAULTS.boolean, errorReason, expectedError('FLAG_NOT_FOUND')]);

  // A context with no edgeflag form: every resolve INVALID_CONTEXT (the SDK stays READY).
  const bad = await resolveAll('edgeflag', { targetingKey: 'u1', user: { tags: [true] } }, ['banner', 'theme']);
  for (const d of bad.details) {
    assert.equal(d.errorCode, 'INVALID_CONTEXT');
    assert.match(d.errorMessage, /"user\.tags": list elements must be strings or numbers/);
  }
  assert.deepEqual(bad.details.map((d) => d.value), [DEFAULTS.boolean, DEFAULTS.string]);
  assert.equal(bad.status, 'READY');
  await resolveAll('edgeflag', { targetingKey: 'u1', country: 'DE' }, []);

  // Before a first ruleset: NOT_READY, PROVIDER_NOT_READY with the default.
  const notReady = await page.evaluate(async () => {
    const { OpenFeature, EdgeflagWebProvider, createClient } = window.of;
    const client = createClient({ url: 'http://127.0.0.1:9/production.client/current.efr', pollIntervalMs: 600_000 });
    OpenFeature.setProvider('never', new EdgeflagWebProvider(client), { targetingKey: 'u1' });
    const c = OpenFeature.getClient('never');
    const d = c.getBooleanDetails('banner', true);
    const r = { status: c.providerStatus, value: d.value, errorCode: d.errorCode };
    client.close();
    return r;
  });
  assert.deepEqual(notReady, { status: 'NOT_READY', value: true, errorCode: 'PROVIDER_NOT_READY' });
});

test('web provider: answers equal the typed getters for every flag and type', async () => {
  const contexts = [
    [{ targetingKey: 'u1', country: 'DE' }, { key: 'u1', country: 'DE' }],
    [{ targetingKey: 'user-7', tags: [7], seats: 10 }, { key: 'user-7', tags: [7], seats: 10 }],
    [{ targetingKey: 'u-3', seats: 99, deep: { l1: { l2: { l3: { l4: { l5: { l6: 'z' } } } } } } },
      { key: 'u-3', seats: 99, 'deep.l1.l2.l3.l4.l5.l6': 'z' }],
  ];
  for (const [ctx, attrs] of contexts) {
    const got = await page.evaluate(async ({ ctx, attrs, types, defaults }) => {
      const { OpenFeature } = window.of;
      await OpenFeature.setContext('edgeflag', ctx);
      const c = OpenFeature.getClient('edgeflag');
      const rs = window.ef.client.ruleset;
      const method = { boolean: 'getBooleanDetails', string: 'getStringDetails', number: 'getNumberDetails', object: 'getObjectDetails' };
      const typed = { boolean: 'boolDetail', string: 'stringDetail', number: 'numberDetail', object: 'jsonDetail' };
      const out = [];
      for (const flag of Object.keys(types)) {
        for (const t of Object.keys(method)) {
          const d = c[method[t]](flag, defaults[t]);
          out.push({ flag, t, of: { value: d.value, variant: d.variant ?? null, errorCode: d.errorCode ?? null }, typed: rs[typed[t]](flag, attrs) });
        }
      }
      return out;
    }, { ctx, attrs, types: FLAG_TYPES, defaults: DEFAULTS });
    assert.equal(got.length, Object.keys(FLAG_TYPES).length * 4);
    for (const { flag, t, of, typed } of got) {
      const what = `${flag} as ${t} for ${JSON.stringify(ctx)}`;
      if (typed.reason.kind === 'ERROR') {
        assert.deepEqual(of, { value: DEFAULTS[t], variant: null, errorCode: expectedError(typed.reason.error_kind) }, what);
      } else {
        assert.deepEqual(of, { value: typed.value, variant: typed.variation, errorCode: null }, what);
      }
    }
  }
});

test('the official OFREP web provider against edgeflag serve agrees with the edgeflag web provider', async () => {
  const ctxs = [
    { targetingKey: 'u1', country: 'DE' },
    { targetingKey: 'user-7', address: { country: 'FR' }, tags: ['vip'], seats: 12 },
    { targetingKey: 'u9', a: { b: 'x' }, seats: 3 },
  ];
  await page.evaluate(async (url) => {
    const { OpenFeature, OFREPWebProvider, watch } = window.of;
    watch('ofrep', OpenFeature.getClient('ofrep'));
    // cacheMode 'disabled': by default the provider persists answers (localStorage)
    // and reports them as CACHED until its refresh; here every answer is the origin's.
    const provider = new OFREPWebProvider({ baseUrl: `${url}/production`, pollInterval: 600_000, cacheMode: 'disabled' });
    await OpenFeature.setProviderAndWait('ofrep', provider,
      { targetingKey: 'u1', country: 'DE' });
  }, origin.url);
  for (const ctx of ctxs) {
    const flags = Object.keys(FLAG_TYPES);
    const ofrep = await resolveAll('ofrep', ctx, flags);
    const ours = await resolveAll('edgeflag', ctx, flags);
    assert.equal(ofrep.status, 'READY');
    for (const [i, flag] of flags.entries()) {
      const a = ofrep.details[i];
      const b = ours.details[i];
      const what = `${flag} ${JSON.stringify(ctx)}`;
      assert.equal(a.errorCode, undefined, `${what}: ${a.errorMessage}`);
      assert.deepEqual([a.value, a.variant, a.reason], [b.value, b.variant, b.reason], what);
      assert.equal(a.flagMetadata.edgeflagReason, b.flagMetadata.reason, what);
    }
  }
  const errors = await page.evaluate(() => {
    const c = window.of.OpenFeature.getClient('ofrep');
    return [c.getBooleanDetails('nope', true), c.getStringDetails('banner', 'dflt')].map((d) => [d.value, d.reason, d.errorCode]);
  });
  assert.deepEqual(errors, [[true, 'ERROR', expectedError('FLAG_NOT_FOUND')], ['dflt', 'ERROR', expectedError('WRONG_TYPE')]]);
  // Its bulk requests went to the OFREP endpoint across origins (CORS, with a preflight).
  const bulk = requests.filter((r) => r.url === `${origin.url}/production/ofrep/v1/evaluate/flags`);
  assert.ok(bulk.some((r) => r.method === 'POST'), JSON.stringify(requests.slice(-10)));
});

test('a flag flip reaches both providers through the event streams: PROVIDER_CONFIGURATION_CHANGED naming the flag', async () => {
  const us = { targetingKey: 'u1', country: 'US' };
  const ours = await resolveAll('edgeflag', us, ['banner', 'theme']);
  const ofrep = await resolveAll('ofrep', us, ['banner', 'theme']);
  assert.deepEqual([ours.details[0].value, ofrep.details[0].value], [false, false]);
  await page.waitForFunction(() => window.ef.client.status().streaming === true, null, { timeout: 15_000 });
  const mark = await page.evaluate(() => window.of.events.length);
  const streams = requests.filter((r) => r.url.startsWith(`${origin.url}/production/events`));
  assert.ok(streams.some((r) => r.url === `${origin.url}/production/events?format=ofrep`),
    `the OFREP provider follows eventStreams: ${JSON.stringify(streams)}`);
  project.flip('on');
  await page.waitForFunction((mark) => {
    const seen = window.of.events.slice(mark).filter((e) => e.type === 'PROVIDER_CONFIGURATION_CHANGED').map((e) => e.where);
    return seen.includes('edgeflag') && seen.includes('ofrep');
  }, mark, { timeout: 30_000 });
  const changed = await page.evaluate((mark) => window.of.events.slice(mark).filter((e) => e.type === 'PROVIDER_CONFIGURATION_CHANGED'), mark);
  const mine = changed.find((e) => e.where === 'edgeflag');
  // For this context only banner's answer changed.
  assert.deepEqual(mine.flagsChanged, ['banner']);
  const theirs = changed.find((e) => e.where === 'ofrep');
  assert.ok(theirs.flagsChanged.includes('banner'), JSON.stringify(theirs));
  const after = await page.evaluate(() => ['edgeflag', 'ofrep'].map((d) => {
    const c = window.of.OpenFeature.getClient(d);
    const b = c.getBooleanDetails('banner', false);
    return { value: b.value, reason: b.reason, variant: b.variant, theme: c.getStringValue('theme', 'dflt'), status: c.providerStatus };
  }));
  for (const a of after) assert.deepEqual(a, { value: true, reason: 'DEFAULT', variant: 'on', theme: 'light', status: 'READY' });
  // No poll delivered it: the rulesets were fetched only at start and after the announcement.
  const status = await page.evaluate(() => window.ef.client.status());
  assert.ok(status.nextPollInMs > 60_000);
});
