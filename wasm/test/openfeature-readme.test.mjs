// The OpenFeature quick starts of npm/README.md, run as written (only the
// origin's URL replaced by a real `edgeflag serve --watch examples/`): the Node
// one in a consumer project resolving `@edgeflag/evaluator` and
// `@openfeature/server-sdk` through node_modules; the browser one in headless
// Chromium as a module script, its bare specifiers resolved by an import map
// as a bundler would. Each answer must equal the native CLI's evaluation.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { WASM_DIR, compile, edgeflag, exampleSourceCopy, startServe, tempDir } from './helpers.mjs';
import { startStatic } from './static.mjs';
import { expectedReason } from './openfeature-helpers.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
let src, origin;

/** The ```js blocks of npm/README.md's OpenFeature section: [node, browser]. */
function quickStarts() {
  const text = readFileSync(path.join(WASM_DIR, 'npm', 'README.md'), 'utf8');
  const section = text.slice(text.indexOf('## OpenFeature'));
  const blocks = [...section.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]);
  assert.equal(blocks.length, 2, 'two quick starts');
  return blocks;
}

/** What the native CLI answers for `ctx` on the environment `env` compiled from `src`. */
function native(env, ctx) {
  return JSON.parse(edgeflag(['eval', '--ruleset', path.join(compile(src).dir, `${env}.efr`), '--context', JSON.stringify(ctx),
    '--flag', 'new-checkout']).stdout);
}

before(async () => {
  src = exampleSourceCopy();
  origin = await startServe({ watch: src });
});

after(async () => {
  await origin?.close();
});

test('the Node quick start runs as written', () => {
  const [node] = quickStarts();
  assert.match(node, /http:\/\/127\.0\.0\.1:8080\/production\/current\.efr/);
  const dir = tempDir('edgeflag-readme-');
  mkdirSync(path.join(dir, 'node_modules', '@edgeflag'), { recursive: true });
  mkdirSync(path.join(dir, 'node_modules', '@openfeature'), { recursive: true });
  symlinkSync(path.join(WASM_DIR, 'npm'), path.join(dir, 'node_modules', '@edgeflag', 'evaluator'), 'dir');
  symlinkSync(path.join(WASM_DIR, 'node_modules', '@openfeature', 'server-sdk'), path.join(dir, 'node_modules', '@openfeature', 'server-sdk'), 'dir');
  const ctx = { targetingKey: 'user-7', country: 'DE' };
  writeFileSync(path.join(dir, 'main.mjs'), `${node.replaceAll('http://127.0.0.1:8080', origin.url)}
const d = await client.getBooleanDetails('new-checkout', false, ${JSON.stringify(ctx)});
console.log(JSON.stringify({ d, status: client.providerStatus }));
await OpenFeature.close();
flags.close();
process.exit(0);
`);
  const out = execFileSync(process.execPath, ['main.mjs'], { cwd: dir, encoding: 'utf8', timeout: 30_000 }).trim().split('\n').at(-1);
  const { d, status } = JSON.parse(out);
  const want = native('production', { key: 'user-7', country: 'DE' });
  assert.equal(status, 'READY');
  assert.deepEqual([d.value, d.variant, d.reason, d.errorCode], [want.value, want.variation, expectedReason(want), undefined]);
  assert.equal(d.flagMetadata.reason, want.reason.kind);
});

test('the browser quick start runs as written in Chromium', async () => {
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM} (apt-get install chromium)`);
  const [, browserCode] = quickStarts();
  assert.match(browserCode, /https:\/\/flags\.example\.com\/production\.client\/current\.efr/);
  const site = await startStatic({
    '/pkg/': path.join(WASM_DIR, 'npm') + '/',
    '/node_modules/': path.join(WASM_DIR, 'node_modules') + '/',
    '/': path.join(WASM_DIR, 'test', 'browser') + '/',
  });
  const context = await chromium.launchPersistentContext(tempDir('edgeflag-chromium-'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${site.url}/openfeature.html`);
    await page.waitForFunction(() => window.ofReady === true, null, { timeout: 30_000 });
    await page.addScriptTag({
      type: 'module',
      content: `${browserCode.replaceAll('https://flags.example.com', origin.url)}
window.readme = { d: client.getBooleanDetails('new-checkout', false), status: client.providerStatus };`,
    });
    await page.waitForFunction(() => window.readme !== undefined, null, { timeout: 30_000 }).catch((e) => {
      throw new Error(`the quick start did not finish: ${e.message} ${errors.join('; ')}`);
    });
    const { d, status } = await page.evaluate(() => window.readme);
    // The quick start ends with the context { targetingKey: 'user-8' }, on the client ruleset.
    const want = native('production.client', { key: 'user-8' });
    assert.equal(status, 'READY');
    assert.deepEqual([d.value, d.variant, d.reason, d.errorCode], [want.value, want.variation, expectedReason(want), undefined]);
    assert.equal(d.flagMetadata.environment, 'production.client');
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
    await site.close();
  }
});
