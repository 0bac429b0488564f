// The authorization code flow of a public client with PKCE, as a person goes through it
// in Chromium: authorize, sign in, the consent page, Allow (a code at the redirect URI,
// redeemed with the verifier) or Deny (access_denied).

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';

import { ADMIN, BASE, launch, setting, visit } from './harness.mjs';

const CLIENT_ID = setting('THETASECURE_CLIENT_ID');
const REDIRECT_URI = setting('THETASECURE_REDIRECT_URI');

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/** RFC 7636: a fresh verifier and its S256 challenge. */
function pkce() {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

function authorizePath(challenge, state) {
  const query = new URLSearchParams({
    client_id: CLIENT_ID,
    redirect_uri: REDIRECT_URI,
    response_type: 'code',
    scope: 'openid profile',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state,
  });
  return `/oauth2/authorize?${query}`;
}

/** Where the browser arrived at the client: the redirect URI's query. */
function arrival(tab) {
  assert.equal(tab.arrivals.length, 1, `arrivals at the client: ${tab.arrivals}; now at ${tab.page.url()}; foreign: ${tab.foreign}`);
  const url = new URL(tab.arrivals[0]);
  assert.equal(`${url.origin}${url.pathname}`, REDIRECT_URI);
  return Object.fromEntries(url.searchParams);
}

/** Authorize, sign in on the page it leads to, and stop at the consent page. */
async function toConsent(tab, challenge, state) {
  await tab.open(authorizePath(challenge, state));
  assert.equal(new URL(tab.page.url()).pathname, '/login', 'an unsigned browser is sent to sign in');
  await tab.signIn(ADMIN.username, ADMIN.password);
  assert.equal(new URL(tab.page.url()).pathname, '/oauth2/authorize', await tab.text());
  await tab.checkPage('consent');
  const text = await tab.text();
  assert.match(text, /Allow access\?/);
  assert.match(text, new RegExp(`Browser Demo asks to act on behalf of ${ADMIN.username}`), text);
  assert.match(text, /profile Read your name and profile information\./, text);
}

test('deny on the consent page sends access_denied back with the state', async () => {
  const tab = await visit(browser, { clients: [new URL(REDIRECT_URI).origin] });
  const { challenge } = pkce();
  await toConsent(tab, challenge, 'deny me');
  await tab.follow(() => tab.page.getByRole('button', { name: 'Deny' }).click());
  const query = arrival(tab);
  assert.equal(query.error, 'access_denied');
  assert.equal(query.state, 'deny me');
  assert.equal(query.code, undefined);
  await tab.close();
});

test('allow on the consent page gives a code that the verifier redeems', async () => {
  const tab = await visit(browser, { clients: [new URL(REDIRECT_URI).origin] });
  const { verifier, challenge } = pkce();
  await toConsent(tab, challenge, 'a&b c');
  await tab.follow(() => tab.page.getByRole('button', { name: 'Allow' }).click());
  const query = arrival(tab);
  assert.equal(query.state, 'a&b c');
  assert.match(query.code ?? '', /^tsc_/);

  // The relying party's side, outside the browser: the code and the verifier.
  const response = await fetch(`${BASE}/oauth2/token`, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'authorization_code', code: query.code, redirect_uri: REDIRECT_URI,
      code_verifier: verifier, client_id: CLIENT_ID,
    }),
  });
  const tokens = await response.json();
  assert.equal(response.status, 200, JSON.stringify(tokens));
  assert.equal(tokens.scope, 'openid profile');
  assert.ok(tokens.access_token && tokens.id_token, JSON.stringify(Object.keys(tokens)));

  // Consent is remembered: the same request now goes straight back with a code.
  tab.arrivals.length = 0;
  await tab.open(authorizePath(pkce().challenge, 'again'));
  assert.match(arrival(tab).code ?? '', /^tsc_/);
  await tab.close();
});
