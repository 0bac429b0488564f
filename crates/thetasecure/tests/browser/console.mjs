// The admin console in Chromium: sign-in as the bootstrap admin, the clients table and
// its search as you type, the copy button, the create dialog and both kinds of client,
// an error beside its field with every input kept, the secret shown once (not after a
// reload, the back button or reopening) and working at the token endpoint, edit,
// rotate, disable, delete, the audit log, and keyboard use of the dialogs.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { ADMIN, BASE, launch, setting, visit } from './harness.mjs';

const USER = { username: setting('THETASECURE_USER_USERNAME'), password: setting('THETASECURE_USER_PASSWORD') };
/** What browser.rs issued to the Sync Connector over the last 30 days, a day at a time. */
const SYNC_TOKENS_ISSUED = Number(setting('THETASECURE_SYNC_TOKENS_ISSUED'));

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/** A tab signed in to the console as the bootstrap admin, on the clients page. */
async function adminTab() {
  const tab = await visit(browser);
  await tab.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: BASE });
  await tab.open('/console');
  assert.equal(new URL(tab.page.url()).pathname, '/login', 'sent to sign in');
  assert.equal(new URL(tab.page.url()).searchParams.get('return_to'), '/console/clients');
  await tab.signIn(ADMIN.username, ADMIN.password);
  assert.equal(new URL(tab.page.url()).pathname, '/console/clients', await tab.text());
  return tab;
}

/** The rows of the clients table, by client id. */
async function clientIds(page) {
  return page.locator('table.clients tbody tr code').allInnerTexts();
}

/** Client credentials at the token endpoint, from outside the browser. */
async function tokenStatus(clientId, secret, scope) {
  const body = new URLSearchParams({ grant_type: 'client_credentials' });
  if (scope) body.set('scope', scope);
  const response = await fetch(`${BASE}/oauth2/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}` },
    body,
  });
  return response.status;
}

/** The secret shown in the details panel now, or null. */
async function shownSecret(page) {
  const secret = page.locator('#client-secret');
  return (await secret.count()) ? secret.innerText() : null;
}

test('the clients table: columns, the default clients, search as you type, copy', async () => {
  const tab = await adminTab();
  const { page } = tab;
  await tab.checkPage('console-clients');
  const headers = await page.locator('table.clients thead th').allInnerTexts();
  assert.deepEqual(headers.map((h) => h.trim().toLowerCase()), ['client', 'client id', 'grant types', 'status', 'created', 'actions']);
  assert.deepEqual((await clientIds(page)).sort(), ['thetasecure-desktop-agent', 'thetasecure-mobile-app', 'ts_admin_client', 'ts_sync_client']);
  assert.equal(await page.locator('table.clients .badge.default').count(), 4);
  assert.match(await tab.text(), /client credentials/);
  assert.match(await tab.text(), /authorization code/);
  assert.match(await tab.text(), /refresh token/);

  // Typing filters the rows in place: the document is the same one (no page load).
  await page.evaluate(() => { window.sameDocument = true; });
  await page.locator('#client-search').pressSequentially('Mobi', { delay: 40 });
  await page.waitForFunction(() => document.querySelectorAll('table.clients tbody tr').length === 1);
  assert.deepEqual(await clientIds(page), ['thetasecure-mobile-app']);
  assert.equal(await page.evaluate(() => window.sameDocument), true, 'no page load');
  await page.locator('#client-search').fill('');
  await page.waitForFunction(() => document.querySelectorAll('table.clients tbody tr').length === 4);
  await page.getByLabel('Status').selectOption('disabled');
  await page.getByText('No clients match').waitFor();
  await page.getByLabel('Status').selectOption('');
  await page.waitForFunction(() => document.querySelectorAll('table.clients tbody tr').length === 4);

  // The copy button puts the Client ID on the clipboard.
  await page.getByRole('button', { name: 'Copy client ID ts_admin_client' }).click();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), 'ts_admin_client');
  tab.assertQuiet('console-clients after search and copy');
  await tab.close();
});

