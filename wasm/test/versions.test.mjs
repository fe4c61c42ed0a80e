// The version scheme, from a JavaScript client's side: rulesets order by
// (epoch, version). A compiled ruleset (epoch 0) works as a bootstrap and gives
// way to whatever the origin publishes; a destination that is wiped and published
// again starts a new epoch that clients follow without a restart; one restored to
// an older state is reported loudly and `publish --new-epoch` recovers from it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, rmSync } from 'node:fs';
import path from 'node:path';
import { createClient, Context, Ruleset } from '../npm/node.js';
import { compile, edgeflag, exampleSourceCopy, startServe, tempDir, waitFor } from './helpers.mjs';
import { readFileSync, writeFileSync } from 'node:fs';

const user = () => new Context({ key: 'user-7', country: 'FR', plan: 'enterprise' });

function setSearch(src, enabled) {
  const f = path.join(src, 'flags', 'ops.yaml');
  const text = readFileSync(f, 'utf8');
  writeFileSync(f, text.replace(/^    enabled: (true|false)$/m, `    enabled: ${enabled}`));
}

function publish(src, dir, ...extra) {
  return edgeflag(['publish', src, '--to', dir, '--env', 'production', '--actor', 'node-test', ...extra]).stdout;
}

test('a compiled ruleset bootstraps a client that then follows the published origin', async () => {
  const src = exampleSourceCopy();
  const bootstrap = compile(src).read('production');
  const dir = tempDir('edgeflag-pub-');
  publish(src, dir);
  const origin = await startServe({ dir });
  const client = createClient({ url: `${origin.url}/production/current.efr`, pollIntervalMs: 0, events: false, bootstrap });
  try {
    assert.equal(client.ruleset.epoch, 0, 'the compiled bootstrap is unpublished (epoch 0)');
    assert.equal(client.ruleset.version, 0);
    const st = await client.refresh();
    assert.equal(st.lastError, null, 'the published ruleset is accepted');
    assert.equal(st.version, 1);
    assert.ok(st.epoch > 0);
    assert.equal(client.boolValue('search-v2', user(), true), false);

    setSearch(src, true);
    publish(src, dir);
    await waitFor(async () => (await client.refresh()).version === 2, 20_000, 'v2 through serve');
    assert.equal(client.boolValue('search-v2', user(), false), true);
  } finally {
    client.close();
    await origin.close();
  }
});

test('a wiped destination starts a new epoch that running clients follow', async () => {
  const src = exampleSourceCopy();
  const dir = tempDir('edgeflag-pub-');
  publish(src, dir);
  setSearch(src, true);
  publish(src, dir);
  const origin = await startServe({ dir });
  const client = createClient({ url: `${origin.url}/production/current.efr`, pollIntervalMs: 0, events: false });
  try {
    const before = await client.refresh();
    assert.equal(before.version, 2);

    // The bucket is reset: everything gone, publishing starts again at v1.
    rmSync(dir, { recursive: true, force: true });
    setSearch(src, false);
    assert.match(publish(src, dir), /published production v1 .*\n  new epoch/);
    await waitFor(async () => (await client.refresh()).version === 1, 20_000, 'v1 of the new epoch');
    const after = client.status();
    assert.ok(after.epoch > before.epoch, `epoch ${after.epoch} after ${before.epoch}`);
    assert.equal(after.lastError, null);
    assert.equal(client.boolValue('search-v2', user(), true), false);
  } finally {
    client.close();
    await origin.close();
  }
});

test('an origin restored to an older state is reported, and --new-epoch recovers', async () => {
  const src = exampleSourceCopy();
  const dir = tempDir('edgeflag-pub-');
  publish(src, dir);
  const snapshot = tempDir('edgeflag-snap-');
  cpSync(dir, snapshot, { recursive: true });
  setSearch(src, true);
  publish(src, dir);

  let origin = await startServe({ dir });
  const port = Number(new URL(origin.url).port);
  const client = createClient({ url: `${origin.url}/production/current.efr`, pollIntervalMs: 0, events: false });
  try {
    assert.equal((await client.refresh()).version, 2);

    // Restore the v1 backup and restart the origin on the same port.
    await origin.close();
    rmSync(dir, { recursive: true, force: true });
    cpSync(snapshot, dir, { recursive: true });
    origin = await startServe({ dir, port });
    const errors = [];
    const consoleError = console.error;
    console.error = (...a) => errors.push(a.join(' '));
    let st;
    try {
      st = await client.refresh();
      await client.refresh();
    } finally {
      console.error = consoleError;
    }
    assert.equal(client.ruleset.version, 2, 'the held ruleset keeps serving');
    assert.equal(client.boolValue('search-v2', user(), false), true);
    assert.match(st.lastError, /older/);
    assert.deepEqual(st.originBehind, { held: { epoch: st.epoch, version: 2 }, served: { epoch: st.epoch, version: 1 } });
    assert.equal(client.status().refusedOlder, 2);
    assert.equal(errors.length, 1, 'said once per served version');
    assert.match(errors[0], /--new-epoch/);

    // The way out: publish the current rules as a new epoch.
    assert.match(publish(src, dir, '--new-epoch'), /new epoch/);
    await waitFor(async () => (await client.refresh()).version === 2 && client.status().epoch > st.epoch, 20_000, 'the new epoch');
    assert.equal(client.status().originBehind, null);
    assert.equal(client.boolValue('search-v2', user(), false), true);
  } finally {
    client.close();
    await origin.close();
  }
});

test('Ruleset.checkReplaces is the evaluator policy: environment, (epoch, version), same version = same content', () => {
  const src = exampleSourceCopy();
  const compiled = (version) => {
    const out = tempDir('edgeflag-out-');
    edgeflag(['compile', src, '--out', out, '--ruleset-version', String(version)]);
    return (env) => Ruleset.fromBytes(readFileSync(path.join(out, `${env}.efr`)));
  };
  const v5 = compiled(5);
  const [prod5, staging5] = [v5('production'), v5('staging')];
  assert.equal(prod5.epoch, 0);
  assert.equal(prod5.checkReplaces(null, 'production'), true);
  assert.throws(() => staging5.checkReplaces(null, 'production'), { name: 'DecodeError', kind: 'WRONG_ENVIRONMENT' });
  assert.throws(() => staging5.checkReplaces(prod5), { kind: 'WRONG_ENVIRONMENT' });
  assert.equal(prod5.checkReplaces(prod5), false, 'the held ruleset itself: nothing to do');
  const prod6 = compiled(6)('production');
  assert.equal(prod6.checkReplaces(prod5), true);
  assert.throws(() => prod5.checkReplaces(prod6), { kind: 'OLDER_VERSION' });

  // Other rules under the same version: refused, not silently ignored.
  setSearch(src, true);
  const other5 = compiled(5)('production');
  assert.notEqual(other5.checksum, prod5.checksum);
  assert.throws(() => other5.checkReplaces(prod5), { kind: 'SAME_VERSION_DIFFERS' });

  // A never-published ruleset (epoch 0, version 0) gives way to any other, even
  // another compile of other rules.
  const a0 = compiled(0)('production');
  setSearch(src, false);
  const b0 = compiled(0)('production');
  assert.notEqual(a0.checksum, b0.checksum);
  assert.equal(b0.checkReplaces(a0), true);
});
