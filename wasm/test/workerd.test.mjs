// Cloudflare's runtime (workerd, from npm) runs wasm/examples/edge-worker: the
// worker fetches the ruleset from a real `edgeflag serve --dir` (through a
// recording proxy) serving rulesets signed with a test key (sign_fixture), caches
// it between requests, revalidates with If-None-Match, picks up a flag flip, and
// refuses a tampered and an unsigned ruleset with its PUBLIC_KEYS. The .wasm is a `wasm` module in the config: workerd forbids
// compiling WebAssembly from bytes at run time, so this also proves the package
// never does.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { WASM_DIR, exampleSourceCopy, startServe, waitFor, compile, sign, publicKey, tempDir } from './helpers.mjs';
import { startProxy } from './proxy.mjs';

const WORKERD = path.join(WASM_DIR, 'node_modules', '.bin', 'workerd');
const MAX_AGE_MS = 1000;
let src, pub, origin, proxy, worker, base, logs = '';
const EPOCH = 1_700_000_000_000;

/** Publishes `bytes` as production/current.efr of the served directory (atomically). */
function publish(bytes) {
  const dir = path.join(pub, 'production');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, '.next.efr'), bytes);
  renameSync(path.join(dir, '.next.efr'), path.join(dir, 'current.efr'));
}

/** The production ruleset compiled from `src`, at `version`, signed by the test key of `seed`. */
function signedProduction(version, seed = 1, extra = {}) {
  return sign(compile(src).read('production'), { seed, version, epoch: EPOCH, expiresAt: Date.now() + 3_600_000, ...extra });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

before(async () => {
  src = exampleSourceCopy();
  pub = tempDir('edgeflag-pub-');
  publish(signedProduction(1));
  origin = await startServe({ dir: pub });
  proxy = await startProxy(origin.url);
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  worker = spawn(WORKERD, ['serve', path.join(WASM_DIR, 'examples', 'edge-worker', 'config.capnp'),
    '--socket-addr', `http=127.0.0.1:${port}`], {
    env: { ...process.env, RULESET_URL: `${proxy.url}/production/current.efr`, MAX_AGE_MS: String(MAX_AGE_MS), PUBLIC_KEYS: publicKey(1) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  worker.stdout.on('data', (d) => { logs += d; });
  worker.stderr.on('data', (d) => { logs += d; });
  await waitFor(async () => {
    if (worker.exitCode !== null) throw new Error(`workerd exited ${worker.exitCode}:\n${logs}`);
    try { return (await fetch(`${base}/?key=probe`)).status > 0; } catch { return false; }
  }, 30_000, 'workerd to listen');
});

after(async () => {
  if (worker && worker.exitCode === null) {
    await new Promise((r) => { worker.once('exit', r); worker.kill('SIGTERM'); });
  }
  await proxy?.close();
  await origin?.close();
});

async function ask(query) {
  const res = await fetch(`${base}/?${query}`);
  const body = await res.json();
  assert.equal(res.status, 200, `${JSON.stringify(body)}\n${logs}`);
  return body;
}

test('the edge function evaluates per request from a cached, revalidated ruleset', async () => {
  const first = await ask('flag=new-checkout&key=user-42&email=ana@edgeflag.dev&country=DE&plan=pro');
  assert.equal(first.environment, 'production');
  assert.equal(first.version, 1);
  assert.match(first.signedBy, /^[0-9a-f]{16}$/);
  assert.equal(first.refused, null);
  assert.equal(first.detail.value, true);
  assert.deepEqual(first.detail.reason, { kind: 'RULE_MATCH', rule_index: 0, rule_id: 'internal' });

  // Many requests inside MAX_AGE_MS reuse the cached ruleset: no origin request.
  const n = proxy.log.length;
  const t0 = Date.now();
  for (let i = 0; i < 20; i++) await ask(`flag=search-v2&key=user-${i}`);
  const took = Date.now() - t0;
  const checks = proxy.log.length - n;
  assert.ok(checks <= Math.ceil(took / MAX_AGE_MS), `${checks} origin requests for 20 requests in ${took} ms`);

  // After MAX_AGE_MS a request revalidates: a conditional GET, answered 304.
  await new Promise((r) => setTimeout(r, MAX_AGE_MS + 50));
  const again = await ask('flag=search-v2&key=user-7');
  assert.equal(again.detail.reason.kind, 'OFF');
  const reval = proxy.log.slice(n).filter((e) => e.url.endsWith('/current.efr'));
  assert.ok(reval.length >= 1);
  assert.equal(reval.at(-1).ifNoneMatch, first.etag);
  assert.equal(reval.at(-1).status, 304);
  assert.equal(proxy.log.filter((e) => e.url.endsWith('/current.efr') && e.status === 200).length, 1,
    'the ruleset body was downloaded once');

  // A flip at the origin (compiled, signed, published) reaches the edge function within MAX_AGE_MS.
  const f = path.join(src, 'flags', 'ops.yaml');
  writeFileSync(f, readFileSync(f, 'utf8').replace(/^    enabled: false$/m, '    enabled: true'));
  publish(signedProduction(2));
  const flipped = await waitFor(async () => {
    const b = await ask('flag=search-v2&key=user-7');
    return b.version > first.version ? b : null;
  }, 30_000, 'the flip at the edge');
  assert.notEqual(flipped.detail.reason.kind, 'OFF');
  assert.equal(flipped.detail.value, true);
});

test('the edge function refuses a tampered and an unsigned ruleset and keeps the last good one', async () => {
  const good = await waitFor(async () => { const b = await ask('flag=search-v2&key=user-7'); return b.version === 2 ? b : null; },
    30_000, 'version 2');
  // Tampered (the signature of other content, checksum valid), then unsigned; each
  // a newer version, flipping search-v2 back off: neither may take effect.
  const f = path.join(src, 'flags', 'ops.yaml');
  writeFileSync(f, readFileSync(f, 'utf8').replace(/^    enabled: true$/m, '    enabled: false'));
  // (The origin would not serve the unsigned compile, epoch 0, after version 3:
  // the proxy injects it.)
  for (const [bytes, kind] of [[signedProduction(3, 1, { tamper: true }), 'BAD_SIGNATURE'], [compile(src).read('production'), 'UNSIGNED']]) {
    if (kind === 'UNSIGNED') proxy.state.fault = { body: bytes };
    else publish(bytes);
    const refused = await waitFor(async () => { const b = await ask('flag=search-v2&key=user-7'); return b.refused === kind ? b : null; },
      30_000, `the ${kind} ruleset to be refused`);
    assert.equal(refused.refused, kind);
    assert.equal(refused.version, 2);
    assert.deepEqual(refused.detail, good.detail);
    assert.equal(refused.signedBy, good.signedBy);
  }
  proxy.state.fault = null;
  // Signed by the key: taken.
  publish(signedProduction(4));
  const next = await waitFor(async () => { const b = await ask('flag=search-v2&key=user-7'); return b.version === 4 ? b : null; },
    30_000, 'version 4');
  assert.equal(next.refused, null);
  assert.equal(next.detail.reason.kind, 'OFF');
});
