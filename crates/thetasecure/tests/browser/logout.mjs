// /logout in Chromium: the confirmation page (plain and RP-initiated, naming the
// application), signing out ends the session, and the browser goes back only to the
// application's registered post_logout_redirect_uri, with its state.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { ADMIN, launch, setting, visit } from './harness.mjs';

const CLIENT_ID = setting('THETASECURE_CLIENT_ID');
const BYE = setting('THETASECURE_POST_LOGOUT_REDIRECT_URI');

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

async function signedInTab(options) {
  const tab = await visit(browser, options);
  await tab.open('/login?return_to=%2Flogout');
  await tab.signIn(ADMIN.username, ADMIN.password);
  assert.equal(new URL(tab.page.url()).pathname, '/logout', await tab.text());
  return tab;
}

test('the confirmation page signs out for good', async () => {
  const tab = await signedInTab();
  await tab.checkPage('logout-confirm');
  const text = await tab.text();
  assert.match(text, /Sign out of ThetaSecure\?/);
  assert.match(text, new RegExp(`Signed in as ${ADMIN.username}`));
  // Asking twice ends nothing.
  await tab.open('/logout');
  assert.match(await tab.text(), /Sign out of ThetaSecure\?/);

  await tab.follow(() => tab.page.getByRole('button', { name: 'Sign out' }).click());
  await tab.checkPage('signed-out');
  assert.match(await tab.text(), /You are signed out of ThetaSecure\./);
  const cookies = await tab.context.cookies();
  assert.deepEqual(cookies.filter((c) => c.name.endsWith('ts_session')), [], 'the session cookie is gone');
  // Nothing left to confirm: /logout goes straight to the signed-out page.
  await tab.open('/logout');
  assert.match(await tab.text(), /You are signed out/);
  await tab.close();
});

test('an application\'s logout names it and returns to its registered URI with the state', async () => {
  const tab = await signedInTab({ clients: [new URL(BYE).origin] });
  const query = new URLSearchParams({ client_id: CLIENT_ID, post_logout_redirect_uri: BYE, state: 'bye & thanks' });
  await tab.open(`/logout?${query}`);
  await tab.checkPage('logout-confirm-client');
  assert.match(await tab.text(), /Browser Demo asks to sign you out\./);

  await tab.follow(() => tab.page.getByRole('button', { name: 'Sign out' }).click());
  assert.equal(tab.arrivals.length, 1, `arrivals: ${tab.arrivals}`);
  const back = new URL(tab.arrivals[0]);
  assert.equal(`${back.origin}${back.pathname}`, BYE);
  assert.deepEqual(Object.fromEntries(back.searchParams), { state: 'bye & thanks' });

  // An unregistered URI is an error page, never a redirect.
  const evil = new URLSearchParams({ client_id: CLIENT_ID, post_logout_redirect_uri: 'https://evil.example/' });
  await tab.open(`/logout?${evil}`);
  await tab.checkPage('error-logout-uri', { status: 400 });
  assert.match(await tab.text(), /post_logout_redirect_uri/);
  assert.equal(tab.arrivals.length, 1);
  await tab.close();
});
