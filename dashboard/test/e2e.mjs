// End to end in headless Chromium: a real `edgeflag server` (embedded
// defaults, dashboard built in), the first admin from the printed setup link,
// create a flag, roll it out to 10 %, flip the kill switch — and after each
// step the origin serves the change (OFREP evaluations of the published
// ruleset and its version). Screenshots go to $SCREENSHOTS
// (default: a temp dir); the README's is docs/img/dashboard.png.
//
//   EDGEFLAG_BIN=target/debug/edgeflag node dashboard/test/e2e.mjs
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const root = resolve(import.meta.dirname, '../..');
const bin = process.env.EDGEFLAG_BIN ?? join(root, 'target/debug/edgeflag');
const browserPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const shots = process.env.SCREENSHOTS ?? mkdtempSync(join(tmpdir(), 'edgeflag-dashboard-shots-'));
mkdirSync(shots, { recursive: true });
const data = mkdtempSync(join(tmpdir(), 'edgeflag-dashboard-e2e-'));

const deadline = setTimeout(() => { console.error('e2e: timed out after 120 s'); process.exit(1); }, 120_000);

const server = spawn(bin, ['server', '--data', data, '--listen', '127.0.0.1:0'], {
  stdio: ['ignore', 'pipe', 'inherit'],
  env: { ...process.env, EDGEFLAG_BOOTSTRAP_TOKEN: '' },
});
const { base, setup } = await new Promise((ok, fail) => {
  let base;
  server.on('exit', (code) => fail(new Error(`edgeflag server exited with ${code}`)));
  createInterface({ input: server.stdout }).on('line', (line) => {
    const listening = line.match(/^listening on (http:\/\/\S+)/);
    if (listening) base = listening[1];
    const link = line.match(/(http:\/\/\S+\/\?setup=[0-9a-f]+)/);
    if (link && base) ok({ base, setup: link[1] });
  });
});

async function ofrep(env, key, targetingKey) {
  const resp = await fetch(`${base}/${env}/ofrep/v1/evaluate/flags/${key}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ context: { targetingKey } }),
  });
  return resp.json();
}

// The version of the ruleset the origin serves for `env` (from an OFREP
// evaluation of it).
async function servedVersion(env) {
  const resp = await fetch(`${base}/${env}/ofrep/v1/evaluate/flags`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ context: { targetingKey: 'version-probe' } }),
  });
  assert.equal(resp.status, 200);
  return (await resp.json()).metadata.rulesetVersion;
}

async function share(env, key, users) {
  let on = 0;
  for (let i = 0; i < users; i++) if ((await ofrep(env, key, `user-${i}`)).value === true) on++;
  return on / users;
}

const browser = await chromium.launch({ executablePath: browserPath, args: ['--no-sandbox'] });
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on('pageerror', (e) => { throw e; });

  // Not signed in: the sign-in form. The setup link makes the first admin.
  await page.goto(base);
  await page.getByRole('button', { name: 'Sign in' }).waitFor();
  await page.goto(setup);
  await page.getByLabel('User name').fill('ana');
  await page.getByLabel('Password').fill('a long passphrase');
  await page.getByRole('button', { name: 'Create admin and sign in' }).click();
  await page.getByRole('heading', { name: 'Flags' }).waitFor();
  await page.getByText('ana · admin').waitFor();

  // Create a flag: on in every environment (the default fallthrough).
  await page.getByLabel('New flag key').fill('new-checkout');
  await page.getByLabel('Description').fill('The one-page checkout');
  await page.getByRole('button', { name: 'Create flag' }).click();
  await page.getByRole('heading', { name: 'new-checkout' }).waitFor();
  await page.getByRole('tab', { name: /production/ }).click();
  await page.getByTestId('kill-switch').filter({ hasText: 'production' }).waitFor();
  assert.equal((await ofrep('production', 'new-checkout', 'user-1')).value, true);

  // Roll out to 10 % in production.
  const before = await servedVersion('production');
  await page.getByLabel('Percent served “on”').fill('10');
  assert.equal(await page.getByTestId('weight-off').inputValue(), '90');
  await page.getByTestId('save-rollout').click();
  await page.getByTestId('serving').filter({ hasText: `v${before + 1}` }).waitFor();
  assert.equal(await servedVersion('production'), before + 1);
  const rolled = await share('production', 'new-checkout', 400);
  assert.ok(rolled > 0.04 && rolled < 0.18, `about 10 % of users get "on": ${rolled}`);
  assert.equal(await share('staging', 'new-checkout', 20), 1, 'staging is untouched');
  await page.screenshot({ path: join(shots, 'dashboard-flag.png') });

  // The kill switch asks first; Cancel changes nothing, Turn off does.
  await page.getByTestId('kill-switch').click();
  await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
  assert.equal(await servedVersion('production'), before + 1);
  await page.getByTestId('kill-switch').click();
  await page.getByRole('dialog').getByTestId('confirm').click();
  await page.getByTestId('state').filter({ hasText: 'off' }).waitFor();
  const off = await ofrep('production', 'new-checkout', 'user-3');
  assert.deepEqual([off.value, off.reason], [false, 'DISABLED']);
  assert.equal(await servedVersion('production'), before + 2);

  // The list shows it off in production, on in staging; the audit log names ana.
  await page.getByRole('link', { name: 'Flags', exact: true }).click();
  const row = page.getByTestId('flag-new-checkout');
  await row.waitFor();
  assert.deepEqual(await row.locator('.state').allTextContents(), ['on', 'off']);
  await page.screenshot({ path: join(shots, 'dashboard.png') });
  await page.getByRole('link', { name: 'Audit log' }).click();
  await page.getByRole('cell', { name: 'flag.turn_off' }).waitFor();
  assert.ok((await page.getByRole('cell', { name: 'user:ana' }).count()) >= 3);

  // Signing out ends the session.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('button', { name: 'Sign in' }).waitFor();
  await page.reload();
  await page.getByRole('button', { name: 'Sign in' }).waitFor();
  console.log(`dashboard e2e: ok (screenshots in ${shots})`);
} finally {
  await browser.close();
  server.kill();
  rmSync(data, { recursive: true, force: true });
  clearTimeout(deadline);
}
