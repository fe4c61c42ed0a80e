// A real headless Chromium loads a page (plain <script type="module">) from a
// loopback static server; the page's client polls a real `edgeflag serve --watch`
// on another port (CORS), subscribes to its event stream, and must see a flag
// flip pushed by the origin (the poll interval is 10 minutes, so only the push
// can deliver it in time). Evaluations must equal the native CLI's byte for byte.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { ROOT, WASM_DIR, compile, edgeflag, exampleSourceCopy, startServe } from './helpers.mjs';
import { startStatic } from './static.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
let src, origin, site, browser, page;

before(async () => {
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM} (apt-get install chromium)`);
  src = exampleSourceCopy();
  origin = await startServe({ watch: src });
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
});

test('evaluations in Chromium equal the native CLI, byte for byte', async () => {
  const out = compile(src);
  const lines = readFileSync(path.join(ROOT, 'examples', 'contexts.jsonl'), 'utf8').split('\n').filter(Boolean);
  const native = edgeflag(['eval', '--ruleset', path.join(out.dir, 'production.efr'), '--contexts', path.join(ROOT, 'examples', 'contexts.jsonl')])
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
      on: client.boolValue('new-checkout', ctx, false),
      detail: client.evaluate('new-checkout', ctx),
      skip: client.numberValue('job-skip-rate', { key: 'w1', cluster: 'batch-3' }, -1),
    };
  });
  assert.equal(env.environment, 'production');
  assert.equal(env.on, true);
  assert.deepEqual(env.detail.reason, { kind: 'RULE_MATCH', rule_index: 0, rule_id: 'internal' });
  assert.equal(env.skip, 0.05);
});

test('a flag flip reaches the page through the event stream', async () => {
  await page.waitForFunction(() => window.edgeflag.client.status().streaming === true, null, { timeout: 15_000 });
  const before = await page.evaluate(() => ({
    version: window.edgeflag.client.ruleset.version,
    value: window.edgeflag.client.boolValue('search-v2', { key: 'user-7' }, true),
  }));
  assert.equal(before.value, false);
  const f = path.join(src, 'flags', 'ops.yaml');
  writeFileSync(f, readFileSync(f, 'utf8').replace(/^    enabled: false$/m, '    enabled: true'));
  await page.waitForFunction((v) => window.edgeflag.client.ruleset.version > v, before.version, { timeout: 30_000 });
  const after = await page.evaluate(() => ({
    changes: window.edgeflag.changes,
    detail: window.edgeflag.client.evaluate('search-v2', { key: 'user-7' }),
    status: window.edgeflag.client.status(),
  }));
  const expected = JSON.parse(edgeflag(['eval', '--ruleset', path.join(compile(src).dir, 'production.efr'),
    '--context', '{"key":"user-7"}', '--flag', 'search-v2']).stdout);
  assert.deepEqual(after.detail, expected);
  assert.notEqual(after.detail.reason.kind, 'OFF');
  assert.equal(after.changes.at(-1).previous, before.version);
  assert.equal(after.status.state, 'ready');
  assert.ok(after.status.streaming);
});
