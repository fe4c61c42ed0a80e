// Cloudflare's runtime (workerd, from npm) runs wasm/examples/edge-worker: the
// worker fetches the ruleset from a real `edgeflag serve` (through a recording
// proxy), caches it between requests, revalidates with If-None-Match, and picks
// up a flag flip. The .wasm is a `wasm` module in the config: workerd forbids
// compiling WebAssembly from bytes at run time, so this also proves the package
// never does.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { WASM_DIR, exampleSourceCopy, startServe, waitFor } from './helpers.mjs';
import { startProxy } from './proxy.mjs';

const WORKERD = path.join(WASM_DIR, 'node_modules', '.bin', 'workerd');
const MAX_AGE_MS = 1000;
let src, origin, proxy, worker, base, logs = '';

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

before(async () => {
  src = exampleSourceCopy();
  origin = await startServe({ watch: src });
  proxy = await startProxy(origin.url);
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  worker = spawn(WORKERD, ['serve', path.join(WASM_DIR, 'examples', 'edge-worker', 'config.capnp'),
    '--socket-addr', `http=127.0.0.1:${port}`], {
    env: { ...process.env, RULESET_URL: `${proxy.url}/production/current.efr`, MAX_AGE_MS: String(MAX_AGE_MS) },
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

  // A flip at the origin reaches the edge function within MAX_AGE_MS.
  const f = path.join(src, 'flags', 'ops.yaml');
  writeFileSync(f, readFileSync(f, 'utf8').replace(/^    enabled: false$/m, '    enabled: true'));
  const flipped = await waitFor(async () => {
    const b = await ask('flag=search-v2&key=user-7');
    return b.version > first.version ? b : null;
  }, 30_000, 'the flip at the edge');
  assert.notEqual(flipped.detail.reason.kind, 'OFF');
  assert.equal(flipped.detail.value, true);
});
