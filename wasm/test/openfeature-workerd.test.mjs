// The server provider in Cloudflare's runtime (workerd, from npm): the worker
// in test/workerd-openfeature resolves through the real @openfeature/server-sdk
// (nodejs_compat: the SDK imports node:events and async_hooks) over the workerd
// entry's client, which revalidates against a real `edgeflag serve --watch`.
// Typed resolves with the one mapping's reasons, the errors, and a flag flip
// picked up on revalidation as PROVIDER_CONFIGURATION_CHANGED.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { WASM_DIR, startServe, waitFor } from './helpers.mjs';
import { DEFAULTS, expectedError, expectedReason, projectSource } from './openfeature-helpers.mjs';

const WORKERD = path.join(WASM_DIR, 'node_modules', '.bin', 'workerd');
let project, origin, worker, base, logs = '';

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

before(async () => {
  project = projectSource();
  origin = await startServe({ watch: project.dir });
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  worker = spawn(WORKERD, ['serve', path.join(WASM_DIR, 'test', 'workerd-openfeature', 'config.capnp'),
    '--socket-addr', `http=127.0.0.1:${port}`], {
    env: { ...process.env, RULESET_URL: `${origin.url}/production/current.efr`, MAX_AGE_MS: '300' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  worker.stdout.on('data', (d) => { logs += d; });
  worker.stderr.on('data', (d) => { logs += d; });
  await waitFor(async () => {
    if (worker.exitCode !== null) throw new Error(`workerd exited ${worker.exitCode}:\n${logs}`);
    try { return (await fetch(`${base}/?flag=banner`)).status > 0; } catch { return false; }
  }, 30_000, 'workerd to listen');
});

after(async () => {
  if (worker && worker.exitCode === null) {
    await new Promise((r) => { worker.once('exit', r); worker.kill('SIGTERM'); });
  }
  await origin?.close();
});

async function ask(flag, type, context) {
  const res = await fetch(`${base}/?flag=${flag}&type=${type}&context=${encodeURIComponent(JSON.stringify(context))}`);
  const body = await res.json();
  assert.equal(res.status, 200, `${JSON.stringify(body)}\n${logs}`);
  return body;
}

test('OpenFeature in workerd: typed resolves, reasons by the one mapping, errors with the default', async () => {
  let r = await ask('banner', 'boolean', { targetingKey: 'u1', country: 'DE' });
  assert.equal(r.status, 'READY', logs);
  assert.deepEqual([r.details.value, r.details.variant, r.details.reason, r.details.errorCode ?? null],
    [true, 'on', expectedReason({ reason: { kind: 'RULE_MATCH' }, in_rollout: false }), null]);
  assert.deepEqual([r.details.flagMetadata.reason, r.details.flagMetadata.rule_id, r.details.flagMetadata.environment],
    ['RULE_MATCH', 'germans', 'production']);
  r = await ask('theme', 'string', { targetingKey: 'user-7' });
  assert.deepEqual([r.details.value, r.details.reason], ['dark', expectedReason({ reason: { kind: 'TARGET_MATCH' }, in_rollout: false })]);
  r = await ask('layout', 'object', { targetingKey: 'u1', address: { country: 'DE' } });
  assert.deepEqual([r.details.value, r.details.reason], [{ cols: 2, dense: true }, expectedReason({ reason: { kind: 'FALLTHROUGH' }, in_rollout: false })]);
  r = await ask('rollout', 'boolean', { targetingKey: 'u1' });
  assert.equal(r.details.reason, expectedReason({ reason: { kind: 'FALLTHROUGH' }, in_rollout: true }));
  r = await ask('kill', 'boolean', { targetingKey: 'u1' });
  assert.deepEqual([r.details.value, r.details.reason], [false, expectedReason({ reason: { kind: 'OFF' }, in_rollout: false })]);
  r = await ask('nope', 'number', { targetingKey: 'u1' });
  assert.deepEqual([r.details.value, r.details.errorCode], [DEFAULTS.number, expectedError('FLAG_NOT_FOUND')]);
  r = await ask('limit', 'string', { targetingKey: 'u1' });
  assert.deepEqual([r.details.value, r.details.errorCode], [DEFAULTS.string, expectedError('WRONG_TYPE')]);
  r = await ask('banner', 'boolean', { targetingKey: 'u1', tags: [true] });
  assert.deepEqual([r.details.value, r.details.errorCode], [DEFAULTS.boolean, 'INVALID_CONTEXT']);
});

test('OpenFeature in workerd: a flip at the origin arrives on revalidation as PROVIDER_CONFIGURATION_CHANGED', async () => {
  const us = { targetingKey: 'u1', country: 'US' };
  const before = await ask('banner', 'boolean', us);
  assert.equal(before.details.value, false);
  project.flip('on');
  const after = await waitFor(async () => {
    const r = await ask('banner', 'boolean', us);
    return r.version > before.version ? r : null;
  }, 30_000, 'the flip in the worker');
  assert.deepEqual([after.details.value, after.details.variant, after.status], [true, 'on', 'READY']);
  const changed = after.events.filter((e) => e.type === 'PROVIDER_CONFIGURATION_CHANGED');
  assert.equal(changed.length, 1, JSON.stringify(after.events));
  assert.equal(changed[0].version, after.version);
  assert.equal(after.events[0].type, 'PROVIDER_READY');
});
