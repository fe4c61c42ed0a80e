// The package as a consumer sees it: `npm pack` contents and the export map.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { WASM_DIR, tempDir } from './helpers.mjs';

const NPM_DIR = path.join(WASM_DIR, 'npm');

test('npm pack ships every file the entries import', () => {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json'], { cwd: NPM_DIR, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const files = new Set(JSON.parse(out)[0].files.map((f) => f.path));
  const seen = walk(files, ['browser.js', 'node.js', 'workerd.js']);
  for (const f of ['gen/edgeflag_bg.wasm', 'gen/edgeflag.js', 'index.d.ts', 'core.js', 'client.js']) {
    assert.ok(seen.has(f) || files.has(f), `${f} missing`);
  }
  // The OpenFeature providers are sub-path exports the entries never load.
  assert.deepEqual([...seen].filter((f) => f.startsWith('openfeature/')), []);
  const of = walk(files, ['openfeature/server.js', 'openfeature/web.js']);
  for (const f of ['openfeature/common.js', 'openfeature/server.d.ts', 'openfeature/web.d.ts', 'openfeature/common.d.ts']) {
    assert.ok(of.has(f) || files.has(f), `${f} missing`);
  }
});

/** The packed files reachable by relative imports from `entries` (each must be packed). */
function walk(files, entries) {
  const pending = [...entries];
  const seen = new Set();
  while (pending.length) {
    const f = pending.pop();
    if (seen.has(f)) continue;
    seen.add(f);
    assert.ok(files.has(f), `${f} is imported but not packed`);
    if (!f.endsWith('.js')) continue;
    const text = readFileSync(path.join(NPM_DIR, f), 'utf8');
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*['"](\.[^'"]+)['"]|new URL\(['"](\.[^'"]+)['"]/g)) {
      pending.push(path.posix.normalize(path.posix.join(path.posix.dirname(f), m[1] ?? m[2])));
    }
  }
  return seen;
}

test('the OpenFeature SDKs are optional peer dependencies, never dependencies of the package', () => {
  const pkg = JSON.parse(readFileSync(path.join(NPM_DIR, 'package.json'), 'utf8'));
  assert.equal(pkg.dependencies, undefined);
  assert.deepEqual(Object.keys(pkg.peerDependencies).sort(), ['@openfeature/server-sdk', '@openfeature/web-sdk']);
  for (const name of Object.keys(pkg.peerDependencies)) assert.equal(pkg.peerDependenciesMeta[name]?.optional, true, name);
  assert.equal(pkg.exports['./openfeature/server'].default, './openfeature/server.js');
  assert.equal(pkg.exports['./openfeature/web'].default, './openfeature/web.js');
});

test('a consumer importing @edgeflag/evaluator in Node gets the node entry, and it works', () => {
  const dir = tempDir('edgeflag-consumer-');
  mkdirSync(path.join(dir, 'node_modules', '@edgeflag'), { recursive: true });
  symlinkSync(NPM_DIR, path.join(dir, 'node_modules', '@edgeflag', 'evaluator'), 'dir');
  writeFileSync(path.join(dir, 'main.mjs'), `
    import * as ef from '@edgeflag/evaluator';
    const ctx = new ef.Context({ key: 'u1' });
    let kind = null;
    try { ef.Ruleset.fromBytes(new Uint8Array(3)); } catch (e) { kind = e.kind; }
    console.log(JSON.stringify({ resolved: import.meta.resolve('@edgeflag/evaluator'), key: ctx.key, kind,
      exports: Object.keys(ef).sort() }));
  `);
  const r = JSON.parse(execFileSync(process.execPath, ['main.mjs'], { cwd: dir, encoding: 'utf8' }));
  assert.match(r.resolved, /\/node\.js$/);
  assert.equal(r.key, 'u1');
  assert.equal(r.kind, 'TRUNCATED');
  assert.deepEqual(r.exports, ['Context', 'ContextError', 'DecodeError', 'FetchEventSource', 'KeyError', 'Ruleset', 'TrustedKeys',
    'createClient', 'eventsLink', 'redirectRefusal', 'retryAfterMs']);
});

test('a consumer imports @edgeflag/evaluator/openfeature/server and /web through the export map', () => {
  const dir = tempDir('edgeflag-consumer-of-');
  mkdirSync(path.join(dir, 'node_modules', '@edgeflag'), { recursive: true });
  symlinkSync(NPM_DIR, path.join(dir, 'node_modules', '@edgeflag', 'evaluator'), 'dir');
  writeFileSync(path.join(dir, 'main.mjs'), `
    import { Ruleset } from '@edgeflag/evaluator';
    import { EdgeflagProvider } from '@edgeflag/evaluator/openfeature/server';
    import { EdgeflagWebProvider } from '@edgeflag/evaluator/openfeature/web';
    let refused = null;
    try { new EdgeflagProvider('http://x/production/current.efr'); } catch (e) { refused = e.name; }
    console.log(JSON.stringify({
      server: import.meta.resolve('@edgeflag/evaluator/openfeature/server'),
      web: import.meta.resolve('@edgeflag/evaluator/openfeature/web'),
      names: [EdgeflagProvider.name, EdgeflagWebProvider.name], checks: [typeof Ruleset, refused],
    }));
  `);
  const r = JSON.parse(execFileSync(process.execPath, ['main.mjs'], { cwd: dir, encoding: 'utf8' }));
  assert.match(r.server, /\/openfeature\/server\.js$/);
  assert.match(r.web, /\/openfeature\/web\.js$/);
  assert.deepEqual(r.names, ['EdgeflagProvider', 'EdgeflagWebProvider']);
  assert.deepEqual(r.checks, ['function', 'TypeError']);
});
