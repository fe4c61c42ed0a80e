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
  const pending = ['browser.js', 'node.js', 'workerd.js'];
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
  for (const f of ['gen/edgeflag_bg.wasm', 'gen/edgeflag.js', 'index.d.ts', 'core.js', 'client.js']) {
    assert.ok(seen.has(f) || files.has(f), `${f} missing`);
  }
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