test('a user who is not an administrator is refused the console', async () => {
  const tab = await visit(browser);
  await tab.open('/console');
  await tab.signIn(USER.username, USER.password);
  await tab.checkPage('console-forbidden', { status: 403 });
  assert.match(await tab.text(), /Administrators only/);
  assert.doesNotMatch(await tab.page.content(), /ts_admin_client/);
  await tab.close();
});

test('the create dialog: keyboard, Escape and focus; a Sync Connector client', async () => {
  const tab = await adminTab();
  const { page } = tab;
  const create = page.getByRole('link', { name: '+ Create Client' });
  await create.focus();
  await page.keyboard.press('Enter');
  const dialog = page.getByRole('dialog', { name: 'Create OAuth Client' });
  await dialog.waitFor();
  assert.match(await dialog.innerText(), /Sync Connector Client/);
  assert.match(await dialog.innerText(), /LDAP\/AD directory synchronization/);
  assert.match(await dialog.innerText(), /Custom Client/);
  // Focus is inside the dialog, and Tab keeps it there (the page behind is inert).
  for (let n = 0; n < 5; n += 1) {
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => Boolean(document.activeElement?.closest('dialog[open]'))), true, 'focus stays in the dialog');
  }
  await tab.checkPage('console-create-dialog');
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden' });
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), '+ Create Client', 'focus returns to the opener');

  await create.click();
  await tab.follow(() => page.getByRole('link', { name: /Sync Connector Client/ }).click());
  await tab.checkPage('console-sync-connector-form');
  await page.getByLabel(/Client Name/).fill('LDAP directory sync');
  await tab.follow(() => page.getByRole('button', { name: 'Create Client' }).click());
  const secret = await shownSecret(page);
  assert.match(secret, /^tss_/);
  const clientId = await page.locator('#details-client-id').innerText();
  assert.match(await page.locator('#client-details').innerText(), /directory\.read/);
  assert.equal(await tokenStatus(clientId, secret), 200);
  await tab.close();
});

test('a custom client: lists added one by one, an error beside its field, the secret once', async () => {
  const tab = await adminTab();
  const { page } = tab;
  await page.getByRole('link', { name: '+ Create Client' }).click();
  await tab.follow(() => page.getByRole('link', { name: /Custom Client/ }).click());
  assert.equal(new URL(page.url()).pathname, '/console/clients/new/custom');

  await page.getByLabel(/Client Name/).fill('Invoicing portal');
  await page.getByLabel(/Description/).fill('Sends invoices to customers');
  const addUri = async (uri) => {
    await page.locator('#new_redirect_uri').fill(uri);
    await page.locator('[data-add="redirect_uri"]').click();
  };
  const addScope = async (scope) => {
    await page.locator('#new_scope').fill(scope);
    await page.locator('[data-add="scope"]').click();
  };
  await addUri('https://invoices.example/callback');
  await addUri('http://evil.example/callback');
  for (const scope of ['openid', 'profile', 'email']) await addScope(scope);
  assert.equal(await page.locator('#redirect_uri-entries li').count(), 2);
  assert.equal(await page.locator('#scope-entries li').count(), 3);
  await page.getByLabel('Authorization Code').check();
  await page.getByLabel('Client Credentials').check();
  assert.equal(await page.getByLabel('Password').isDisabled(), true, 'password is off on this server');
  assert.equal(await page.getByLabel('Implicit').isDisabled(), true);
  assert.match(await tab.text(), /RFC 9700/);
  await page.getByLabel('Require User Consent').check();
  await page.evaluate(() => window.scrollTo(0, 0));
  await tab.checkPage('console-custom-form');

  // The server refuses the http URI on a confidential client: beside the field, all kept.
  await tab.follow(() => page.getByRole('button', { name: 'Create Client' }).click());
  await tab.checkPage('console-custom-form-refused', { status: 400 });
  const error = await page.locator('#redirect_uris-error').innerText();
  assert.match(error, /http:\/\/evil\.example\/callback/);
  assert.equal(await page.getByLabel(/Client Name/).inputValue(), 'Invoicing portal');
  assert.equal(await page.getByLabel(/Description/).inputValue(), 'Sends invoices to customers');
  assert.deepEqual(await page.locator('#redirect_uri-entries code').allInnerTexts(), ['https://invoices.example/callback', 'http://evil.example/callback']);
  assert.deepEqual(await page.locator('#scope-entries code').allInnerTexts(), ['openid', 'profile', 'email']);
  assert.equal(await page.getByLabel('Authorization Code').isChecked(), true);
  assert.equal(await page.getByLabel('Client Credentials').isChecked(), true);
  assert.equal(await page.getByLabel('Require User Consent').isChecked(), true);

  await page.getByRole('button', { name: 'Remove http://evil.example/callback' }).click();
  await addUri('https://invoices.example/second');
  await tab.follow(() => page.getByRole('button', { name: 'Create Client' }).click());
  await tab.checkPage('console-client-created');
  const secret = await shownSecret(page);
  assert.match(secret, /^tss_/);
  const details = await page.locator('#client-details').innerText();
  assert.match(details, /The Client Secret is displayed only once at creation time\./);
  assert.match(details, /Invoicing portal/);
  const clientId = await page.locator('#details-client-id').innerText();
  await page.getByRole('button', { name: 'Copy secret' }).click();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);
  assert.equal(await tokenStatus(clientId, secret, 'email'), 200, 'the secret works');

  // Never again: reload, back, reopening.
  const detailsUrl = page.url();
  await tab.follow(() => page.reload());
  assert.equal(await shownSecret(page), null, 'not after a reload');
  assert.doesNotMatch(await page.content(), new RegExp(secret));
  await tab.follow(() => page.getByRole('link', { name: 'Close details' }).click());
  await tab.follow(() => page.goBack());
  assert.equal(page.url(), detailsUrl);
  assert.equal(await shownSecret(page), null, 'not after the back button');
  await tab.open('/console/clients');
  await tab.follow(() => page.getByRole('link', { name: `View Invoicing portal` }).click());
  assert.equal(await shownSecret(page), null, 'not when reopened');
  assert.doesNotMatch(await page.content(), new RegExp(secret));
  const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
  assert.doesNotMatch(stored, /tss_/, 'nothing kept in web storage');
  await tab.close();
});

