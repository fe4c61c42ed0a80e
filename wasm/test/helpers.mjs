// Shared test helpers: the native `edgeflag` binary, compiling sources, and a
// real `edgeflag serve` origin on loopback.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, cpSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const WASM_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const ROOT = path.resolve(WASM_DIR, '..');
const targetDir = process.env.CARGO_TARGET_DIR || path.join(ROOT, 'target');
/** The native CLI (`cargo build -p edgeflag-cli`); EDGEFLAG_BIN overrides. */
export const EDGEFLAG = process.env.EDGEFLAG_BIN || path.join(targetDir, 'debug', 'edgeflag');

export function tempDir(prefix = 'edgeflag-wasm-') {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/** Runs the CLI; throws with its stderr on a non-zero exit. */
export function edgeflag(args, opts = {}) {
  const r = spawnSync(EDGEFLAG, args, { encoding: 'utf8', maxBuffer: 1 << 30, ...opts });
  if (r.error) throw r.error;
  if (r.status !== 0 && !opts.allowFailure) {
    throw new Error(`edgeflag ${args.join(' ')} exited ${r.status}:\n${r.stderr}`);
  }
  return r;
}

/** Compiles a source directory; returns { dir, read(env) → Uint8Array }. */
export function compile(srcDir) {
  const out = tempDir('edgeflag-out-');
  edgeflag(['compile', srcDir, '--out', out]);
  return { dir: out, read: (env) => new Uint8Array(readFileSync(path.join(out, `${env}.efr`))) };
}

/** A copy of examples/ that a test may edit (flag flips under --watch). */
export function exampleSourceCopy() {
  const dir = tempDir('edgeflag-src-');
  cpSync(path.join(ROOT, 'examples'), dir, { recursive: true });
  return dir;
}

/**
 * Starts `edgeflag serve --dir DIR --listen 127.0.0.1:PORT [--watch SRC]` (port 0
 * picks a free one) and resolves
 * with { url, proc, close() } once it prints its address.
 */
export function startServe({ dir, watch, port = 0 } = {}) {
  const args = ['serve', '--dir', dir ?? tempDir('edgeflag-pub-'), '--listen', `127.0.0.1:${port}`];
  if (watch) args.push('--watch', watch);
  const proc = spawn(EDGEFLAG, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, EDGEFLAG_LOG: 'warn' } });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => { proc.kill(); reject(new Error(`edgeflag serve did not start:\n${stderr}`)); }, 60_000);
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`edgeflag serve exited ${code}:\n${stderr}`)); });
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({
          url: m[1],
          proc,
          stderr: () => stderr,
          // SIGTERM (graceful), then SIGKILL if open event streams hold it up.
          close: () => new Promise((r) => {
            if (proc.exitCode !== null) return r();
            const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
            proc.once('exit', () => { clearTimeout(t); r(); });
            proc.kill('SIGTERM');
          }),
        });
      }
    });
  });
}

/** Polls `f` until it returns a truthy value or `ms` pass. */
export async function waitFor(f, ms = 20_000, what = 'condition') {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A seeded PRNG (mulberry32): the same seed gives the same contexts. */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The signing helper for tests (`cargo build -p edgeflag-wasm --example
 * sign_fixture`; EDGEFLAG_SIGN_FIXTURE overrides): the WASM build cannot sign.
 */
export const SIGN_FIXTURE = process.env.EDGEFLAG_SIGN_FIXTURE || path.join(targetDir, 'debug', 'examples', 'sign_fixture');

function signFixture(args) {
  const r = spawnSync(SIGN_FIXTURE, args, { encoding: 'utf8' });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`sign_fixture ${args.join(' ')} exited ${r.status}:\n${r.stderr}`);
  return r.stdout;
}

/** The public key (text form) of the test key of `seed` (0–255). */
export function publicKey(seed) {
  return signFixture(['public', String(seed)]).trim();
}

