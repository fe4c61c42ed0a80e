// A real headless Chromium loads a page (plain <script type="module">) from a
// loopback static server; the page's client — the browser quick start's: the
// client ruleset, `<env>.client/current.efr`, with the browser entry's defaults —
// polls a real `edgeflag serve --watch` on another port (CORS), subscribes to its
// event stream, and must see a flag flip pushed by the origin (the poll interval
// is 10 minutes, so only the push can deliver it in time). Evaluations must equal
// the native CLI's byte for byte. Against a second origin serving a published
// project with targeted users: the downloaded client ruleset lists none of them
// in clear and answers for them as the native server ruleset does, and the
// browser entry refuses the server ruleset unless told `rulesets: 'any'`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import {
  ROOT, WASM_DIR, CLIENT_PROJECT_SECRETS, clientProjectSource, compile, edgeflag, exampleSourceCopy, startServe, tempDir,
} from './helpers.mjs';
import { startStatic } from './static.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
let src, origin, site, browser, page;
let projectPub, project; // CLIENT_PROJECT, published and served

before(async () => {
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM} (apt-get install chromium)`);
  src = exampleSourceCopy();
  origin = await startServe({ watch: src });
  projectPub = tempDir('edgeflag-client-pub-');
  edgeflag(['publish', clientProjectSource(), '--to', projectPub, '--actor', 'chromium-test']);
  project = await startServe({ dir: projectPub });
  site = await startStatic({ '/pkg/': path.join(WASM_DIR, 'npm') + '/', '/': path.join(WASM_DIR, 'test', 'browser') + '/' });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e));
  await page.goto(`${site.url}/index.html?origin=${encodeURIComponent(origin.url)}`);
  await page.waitForFunction(() => window.edgeflagReady === true, null, { timeout: 30_000 }).catch((e) => {
    throw new Error(`page not ready: ${e.message} ${errors.join('; ')}`);
  });
});

after(async () => {
  await browser?.close();
  await site?.close();
  await origin?.close();
  await project?.close();
});

test('evaluations in Chromium (the client ruleset) equal the native CLI, byte for byte', async () => {
  const out = compile(src);
  const contexts = path.join(ROOT, 'examples', 'contexts.jsonl');
  const lines = readFileSync(contexts, 'utf8').split('\n').filter(Boolean);
  const native = edgeflag(['eval', '--ruleset', path.join(out.dir, 'production.client.efr'), '--contexts', contexts])
    .stdout.split('\n').filter(Boolean);
  const got = await page.evaluate((ls) => {
    const { client, Context } = window.edgeflag;
    return ls.map((l) => client.ruleset.allFlagsJSON(new Context(JSON.parse(l))));
  }, lines);
  assert.equal(got.length, lines.length);
  assert.deepEqual(got, native);
  const env = await page.evaluate(() => {
    const { client, Context } = window.edgeflag;
    const ctx = new Context({ key: 'user-42', email: 'ana@edgeflag.dev', country: 'DE', plan: 'pro' });
    return {
      environment: client.ruleset.environment,
      isClient: client.ruleset.isClient,
      keys: client.ruleset.flagKeys(),
      on: client.boolValue('new-checkout', ctx, false),
      detail: client.evaluate('new-checkout', ctx),
      steps: client.jsonValue('checkout-config', { key: 'user-7', groups: ['beta'] }, null)?.steps,
      // Server-only flags are not in the client ruleset: the default.
      skip: client.numberValue('job-skip-rate', { key: 'w1', cluster: 'batch-3' }, -1),
    };
  });
  assert.equal(env.environment, 'production.client');
  assert.equal(env.isClient, true);
  assert.deepEqual([...env.keys].sort(), ['checkout-config', 'new-checkout']);
  assert.equal(env.on, true);
  assert.deepEqual(env.detail.reason, { kind: 'RULE_MATCH', rule_index: 0, rule_id: 'internal' });
  assert.equal(env.steps, 1);
  assert.equal(env.skip, -1);
});

test('a flag flip reaches the page through the event stream', async () => {
  await page.waitForFunction(() => window.edgeflag.client.status().streaming === true, null, { timeout: 15_000 });
  const user = { key: 'user-7', groups: ['beta'] };
  const before = await page.evaluate((u) => ({
    version: window.edgeflag.client.ruleset.version,
    detail: window.edgeflag.client.evaluate('checkout-config', u),
  }), user);
  assert.notEqual(before.detail.reason.kind, 'OFF');
  // The kill switch of a client-side flag: the client ruleset changes too.
  const f = path.join(src, 'flags', 'ops.yaml');
  const text = readFileSync(f, 'utf8');
  const next = text.replace(/^(    client_side: true\n)/m, '$1    enabled: false\n');
  assert.notEqual(next, text);
  writeFileSync(f, next);
  await page.waitForFunction((v) => window.edgeflag.client.ruleset.version > v, before.version, { timeout: 30_000 });
  const after = await page.evaluate((u) => ({
    changes: window.edgeflag.changes,
    detail: window.edgeflag.client.evaluate('checkout-config', u),
    status: window.edgeflag.client.status(),
  }), user);
  const expected = JSON.parse(edgeflag(['eval', '--ruleset', path.join(compile(src).dir, 'production.client.efr'),
    '--context', JSON.stringify(user), '--flag', 'checkout-config']).stdout);
  assert.deepEqual(after.detail, expected);
  assert.equal(after.detail.reason.kind, 'OFF');
  assert.equal(after.changes.at(-1).previous, before.version);
  assert.equal(after.status.state, 'ready');
  assert.ok(after.status.streaming);
});

test('the page downloads the client ruleset from loopback: no user id in clear, targeted users answered as by the server ruleset', async () => {
  const users = [
    { key: 'alice@example.com', country: 'DE' },
    { key: 'eve@example.com', country: 'DE', age: 30 },
    { key: 'dave@example.com', country: 'US' },
    { key: 'carol@corp.example', country: 'US' },
    { key: 'mallory@corp.example', country: 'US', team: 'search' },
    { key: 'frank@example.com', country: 'DE' },
    { key: 'u-9', country: 'FR', age: 20 },
  ];
  const got = await page.evaluate(async ({ url, users, secrets }) => {
    const { recordingClient, Context } = window.edgeflag;
    const { client, downloads } = recordingClient({ url });
    await client.ready();
    const text = new TextDecoder('latin1').decode(downloads[0].bytes);
    const result = {
      downloads: downloads.map((d) => ({ url: d.url, size: d.bytes.length })),
      inClear: secrets.filter((s) => text.includes(s)),
      status: client.status(),
      isClient: client.ruleset.isClient,
      details: users.map((u) => client.evaluate('checkout-v2', new Context(u))),
      hidden: ['payments-ready', 'server-only'].map((k) => client.evaluate(k, { key: 'heidi@example.com' }).reason),
    };
    client.close();
    return result;
  }, { url: `${project.url}/production.client/current.efr`, users, secrets: CLIENT_PROJECT_SECRETS });
  assert.equal(got.downloads.length, 1);
  assert.equal(got.downloads[0].url, `${project.url}/production.client/current.efr`);
  assert.equal(got.downloads[0].size, readFileSync(path.join(projectPub, 'production.client', 'current.efr')).length);
  assert.deepEqual(got.inClear, [], 'user ids and server-only names in the downloaded bytes');
  // The same search finds them in the server ruleset.
  const serverText = readFileSync(path.join(projectPub, 'production', 'current.efr')).toString('latin1');
  for (const id of ['alice@example.com', 'eve@example.com', 'carol@corp.example', 'heidi@example.com']) {
    assert.ok(serverText.includes(id), `the server ruleset lists ${id}`);
  }
  assert.equal(got.status.state, 'ready');
  assert.equal(got.status.environment, 'production.client');
  assert.equal(got.isClient, true);
  const server = path.join(projectPub, 'production', 'current.efr');
  for (const [i, u] of users.entries()) {
    const native = JSON.parse(edgeflag(['eval', '--ruleset', server, '--context', JSON.stringify(u), '--flag', 'checkout-v2']).stdout);
    assert.deepEqual(got.details[i], native, JSON.stringify(u));
  }
  assert.equal(got.details[0].value, true);
  assert.equal(got.details[0].variation, 'on');
  assert.deepEqual(got.details[0].reason, { kind: 'TARGET_MATCH' });
  assert.equal(got.details[1].value, false);
  assert.equal(got.details[1].reason.kind, 'TARGET_MATCH');
  assert.deepEqual(got.details[2].reason, { kind: 'RULE_MATCH', rule_index: 0, rule_id: 'beta-users' });
  assert.deepEqual(got.hidden, [{ kind: 'ERROR', error_kind: 'FLAG_NOT_FOUND' }, { kind: 'ERROR', error_kind: 'FLAG_NOT_FOUND' }]);
});

test("the browser entry refuses the server ruleset (SERVER_RULESET) unless given rulesets: 'any'", async () => {
  const url = `${project.url}/production/current.efr`;
  const got = await page.evaluate(async (url) => {
    const { createClient } = window.edgeflag;
    const strict = createClient({ url, pollIntervalMs: 0, events: false });
    const refused = await strict.refresh();
    const held = strict.ruleset;
    const fallback = strict.boolValue('server-only', { key: 'heidi@example.com' }, false);
    strict.close();
    const any = createClient({ url, pollIntervalMs: 0, events: false, rulesets: 'any' });
    const rs = await any.ready();
    const accepted = { isClient: rs.isClient, environment: rs.environment, on: any.boolValue('server-only', { key: 'heidi@example.com' }, false) };
    any.close();
    let typeError = null;
    try { createClient({ url, rulesets: 'server' }); } catch (e) { typeError = `${e.name}: ${e.message}`; }
    return { refused, held, fallback, accepted, typeError };
  }, url);
  assert.equal(got.refused.state, 'loading');
  assert.equal(got.refused.lastErrorKind, 'SERVER_RULESET');
  assert.equal(got.refused.lastError, `SERVER_RULESET: ${url} is a server ruleset (it lists user ids and server-only flags); ` +
    "browsers load production.client/current.efr, published beside it; pass rulesets: 'any' to allow");
  assert.equal(got.held, null);
  assert.equal(got.fallback, false);
  assert.deepEqual(got.accepted, { isClient: false, environment: 'production', on: true });
  assert.equal(got.typeError, 'TypeError: createClient: rulesets must be one of client, any');
});