test('edit, rotate, disable and delete, each in the audit log under the admin', async () => {
  const tab = await adminTab();
  const { page } = tab;
  await page.getByRole('link', { name: '+ Create Client' }).click();
  await tab.follow(() => page.getByRole('link', { name: /Custom Client/ }).click());
  await page.getByLabel(/Client Name/).fill('Nightly export');
  await page.getByLabel('Client Credentials').check();
  await page.locator('#new_scope').fill('directory.read');
  await page.locator('[data-add="scope"]').click();
  await tab.follow(() => page.getByRole('button', { name: 'Create Client' }).click());
  const first = await shownSecret(page);
  const clientId = await page.locator('#details-client-id').innerText();

  // Edit: a new name and one more scope; the list shows them.
  await tab.follow(() => page.getByRole('link', { name: 'Edit Client' }).click());
  await tab.checkPage('console-edit-form');
  await page.getByLabel(/Client Name/).fill('Nightly export v2');
  await page.locator('#new_scope').fill('directory.write');
  await page.locator('#new_scope').press('Enter');
  await tab.follow(() => page.getByRole('button', { name: 'Save Changes' }).click());
  const row = page.locator('table.clients tbody tr', { hasText: clientId });
  assert.match(await row.innerText(), /Nightly export v2/);
  assert.match(await page.locator('#client-details').innerText(), /directory\.write/);

  // Rotate with a day's grace: the new secret once, both work meanwhile.
  await page.getByLabel('The current secret keeps working for').selectOption('86400');
  await tab.follow(() => page.getByRole('button', { name: 'Rotate Secret' }).click());
  const second = await shownSecret(page);
  assert.match(second, /^tss_/);
  assert.notEqual(second, first);
  assert.equal(await tokenStatus(clientId, first), 200);
  assert.equal(await tokenStatus(clientId, second), 200);
  await tab.follow(() => page.reload());
  assert.equal(await shownSecret(page), null);

  // Disable: the status shows, and the client gets no more tokens.
  await tab.follow(() => page.getByRole('button', { name: 'Disable' }).click());
  assert.match(await page.locator('#client-details').innerText(), /disabled/);
  let status = 200;
  for (let waited = 0; status !== 401 && waited < 3000; waited += 250) {
    status = await tokenStatus(clientId, second);
    if (status !== 401) await new Promise((resolve) => setTimeout(resolve, 250));
  }
  assert.equal(status, 401);

  // Delete asks first (Escape backs out, focus returns), then removes the row.
  const deleteLink = page.locator('#client-details').getByRole('link', { name: 'Delete' });
  await deleteLink.click();
  const dialog = page.getByRole('dialog', { name: 'Delete client' });
  await dialog.waitFor();
  assert.match(await dialog.innerText(), /Delete Nightly export v2\?/);
  await tab.screenshots('console-delete-dialog');
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden' });
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Delete');
  await deleteLink.click();
  await tab.follow(() => dialog.getByRole('button', { name: 'Delete' }).click());
  assert.match(await tab.text(), /Client deleted\./);
  assert.deepEqual((await clientIds(page)).filter((id) => id === clientId), []);

  await tab.open(`/console/audit?target=${clientId}`);
  await tab.checkPage('console-audit');
  const events = await page.locator('.event').allInnerTexts();
  const actions = events.map((text) => text.match(/client\.[a-z_]+/)[0]);
  for (const action of ['client.deleted', 'client.updated', 'client.secret_rotated', 'client.created']) {
    assert.ok(actions.includes(action), `${action} in ${actions}`);
  }
  for (const text of events) assert.match(text, /by user:admin/);
  assert.match(events.join('\n'), /Nightly export\s+Nightly export v2/, 'the name before and after');
  await tab.close();
});

