// The golden cases of tests/vectors/cases.json, evaluated by the WASM build in Node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { Ruleset, Context, ContextError } from '../npm/node.js';
import { ROOT, compile, tempDir } from './helpers.mjs';

const suites = JSON.parse(readFileSync(path.join(ROOT, 'tests/vectors/cases.json'), 'utf8'));

/** Numbers by value, objects without regard to key order (tests/vectors/README.md). */
function same(a, b) {
  if (typeof a === 'number' && typeof b === 'number') return a === b;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => same(x, b[i]));
  }
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && same(a[k], b[k]));
  }
  return a === b;
}

test('golden vectors (tests/vectors/cases.json)', (t) => {
  const failures = [];
  let ran = 0;
  for (const suite of suites) {
    const src = tempDir('edgeflag-vec-');
    mkdirSync(path.join(src, 'src'));
    writeFileSync(path.join(src, 'src', `${suite.name}.json`), JSON.stringify(suite.source, null, 1));
    let rs;
    try {
      rs = Ruleset.fromBytes(compile(path.join(src, 'src')).read(suite.environment ?? 'default'));
    } catch (e) {
      failures.push(`suite ${suite.name}: ${e.message}`);
      continue;
    }
    for (const c of suite.cases) {
      ran++;
      const where = `${suite.name} / ${c.name}`;
      if (c.expect_context_error !== undefined) {
        try {
          new Context(c.context);
          failures.push(`${where}: context accepted, expected an error naming ${c.expect_context_error}`);
        } catch (e) {
          if (!(e instanceof ContextError) || !e.message.includes(c.expect_context_error)) {
            failures.push(`${where}: wrong error ${e.name}: ${e.message}`);
          }
        }
        continue;
      }
      const ctx = new Context(c.context);
      const text = rs.evaluateJSON(c.flag, ctx, c.getter);
      const got = JSON.parse(text);
      if (!same(got, c.expect)) {
        failures.push(`${where}: got ${text}, expected ${JSON.stringify(c.expect)}`);
      }
      // "compact text: …" notes give the exact JSON text of the value.
      const compact = /^compact text: (.*)$/.exec(c.note ?? '');
      if (compact && !text.includes(`"value":${compact[1]},`)) {
        failures.push(`${where}: value text is not ${compact[1]}: ${text}`);
      }
      // Typed getters agree with the detail (value or the default).
      const sentinel = Symbol('default');
      const typed = { bool: 'boolValue', string: 'stringValue', number: 'numberValue', json: 'jsonValue' }[c.getter];
      if (typed) {
        const v = rs[typed](c.flag, ctx, sentinel);
        const want = c.expect.reason.kind === 'ERROR' ? sentinel : c.expect.value;
        if (!(v === sentinel ? want === sentinel : same(v, want))) {
          failures.push(`${where}: ${typed} gave ${String(v)}, expected ${String(want)}`);
        }
      }
      ctx.free();
    }
  }
  t.diagnostic(`${ran} cases in ${suites.length} suites`);
  assert.ok(ran > 50, `only ${ran} cases ran`);
  assert.deepEqual(failures, [], `${failures.length} of ${ran} cases failed`);
});