/**
 * `bytes` (a compiled ruleset) re-encoded at `version`/`epoch` and signed with the
 * test key of `seed`, expiring at `expiresAt` (Unix ms) when given; `tamper`:
 * with the signature of other content (valid checksum, wrong signature).
 */
export function sign(bytes, { seed, version, epoch, expiresAt, tamper = false }) {
  const dir = tempDir('edgeflag-sign-');
  const input = path.join(dir, 'in.efr');
  const output = path.join(dir, 'out.efr');
  writeFileSync(input, bytes);
  const args = ['sign', String(seed), input, output];
  if (version !== undefined) args.push('--version', String(version));
  if (epoch !== undefined) args.push('--epoch', String(epoch));
  if (expiresAt !== undefined) args.push('--expires-at', String(Math.round(expiresAt)));
  if (tamper) args.push('--tamper');
  signFixture(args);
  return new Uint8Array(readFileSync(output));
}

/**
 * A project with client-side flags (the `PROJECT` of compiler/tests/client.rs):
 * targets, an `in` clause on hashed attributes (numbers among them), a clear
 * attribute (`path`, under `client_side.clear_attributes`) with `starts_with`,
 * nested segments with include/exclude, a non-client prerequisite, and a
 * server-only flag with its own targets and segment.
 */
export const CLIENT_PROJECT = `environments: [staging, production]
client_side:
  clear_attributes: [path]
segments:
  staff:
    include: [carol@corp.example]
    exclude: [mallory@corp.example]
    rules:
      - clauses: [{attribute: team, op: in, values: [payments, search]}]
  beta:
    include: [dave@example.com]
    rules:
      - clauses: [{attribute: plan, op: in, values: [enterprise]}]
      - clauses: [{op: in_segment, values: [staff]}]
  internal-only:
    include: [secret-agent@example.com]
flags:
  checkout-v2:
    client_side: true
    prerequisites: [{flag: payments-ready, variations: [on]}]
    targets:
      on: [alice@example.com, bob@example.com]
      off: [eve@example.com]
    rules:
      - id: beta-users
        clauses: [{op: in_segment, values: [beta]}]
        serve: on
      - clauses:
          - {attribute: country, op: in, values: [DE, FR, "42"]}
          - {attribute: age, op: gte, values: [18]}
        serve: {rollout: {on: 30, off: 70}}
      - clauses: [{attribute: path, op: starts_with, values: [/admin]}]
        serve: off
    fallthrough: off
  payments-ready:
    targets: {off: [frank@example.com]}
    rules:
      - clauses: [{attribute: country, op: in, values: [XX], negate: true}]
        serve: on
    fallthrough: off
  banner:
    client_side: true
    variations: {red: "#f00", blue: "#00f", none: ""}
    off_variation: none
    rules:
      - clauses: [{attribute: email, op: in, values: [grace@example.com]}]
        serve: red
      - clauses: [{attribute: tags, op: in, values: [vip]}]
        serve: blue
    fallthrough: {rollout: {red: 50, blue: 50}, bucket_by: email}
    environments:
      production: {enabled: false}
  server-only:
    targets: {on: [heidi@example.com]}
    rules:
      - clauses: [{op: in_segment, values: [internal-only]}]
        serve: on
      - clauses: [{attribute: email, op: ends_with, values: ["@corp.example"]}]
        serve: on
`;

/** Every user id and value the client ruleset of CLIENT_PROJECT must not list in clear. */
export const CLIENT_PROJECT_SECRETS = [
  'alice@example.com', 'bob@example.com', 'eve@example.com', 'carol@corp.example', 'mallory@corp.example',
  'dave@example.com', 'frank@example.com', 'secret-agent@example.com', 'heidi@example.com', 'grace@example.com',
  'server-only', 'internal-only', '@corp.example',
];

/** CLIENT_PROJECT written to a fresh source directory; returns its path. */
export function clientProjectSource() {
  const dir = tempDir('edgeflag-client-src-');
  writeFileSync(path.join(dir, 'flags.yaml'), CLIENT_PROJECT);
  return dir;
}
