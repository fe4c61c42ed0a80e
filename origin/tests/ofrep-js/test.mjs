// The official OpenFeature OFREP server provider (@openfeature/ofrep-provider
// with @openfeature/server-sdk) against a real `edgeflag serve` on loopback:
// every flag type with its reason, variant and metadata, the error codes the
// SDK reports (FLAG_NOT_FOUND, TYPE_MISMATCH, TARGETING_KEY_MISSING,
// INVALID_CONTEXT), keys (a client key sees only client-side flags, a missing
// key gets the default), the rate limit, and a flag flip becoming visible.
//
// The server provider keeps no cache and does not poll: every evaluation is
// one request to the origin, so a flip shows on the first evaluation after the
// origin serves the new ruleset. The test evaluates every 50 ms until it does,
// for at most 10 s. Every wait here is bounded.
//
// EDGEFLAG_BIN names the binary (test.sh builds it).

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, renameSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { OpenFeature, ErrorCode } from '@openfeature/server-sdk';
import { OFREPProvider } from '@openfeature/ofrep-provider';

const BIN = process.env.EDGEFLAG_BIN;
assert.ok(BIN, 'EDGEFLAG_BIN must name the edgeflag binary (run test.sh)');

const SERVER_TOKEN = 'js-server-token-0123456789abcdef';
const CLIENT_TOKEN = 'js-client-token-0123456789abcdef';

const source = (bannerDefault) => `environments: [production]
flags:
  banner:
    client_side: true
    rules:
      - id: germans
        clauses: [{attribute: country, op: in, values: [DE]}]
        serve: "on"
    fallthrough: "${bannerDefault}"
  theme:
    client_side: true
    variations: {light: light, dark: dark}
    off_variation: light
    targets: {dark: [user-7]}
    fallthrough: light
  limit:
    variations: {high: 2.5, low: 10}
    off_variation: low
    fallthrough: high
  layout:
    variations: {grid: {cols: 2, dense: true}}
    off_variation: grid
    fallthrough: grid
  kill:
    enabled: false
  rollout:
    fallthrough: {rollout: {"on": 50, "off": 50}}
`;

const root = mkdtempSync(join(tmpdir(), 'edgeflag-ofrep-js-'));
const children = [];

/** Writes the source atomically (as editors do). */
function writeSource(src, bannerDefault) {
  const tmp = join(src, '.flags.yaml.tmp');
  writeFileSync(tmp, source(bannerDefault));
  renameSync(tmp, join(src, 'flags.yaml'));
}

/** Starts `edgeflag serve --watch` over a fresh source; resolves to its base URL. */
async function serve(name, extra) {
  const dir = join(root, name);
  const src = join(dir, 'src');
  mkdirSync(src, { recursive: true });
  writeSource(src, 'off');
  const keys = join(dir, 'ofrep-keys');
  writeFileSync(keys, `server production ${SERVER_TOKEN}\nclient production ${CLIENT_TOKEN}\n`);
  chmodSync(keys, 0o600);
  const child = spawn(
    BIN,
    ['serve', '--dir', join(dir, 'pub'), '--listen', '127.0.0.1:0', '--watch', src,
      '--ofrep-keys', keys, ...extra],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, EDGEFLAG_LOG: 'warn' } },
  );
  children.push(child);
  const lines = createInterface({ input: child.stdout });
  const base = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('serve did not start within 10 s')), 10_000);
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
    lines.once('line', (line) => {
      clearTimeout(timer);
      const m = /^listening on (http:\/\/\S+)$/.exec(line);
      m ? resolve(m[1]) : reject(new Error(`unexpected first line: ${line}`));
    });
  });
  lines.on('line', () => {}); // keep draining stdout
  return { base, src };
}

/** An OpenFeature client on its own domain, over the OFREP provider. */
async function client(domain, base, token) {
  const headers = token ? [['Authorization', `Bearer ${token}`]] : [];
  const provider = new OFREPProvider({ baseUrl: `${base}/production`, headers });
  await OpenFeature.setProviderAndWait(domain, provider);
  return OpenFeature.getClient(domain);
}

after(async () => {
  await OpenFeature.close();
  for (const c of children) c.kill('SIGTERM');
  rmSync(root, { recursive: true, force: true });
});

const { base, src } = await serve('main', []);

