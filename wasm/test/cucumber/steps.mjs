// The OpenFeature conformance scenarios (tests/openfeature/features/*.feature,
// shared with the Rust provider's runner, openfeature/tests/conformance.rs)
// run against the server provider (npm/openfeature/server.js) through the
// real @openfeature/server-sdk in Node.
//
// Each scenario writes its flags (edgeflag YAML, from the feature file) to a
// scratch project, publishes it with the real `edgeflag publish`, serves it
// with a real `edgeflag serve` on loopback, and registers a provider over the
// package's client polling that origin with the SDK under a domain of its
// own; every evaluation, status and event is read through the SDK's client.
//
// Run by wasm/test.sh (after the package is built):
//   node_modules/.bin/cucumber-js --strict --import 'test/cucumber/*.mjs' ../tests/openfeature/features
// Needs the `edgeflag` binary (EDGEFLAG_BIN, else target/debug/edgeflag).
import { After, AfterAll, Given, Then, When, setDefaultTimeout, setWorldConstructor } from '@cucumber/cucumber';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { OpenFeature, ProviderEvents } from '@openfeature/server-sdk';
import { createClient } from '../../npm/node.js';
import { EdgeflagProvider } from '../../npm/openfeature/server.js';
import { edgeflag, startServe, tempDir } from '../helpers.mjs';

setDefaultTimeout(60_000);

/** How long registering a provider over a served ruleset may wait for it (ms). */
const READY_MS = 10_000;

const METHOD = {
  boolean: 'getBooleanDetails',
  string: 'getStringDetails',
  integer: 'getNumberDetails',
  float: 'getNumberDetails',
  object: 'getObjectDetails',
};

let scenarios = 0;

class Conformance {
  constructor() {
    this.name = `conformance-${scenarios++}`;
    const root = tempDir('edgeflag-conformance-');
    this.src = path.join(root, 'src');
    this.dest = path.join(root, 'pub');
    mkdirSync(this.src);
    mkdirSync(this.dest);
    this.publicKeys = undefined;
    this.origin = null;
    this.client = null;
    this.of = null;
    this.events = [];
    this.last = null;
  }

  writeFlags(yaml) {
    const tmp = path.join(this.src, '.flags.yaml.tmp');
    writeFileSync(tmp, yaml);
    renameSync(tmp, path.join(this.src, 'flags.yaml'));
  }

  publish(extra = []) {
    const r = edgeflag(['publish', this.src, '--to', this.dest, ...extra], {
      env: { ...process.env, EDGEFLAG_ACTOR: 'conformance' },
    });
    assert.match(r.stdout, /published production v\d+/);
  }

  /** Starts the origin, a client and the provider; registers it (and waits for READY if `wait`). */
  async register(wait) {
    this.origin = await startServe({ dir: this.dest });
    this.client = createClient({
      url: `${this.origin.url}/production/current.efr`,
      environment: 'production',
      pollIntervalMs: 100,
      maxBackoffMs: 400,
      publicKeys: this.publicKeys,
    });
    this.of = OpenFeature.getClient(this.name);
    // Every provider event the domain's client sees, in order.
    for (const type of [ProviderEvents.Ready, ProviderEvents.Error, ProviderEvents.ConfigurationChanged, ProviderEvents.Stale]) {
      this.of.addHandler(type, () => this.events.push(type));
    }
    const provider = new EdgeflagProvider(this.client);
    if (wait) {
      let timer;
      const timeout = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`not READY within ${READY_MS} ms`)), READY_MS); });
      await Promise.race([OpenFeature.setProviderAndWait(this.name, provider), timeout]).finally(() => clearTimeout(timer));
    } else {
      OpenFeature.setProvider(this.name, provider);
    }
  }

  async evaluate(type, key, dflt, context) {
    const d = await this.of[METHOD[type]](key, dflt, context);
    return {
      value: d.value,
      variant: d.variant,
      reason: d.reason,
      errorCode: d.errorCode,
      errorMessage: d.errorMessage,
      metadata: d.flagMetadata ?? {},
    };
  }

  get outcome() {
    assert.ok(this.last, 'a flag was evaluated');
    return this.last;
  }

  async close() {
    this.client?.close();
    await this.origin?.close();
  }
}

setWorldConstructor(Conformance);

After(async function () {
  await this.close();
});

AfterAll(async () => {
  await OpenFeature.close();
});

