// End to end in headless Chromium: a real `edgeflag server` (embedded
// defaults, dashboard built in), the first admin from the printed setup link,
// create a flag, roll it out to 10 %, flip the kill switch, roll back from
// the history page, add and remove a target, build rules in the form editor
// (a clause, a located 422, a segment made on the segments page, a reorder)
// — and after each step the origin serves the change (OFREP evaluations of
// the published ruleset and its version). Screenshots go to $SCREENSHOTS
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

const deadline = setTimeout(() => { console.error('e2e: timed out after 240 s'); process.exit(1); }, 240_000);

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

async function ofrep(env, key, targetingKey, attributes = {}) {
  const resp = await fetch(`${base}/${env}/ofrep/v1/evaluate/flags/${key}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ context: { targetingKey, ...attributes } }),
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

// Form controls on the page without a <label for> (or, for a button, a name).
async function unlabelled(page) {
  return page.evaluate(() => [...document.querySelectorAll('input, select, textarea')]
    .filter((e) => !e.labels?.length).map((e) => e.id || e.outerHTML));
}

async function share(env, key, users) {
  let on = 0;
  for (let i = 0; i < users; i++) if ((await ofrep(env, key, `user-${i}`)).value === true) on++;
  return on / users;
}

const browser = await chromium.launch({ executablePath: browserPath, args: ['--no-sandbox'] });
const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
try {
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
  // Filters: kill-switched in production finds it; in staging nothing.
  await page.getByLabel('Kill switch').selectOption('production');
  await page.getByText('1 flag shown').waitFor();
  await row.waitFor();
  await page.getByLabel('Kill switch').selectOption('staging');
  await page.getByText('No flags match.').waitFor();
  await page.getByLabel('Kill switch').selectOption('');
  await page.getByLabel('Expiry').selectOption('true');
  await page.getByText('No flags match.').waitFor();
  await page.getByLabel('Expiry').selectOption('');
  await row.waitFor();
  await page.getByRole('link', { name: 'Audit log' }).click();
  await page.getByRole('cell', { name: 'flag.turn_off' }).waitFor();
  assert.ok((await page.getByRole('cell', { name: 'user:ana' }).count()) >= 3);

  // History: the kill switch's version shows its diff; rolling back to the
  // version the flag was created in serves "on" to everyone again, at a new
  // higher version.
  await page.getByRole('link', { name: 'History' }).click();
  await page.getByRole('tab', { name: 'production' }).click();
  await page.getByTestId(`version-${before + 2}`).getByRole('button', { name: 'Diff' }).click();
  await page.locator(`#diff-${before + 2} pre.diff .add`).filter({ hasText: '"enabled": false' }).waitFor();
  await page.screenshot({ path: join(shots, 'dashboard-history.png'), fullPage: true });
  await page.getByTestId(`rollback-${before}`).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
  assert.equal(await servedVersion('production'), before + 2, 'Cancel rolls nothing back');
  await page.getByTestId(`rollback-${before}`).click();
  await page.getByRole('dialog').getByTestId('confirm').click();
  await page.getByTestId('history-message').filter({ hasText: `production now serves v${before + 3}` }).waitFor();
  assert.equal(await servedVersion('production'), before + 3);
  const restored = await ofrep('production', 'new-checkout', 'user-3');
  assert.deepEqual([restored.value, restored.metadata.edgeflagReason], [true, 'FALLTHROUGH']);
  assert.equal(await share('production', 'new-checkout', 40), 1, 'everyone gets "on" again, not 10 %');
  await page.getByTestId(`version-${before + 3}`).getByText('serving').waitFor();

  // Targets: user-3 gets "off" in production, then not any more.
  await page.goto(`${base}/#/flags/new-checkout/production`);
  await page.getByLabel('Add keys served “off”').fill('user-3');
  await page.getByTestId('targets-off').getByRole('button', { name: 'Add' }).click();
  const unTarget = page.getByRole('button', { name: 'Remove target user-3 from “off”' });
  await unTarget.waitFor();
  const targeted = await ofrep('production', 'new-checkout', 'user-3');
  assert.deepEqual([targeted.value, targeted.metadata.edgeflagReason], [false, 'TARGET_MATCH']);
  assert.equal((await ofrep('production', 'new-checkout', 'user-4')).value, true);
  assert.equal((await ofrep('staging', 'new-checkout', 'user-3')).value, true, 'staging has no target');
  await unTarget.click();
  await unTarget.waitFor({ state: 'detached' });
  assert.equal((await ofrep('production', 'new-checkout', 'user-3')).value, true);

  // A rule built in the form: country in [DE] serves "off".
  let version = await servedVersion('production');
  await page.getByRole('button', { name: '+ Rule' }).click();
  const rule0 = page.getByTestId('rule-0');
  await page.keyboard.type('country'); // the new rule's attribute has the focus
  assert.equal(await rule0.getByLabel('Attribute').inputValue(), 'country');
  await rule0.getByLabel('Operator').selectOption('in');
  await rule0.getByLabel('Values (one per line)').fill('DE');
  await rule0.getByLabel('Serve', { exact: true }).selectOption('v:off');
  await page.getByTestId('save-rules').click();
  await page.getByTestId('serving').filter({ hasText: `v${version + 1}` }).waitFor();
  version += 1;
  const de = await ofrep('production', 'new-checkout', 'user-5', { country: 'DE' });
  assert.deepEqual([de.value, de.metadata.edgeflagReason], [false, 'RULE_MATCH']);
  const us = await ofrep('production', 'new-checkout', 'user-5', { country: 'US' });
  assert.deepEqual([us.value, us.metadata.edgeflagReason], [true, 'FALLTHROUGH']);
  assert.equal(await page.getByTestId('rule-0').getByLabel('Values (one per line)').inputValue(), 'DE');

  // A bad clause: the compiler's 422 shows next to its values, nothing is published.
  await page.getByTestId('rule-0').getByRole('button', { name: '+ Clause' }).click();
  const bad = page.getByTestId('rule0-c1');
  await bad.getByLabel('Attribute').fill('app_version');
  await bad.getByLabel('Operator').selectOption('semver_lt');
  // Validated as you type (the server's compiler in WASM): the problem shows
  // next to the values before any save, with no write request made.
  let writes = 0;
  const countWrites = (r) => { if (r.url().includes('/api/') && r.method() !== 'GET') writes++; };
  page.on('request', countWrites);
  const located = bad.locator('[data-path$=".rules[0].clauses[1].values"] > .field-error');
  await bad.getByLabel('Values (one per line)').fill('v2.0');
  await located.filter({ hasText: /semver|version/i }).waitFor();
  await page.getByTestId('rules-problems').filter({ hasText: '1 problem' }).waitFor();
  await bad.getByLabel('Values (one per line)').fill('2.0.0');
  await located.filter({ hasText: /\S/ }).waitFor({ state: 'hidden' });
  await page.getByTestId('rules-problems').filter({ hasText: /\S/ }).waitFor({ state: 'hidden' });
  assert.equal(await bad.getByLabel('Values (one per line)').getAttribute('aria-invalid'), null);
  assert.equal(writes, 0, 'live validation writes nothing');
  page.off('request', countWrites);
  await bad.getByLabel('Values (one per line)').fill('v2.0');
  await page.getByTestId('save-rules').click();
  await located.filter({ hasText: /\S/ }).waitFor();
  assert.equal(await bad.getByLabel('Values (one per line)').getAttribute('aria-invalid'), 'true');
  assert.equal(await servedVersion('production'), version, 'a refused rule publishes nothing');
  await bad.getByRole('button', { name: 'Remove clause 2' }).click();

  // A segment made on the segments page, used by a second rule.
  await page.getByRole('link', { name: 'Segments', exact: true }).click();
  await page.getByLabel('New segment key').fill('beta-testers');
  await page.getByLabel('Description').fill('Named early users');
  await page.getByRole('button', { name: 'Create segment' }).click();
  await page.getByRole('heading', { name: 'beta-testers' }).waitFor();
  await page.getByLabel('Included keys (always in; one per line)').fill('user-7');
  await page.getByRole('button', { name: '+ Rule' }).click();
  await page.getByLabel('Attribute').fill('email');
  await page.getByLabel('Operator').selectOption('matches');
  await page.getByLabel('Values (one per line)').fill('@edgeflag\\.dev$(');
  await page.getByTestId('save-segment').click();
  await page.locator('[data-path="$.rules[0].clauses[0].values"] > .field-error').filter({ hasText: /\S/ }).waitFor();
  await page.getByLabel('Values (one per line)').fill('@edgeflag\\.dev$');
  await page.getByTestId('save-segment').click();
  await page.getByText('Saved (revision').waitFor();
  await page.screenshot({ path: join(shots, 'dashboard-segment.png'), fullPage: true });
  assert.deepEqual(await unlabelled(page), [], 'every control of the segment page has a label');
  await page.getByRole('link', { name: 'Segments', exact: true }).click();
  await page.getByTestId('segment-beta-testers').getByRole('cell', { name: '1', exact: true }).first().waitFor();
  await page.goto(`${base}/#/flags/new-checkout/production`);
  await page.getByRole('button', { name: '+ Rule' }).click();
  const rule1 = page.getByTestId('rule-1');
  await rule1.getByLabel('Operator').selectOption('in_segment');
  await rule1.getByLabel('beta-testers').check();
  await rule1.getByLabel('Rule id').fill('beta');
  await rule1.getByLabel('Serve', { exact: true }).selectOption('v:off');
  version = await servedVersion('production');
  await page.getByTestId('save-rules').click();
  await page.getByTestId('serving').filter({ hasText: `v${version + 1}` }).waitFor();
  version += 1;
  const beta = await ofrep('production', 'new-checkout', 'user-7', { country: 'US' });
  assert.deepEqual([beta.value, beta.metadata.ruleId], [false, 'beta']);
  assert.equal((await ofrep('production', 'new-checkout', 'user-8', { country: 'US' })).value, true);
  const staff = await ofrep('production', 'new-checkout', 'user-9', { country: 'US', email: 'ana@edgeflag.dev' });
  assert.deepEqual([staff.value, staff.metadata.ruleId], [false, 'beta'], 'the segment rule puts staff in');
  // Reorder: the segment rule first (the rules/order endpoint).
  assert.equal((await ofrep('production', 'new-checkout', 'user-7', { country: 'DE' })).metadata.ruleIndex, 0);
  await page.getByRole('button', { name: 'Move rule 2 up' }).click();
  await page.getByTestId('serving').filter({ hasText: `v${version + 1}` }).waitFor();
  version += 1;
  const first = await ofrep('production', 'new-checkout', 'user-7', { country: 'DE' });
  assert.deepEqual([first.metadata.ruleIndex, first.metadata.ruleId], [0, 'beta']);
  await page.screenshot({ path: join(shots, 'dashboard-rules.png'), fullPage: true });
  assert.deepEqual(await unlabelled(page), [], 'every control of the flag page has a label');

  // Variations: a string value in a boolean flag is refused, in the variations card.
  await page.getByRole('button', { name: '+ Variation' }).click();
  await page.keyboard.type('maybe');
  await page.getByLabel('Value (JSON)').nth(2).fill('"x"');
  await page.getByRole('button', { name: 'Save variations' }).click();
  await page.locator('section[aria-labelledby="variations-title"] .error').filter({ hasText: /\S/ }).first().waitFor();
  assert.equal(await servedVersion('production'), version, 'a refused variation publishes nothing');

  // Prerequisites: new-checkout needs payments-v2 to serve "on"; turning
  // payments-v2 off in production fails it there.
  await page.getByRole('link', { name: 'Flags', exact: true }).click();
  await page.getByLabel('New flag key').fill('payments-v2');
  await page.getByRole('button', { name: 'Create flag' }).click();
  await page.getByRole('heading', { name: 'payments-v2' }).waitFor();
  await page.goto(`${base}/#/flags/new-checkout/production`);
  await page.getByRole('heading', { name: 'new-checkout' }).waitFor();
  await page.getByRole('button', { name: '+ Prerequisite' }).click();
  assert.equal(await page.getByLabel('Flag', { exact: true }).inputValue(), 'payments-v2');
  assert.equal(await page.getByLabel('Serves one of').inputValue(), 'on');
  version = await servedVersion('production');
  await page.getByRole('button', { name: 'Save prerequisites' }).click();
  await page.getByTestId('serving').filter({ hasText: `v${version + 1}` }).waitFor();
  assert.equal((await ofrep('production', 'new-checkout', 'user-5', { country: 'US' })).value, true);
  await page.goto(`${base}/#/flags/payments-v2/production`);
  await page.getByTestId('kill-switch').filter({ hasText: 'Turn off in production' }).click();
  await page.getByRole('dialog').getByTestId('confirm').click();
  await page.getByTestId('state').filter({ hasText: 'off' }).waitFor();
  const failed = await ofrep('production', 'new-checkout', 'user-5', { country: 'US' });
  assert.deepEqual([failed.value, failed.metadata.edgeflagReason, failed.metadata.prerequisite],
    [false, 'PREREQUISITE_FAILED', 'payments-v2']);
  assert.equal((await ofrep('staging', 'new-checkout', 'user-5', { country: 'US' })).value, true, 'staging, with no prerequisite, still serves "on"');
  version = await servedVersion('production');

  // The environments page: what each serves now.
  await page.getByRole('link', { name: 'Environments' }).click();
  await page.getByTestId('env-production').getByTestId('env-serving').filter({ hasText: `v${version}` }).waitFor();
  assert.equal(await page.getByLabel('Protect production').isChecked(), false);
  const protectedEnvs = async () => (await page.evaluate(async () => (await fetch('/api/v1/environments')).json()))
    .filter((e) => e.protected).map((e) => e.name).join();
  const until = async (what, want) => {
    for (let i = 0; i < 50 && (await what()) !== want; i++) await new Promise((ok) => setTimeout(ok, 100));
    assert.equal(await what(), want);
  };
  await page.getByLabel('Protect staging').check();
  await until(protectedEnvs, 'staging');
  await page.reload();
  await page.getByLabel('Protect staging').waitFor();
  assert.equal(await page.getByLabel('Protect staging').isChecked(), true, 'a fresh load shows staging protected');
  await page.getByLabel('Protect staging').uncheck();
  await until(protectedEnvs, '');
  assert.deepEqual(await unlabelled(page), [], 'every control of the environments page has a label');

  // Signing out ends the session.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('button', { name: 'Sign in' }).waitFor();
  await page.reload();
  await page.getByRole('button', { name: 'Sign in' }).waitFor();
  console.log(`dashboard e2e: ok (screenshots in ${shots})`);
} catch (err) {
  await page.screenshot({ path: join(shots, 'failure.png'), fullPage: true }).catch(() => undefined);
  console.error(`e2e: failed; the page then is ${join(shots, 'failure.png')}`);
  throw err;
} finally {
  await browser.close();
  server.kill();
  rmSync(data, { recursive: true, force: true });
  clearTimeout(deadline);
}