test('the details panel: when the client last authenticated, and its tokens per day', async () => {
  const tab = await adminTab();
  const { page } = tab;
  await tab.open('/console/clients/ts_sync_client');
  const usage = page.locator('#client-details section.usage');
  const text = await usage.innerText();
  assert.match(text, /Last authenticated: \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
  assert.match(text, new RegExp(`${SYNC_TOKENS_ISSUED} tokens issued in the last 30 days`));
  // One bar per day, sized by the server: the busiest day is the full height.
  const heights = await usage.locator('rect.bar').evaluateAll((bars) => bars.map((bar) => Number(bar.getAttribute('height'))));
  assert.equal(heights.length, 30);
  assert.equal(Math.max(...heights), 60);
  assert.equal(await usage.getByRole('img', { name: /Tokens issued per day/ }).count(), 1);
  await usage.scrollIntoViewIfNeeded();
  await tab.checkPage('console-client-details');
  // The bars take the theme's colours: dark mode too.
  await page.emulateMedia({ colorScheme: 'dark' });
  await usage.scrollIntoViewIfNeeded();
  await tab.checkPage('console-client-usage-dark');
  // At 390 px the chart fits the screen, its 30 bars squeezed, not cut.
  await page.setViewportSize({ width: 390, height: 844 });
  await usage.scrollIntoViewIfNeeded();
  const box = await usage.locator('svg').boundingBox();
  assert.ok(box.x >= 0 && box.x + box.width <= 390, `the chart spans ${box.x}..${box.x + box.width}`);
  await tab.close();
});

test('the scopes and users pages, and the console at 390 px in dark mode', async () => {
  const tab = await adminTab();
  await tab.open('/console/scopes');
  await tab.checkPage('console-scopes');
  assert.match(await tab.text(), /directory\.write/);
  await tab.open('/console/users');
  await tab.checkPage('console-users');
  assert.match(await tab.text(), new RegExp(USER.username));
  await tab.follow(() => tab.page.getByRole('link', { name: USER.username }).click());
  await tab.checkPage('console-user');
  await tab.open('/console/users/new');
  await tab.checkPage('console-user-new');

  await tab.page.emulateMedia({ colorScheme: 'dark' });
  await tab.open('/console/clients/ts_admin_client');
  await tab.checkPage('console-details-dark');
  // Nothing wider than the screen at 390 px.
  await tab.page.setViewportSize({ width: 390, height: 844 });
  const overflow = await tab.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than the screen`);
  await tab.close();
});