/** Polls `f` every 50 ms until it is truthy, at most `ms`. */
async function eventually(ms, what, f) {
  const end = Date.now() + ms;
  for (;;) {
    if (await f()) return;
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const seconds = (s) => (s === undefined ? 0 : Number(s) * 1000);

// --- Given -------------------------------------------------------------------

Given('the flags:', function (yaml) {
  this.writeFlags(yaml);
});

Given('a provider serving the published flags', async function () {
  this.publish();
  await this.register(true);
  assert.equal(this.of.providerStatus, 'READY');
});

Given(/^a provider serving the flags published signed and expiring after (\d+) seconds$/, async function (s) {
  const key = path.join(path.dirname(this.dest), 'signing-key');
  edgeflag(['keygen', '--out', key]);
  this.publish(['--signing-key', key, '--expires-in', `${s}s`]);
  this.publicKeys = readFileSync(`${key}.pub`, 'utf8');
  await this.register(true);
  assert.equal(this.client.status().verified, true);
});

Given('a provider whose origin has published nothing yet', async function () {
  await this.register(false);
});

// --- When --------------------------------------------------------------------

When('the flags are published', function () {
  this.publish();
});

When('the flags are changed to:', function (yaml) {
  this.writeFlags(yaml);
  this.publish();
});

When(/^the (boolean|string|integer|float|object) flag ([^ ]+) is evaluated with default (.+) and context (\{.*\})$/,
  async function (type, key, dflt, context) {
    this.last = await this.evaluate(type, JSON.parse(key), JSON.parse(dflt), JSON.parse(context));
  });

// --- Then --------------------------------------------------------------------

Then(/^(?:within (\d+) seconds )?the (boolean|string|integer|float|object) flag "([^"]+)" evaluates to (.+)$/,
  async function (within, type, key, value) {
    const want = JSON.parse(value);
    await eventually(seconds(within), `${key} evaluates to ${value}`, async () => {
      this.last = await this.evaluate(type, key, null, {});
      try {
        assert.equal(this.last.errorCode, undefined);
        assert.deepEqual(this.last.value, want);
        return true;
      } catch {
        return false;
      }
    });
  });

Then(/^the value is (.+)$/, function (value) {
  assert.deepEqual(this.outcome.value, JSON.parse(value), JSON.stringify(this.outcome));
});

Then(/^the variant is "([^"]*)"$/, function (variant) {
  assert.equal(this.outcome.variant, variant);
});

Then('there is no variant', function () {
  assert.equal(this.outcome.variant, undefined);
});

Then(/^the reason is ([A-Z_]+)$/, function (reason) {
  assert.equal(this.outcome.reason, reason, JSON.stringify(this.outcome));
});

Then(/^the error code is ([A-Z_]+)$/, function (code) {
  assert.equal(this.outcome.errorCode, code, JSON.stringify(this.outcome));
});

Then('there is no error code', function () {
  assert.equal(this.outcome.errorCode, undefined, JSON.stringify(this.outcome));
});

Then(/^the error message contains "([^"]*)"$/, function (text) {
  assert.ok((this.outcome.errorMessage ?? '').includes(text), `error message ${JSON.stringify(this.outcome.errorMessage)} lacks ${text}`);
});

Then(/^the flag metadata "([^"]+)" is a positive number$/, function (key) {
  const v = this.outcome.metadata[key];
  assert.ok(typeof v === 'number' && v > 0, `${key}: ${v}`);
});

// A JSON value (not "a positive number", the step above).
Then(/^the flag metadata "([^"]+)" is ([[{"\-0-9tfn].*)$/, function (key, value) {
  assert.deepEqual(this.outcome.metadata[key], JSON.parse(value), JSON.stringify(this.outcome.metadata));
});

Then(/^the flag metadata has no "([^"]+)"$/, function (key) {
  assert.equal(Object.hasOwn(this.outcome.metadata, key), false, JSON.stringify(this.outcome.metadata));
});

Then(/^the provider's name is "([^"]+)"$/, function (name) {
  assert.equal(OpenFeature.getProviderMetadata(this.name).name, name);
  assert.equal(this.of.metadata.providerMetadata.name, name);
});

Then(/^(?:within (\d+) seconds )?the provider status is ([A-Z_]+)$/, async function (within, status) {
  await eventually(seconds(within), `status ${status} (is ${this.of.providerStatus})`, () => this.of.providerStatus === status);
});

Then(/^(?:within (\d+) seconds )?the provider has emitted ([A-Z_]+)$/, async function (within, event) {
  await eventually(seconds(within), `${event} (seen: ${this.events.join(', ') || 'none'})`, () => this.events.includes(event));
});

Then(/^the provider has not emitted ([A-Z_]+)$/, function (event) {
  assert.ok(!this.events.includes(event), `seen: ${this.events.join(', ')}`);
});