test('every flag type with reason, variant and metadata', async () => {
  const c = await client('server', base, SERVER_TOKEN);
  const de = { targetingKey: 'u1', country: 'DE' };
  let d = await c.getBooleanDetails('banner', false, de);
  assert.equal(d.value, true);
  assert.equal(d.variant, 'on');
  assert.equal(d.reason, 'TARGETING_MATCH');
  assert.equal(d.errorCode, undefined);
  assert.equal(d.flagMetadata.edgeflagReason, 'RULE_MATCH');
  assert.equal(d.flagMetadata.ruleId, 'germans');
  assert.equal(d.flagMetadata.ruleIndex, 0);
  assert.equal(d.flagMetadata.environment, 'production');
  assert.ok(d.flagMetadata.rulesetVersion >= 1);

  d = await c.getStringDetails('theme', 'none', { targetingKey: 'user-7' });
  assert.deepEqual([d.value, d.variant, d.reason], ['dark', 'dark', 'TARGETING_MATCH']);
  assert.equal(d.flagMetadata.edgeflagReason, 'TARGET_MATCH');

  d = await c.getNumberDetails('limit', 0, { targetingKey: 'u1' });
  assert.deepEqual([d.value, d.variant, d.reason], [2.5, 'high', 'DEFAULT']);

  d = await c.getObjectDetails('layout', {}, { targetingKey: 'u1' });
  assert.deepEqual(d.value, { cols: 2, dense: true });
  assert.equal(d.variant, 'grid');

  d = await c.getBooleanDetails('kill', true, { targetingKey: 'u1' });
  assert.deepEqual([d.value, d.reason], [false, 'DISABLED']);

  d = await c.getBooleanDetails('rollout', false, { targetingKey: 'u1' });
  assert.equal(d.reason, 'SPLIT');
  assert.equal(d.flagMetadata.edgeflagReason, 'FALLTHROUGH');

  // Nested context objects are dotted attributes; targetingKey is the key.
  d = await c.getBooleanDetails('banner', false, { targetingKey: 'u1', country: 'US', address: { city: 'Berlin' } });
  assert.deepEqual([d.value, d.reason], [false, 'DEFAULT']);
});

test('errors reach the SDK as OpenFeature error codes, with the default value', async () => {
  const c = await client('errors', base, SERVER_TOKEN);
  let d = await c.getBooleanDetails('nope', true, { targetingKey: 'u1' });
  assert.deepEqual([d.value, d.errorCode, d.reason], [true, ErrorCode.FLAG_NOT_FOUND, 'ERROR']);

  d = await c.getStringDetails('banner', 'dflt', { targetingKey: 'u1' });
  assert.deepEqual([d.value, d.errorCode], ['dflt', ErrorCode.TYPE_MISMATCH]);

  d = await c.getBooleanDetails('rollout', true, { country: 'DE' });
  assert.deepEqual([d.value, d.errorCode], [true, ErrorCode.TARGETING_KEY_MISSING]);
  assert.match(d.errorMessage, /fallthrough rollout/);
  // A flag whose result does not depend on the key needs none.
  d = await c.getBooleanDetails('banner', false, { country: 'DE' });
  assert.deepEqual([d.value, d.errorCode], [true, undefined]);

  d = await c.getBooleanDetails('banner', false, { targetingKey: 'u1', user: { tags: [true] } });
  assert.deepEqual([d.value, d.errorCode], [false, ErrorCode.INVALID_CONTEXT]);
  assert.match(d.errorMessage, /user\.tags/);
});

test('keys: a client key sees only client-side flags, no key gets the default', async () => {
  const browser = await client('client-key', base, CLIENT_TOKEN);
  let d = await browser.getBooleanDetails('banner', false, { targetingKey: 'u1', country: 'DE' });
  assert.deepEqual([d.value, d.reason], [true, 'TARGETING_MATCH']);
  assert.equal(d.flagMetadata.environment, 'production.client');
  d = await browser.getNumberDetails('limit', 7, { targetingKey: 'u1' });
  assert.deepEqual([d.value, d.errorCode], [7, ErrorCode.FLAG_NOT_FOUND]);

  const anonymous = await client('no-key', base, undefined);
  d = await anonymous.getBooleanDetails('banner', false, { targetingKey: 'u1', country: 'DE' });
  assert.equal(d.value, false);
  assert.equal(d.reason, 'ERROR');
  assert.ok(d.errorCode, 'an error code');
});

test('a flag flip becomes visible', async () => {
  const c = await client('flip', base, SERVER_TOKEN);
  const us = { targetingKey: 'u1', country: 'US' };
  const before = await c.getBooleanDetails('banner', true, us);
  assert.equal(before.value, false);
  writeSource(src, 'on');
  const deadline = Date.now() + 10_000;
  let d = before;
  while (d.value !== true) {
    assert.ok(Date.now() < deadline, 'the flip was not visible within 10 s');
    await new Promise((r) => setTimeout(r, 50));
    d = await c.getBooleanDetails('banner', false, us);
    assert.equal(d.errorCode, undefined, d.errorMessage);
  }
  assert.ok(d.flagMetadata.rulesetVersion > before.flagMetadata.rulesetVersion);
  assert.equal(d.reason, 'DEFAULT');
});

test('over the rate: 429 with Retry-After pauses the provider', async () => {
  const limited = await serve('limited', ['--ofrep-rate', '3']);
  const c = await client('limited', limited.base, SERVER_TOKEN);
  const results = [];
  for (let i = 0; i < 10; i++) {
    results.push(await c.getBooleanDetails('banner', false, { targetingKey: `u${i}`, country: 'DE' }));
  }
  const served = results.filter((d) => d.errorCode === undefined);
  const refused = results.filter((d) => d.errorCode !== undefined);
  assert.ok(served.length >= 3 && served.length < 10, `served ${served.length} of 10`);
  assert.ok(refused.length > 0);
  for (const d of refused) {
    assert.equal(d.value, false);
    assert.equal(d.errorCode, ErrorCode.GENERAL);
  }
  // The provider honours Retry-After: refused until then, served after.
  assert.ok(refused.some((d) => /rate limit|TooManyRequests/i.test(d.errorMessage)));
  await new Promise((r) => setTimeout(r, 1_100));
  const d = await c.getBooleanDetails('banner', false, { targetingKey: 'late', country: 'DE' });
  assert.equal(d.value, true, d.errorMessage);
});
