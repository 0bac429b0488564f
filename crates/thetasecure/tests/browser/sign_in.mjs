// /login in Chromium: the form, the one failure message, a form without this browser's
// CSRF token refused without signing anyone in, a real sign-in, and the error pages.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { ADMIN, launch, visit } from './harness.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/** Whether this tab's browser is signed in: /logout asks to confirm only then. */
async function signedIn(tab) {
  await tab.open('/logout');
  const text = await tab.text();
  assert.match(text, /Sign out of ThetaSecure\?|You are signed out/, text);
  return text.includes('Sign out of ThetaSecure?');
}

test('the sign-in page signs the bootstrap admin in and returns where it was asked', async () => {
  const tab = await visit(browser);
  await tab.open('/login?return_to=%2Flogout');
  await tab.checkPage('login');
  assert.equal(await tab.page.title(), 'Sign in · ThetaSecure');
  // The username field has the focus: a person can type at once.
  assert.equal(await tab.page.evaluate(() => document.activeElement?.id), 'username');

  await tab.signIn(ADMIN.username, ADMIN.password);
  assert.equal(new URL(tab.page.url()).pathname, '/logout', await tab.text());
  assert.match(await tab.text(), new RegExp(`Signed in as ${ADMIN.username}`));
  await tab.close();
});

test('a wrong password and an unknown user get the one failure message and no session', async () => {
  const tab = await visit(browser);
  await tab.open('/login?return_to=%2Flogout');
  await tab.signIn(ADMIN.username, 'not the password');
  await tab.checkPage('login-refused', { status: 401 });
  const alerts = await tab.page.getByRole('alert').allInnerTexts();
  assert.deepEqual(alerts, ['Invalid username or password']);
  // The username is kept, the password is not sent back.
  assert.equal(await tab.page.getByLabel('Username').inputValue(), ADMIN.username);
  assert.equal(await tab.page.getByLabel('Password').inputValue(), '');
  assert.equal(await tab.page.locator('input[type=password][value]').count(), 0);

  await tab.signIn('nobody-by-this-name', 'not the password');
  assert.deepEqual(await tab.page.getByRole('alert').allInnerTexts(), ['Invalid username or password']);
  tab.assertQuiet('login-refused again', 401);
  assert.equal(await signedIn(tab), false);
  await tab.close();
});

test('a sign-in form without this browser\'s CSRF token changes nothing', async () => {
  const tab = await visit(browser);
  for (const [name, tamper] of [
    ['form-expired', (input) => input.remove()],
    ['form-expired-forged', (input) => { input.value = 'forged'; }],
  ]) {
    await tab.open('/login?return_to=%2Flogout');
    await tab.page.locator('input[name=csrf_token]').evaluate(tamper);
    await tab.signIn(ADMIN.username, ADMIN.password);
    await tab.checkPage(name, { status: 403 });
    assert.match(await tab.text(), /This form has expired/);
    assert.equal(await signedIn(tab), false, `${name}: nobody is signed in`);
  }
  await tab.close();
});

test('requests that cannot be completed show an error page, not a redirect', async () => {
  const tab = await visit(browser);
  await tab.open('/oauth2/authorize?client_id=ts_nobody&response_type=code&redirect_uri=https%3A%2F%2Fevil.example%2Fcb');
  await tab.checkPage('error-unknown-client', { status: 400 });
  assert.match(await tab.text(), /This request cannot be completed/);
  assert.equal(new URL(tab.page.url()).origin, new URL(tab.url('/')).origin);

  await tab.open('/assets/no-such-file.css');
  await tab.checkPage('error-not-found', { status: 404 });
  assert.match(await tab.text(), /Not found/);
  await tab.close();
});

test('Chromium enforces the CSP: no inline script runs and nothing foreign is fetched', async () => {
  const tab = await visit(browser);
  await tab.open('/login');
  const refusals = [];
  tab.page.on('console', (message) => {
    if (message.type() === 'error' && message.text().includes('Content Security Policy')) {
      refusals.push(message.text());
    }
  });
  // What an injection into the page would try.
  await tab.page.evaluate(() => {
    const script = document.createElement('script');
    script.textContent = 'window.injected = true;';
    document.body.append(script);
    const image = document.createElement('img');
    image.src = 'https://tracker.example/pixel.png';
    document.body.append(image);
  });
  for (let waited = 0; refusals.length < 2 && waited < 5_000; waited += 50) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.equal(refusals.length, 2, `CSP refusals: ${refusals}`);
  assert.ok(refusals.some((text) => text.includes('script-src')), `${refusals}`);
  assert.ok(refusals.some((text) => text.includes('img-src') && text.includes('tracker.example')), `${refusals}`);
  assert.equal(await tab.page.evaluate(() => window.injected), undefined);
  // Chromium reports the image as a request that the policy then cancelled: the attempt
  // the witness is there to catch, expected here.
  assert.deepEqual(tab.foreign, ['https://tracker.example/pixel.png']);
  tab.foreign = [];
  tab.consoleErrors = [];
  await tab.close();
});
