// What every browser test shares: Debian's Chromium driven by playwright-core, a page
// that refuses every request leaving the server's origin, and `checkPage`, which holds
// each page to the same bar (its status, the Content-Security-Policy, no console error,
// an axe-core scan with no serious or critical violation) and saves its screenshots.
//
// Run by crates/thetasecure/tests/it/browser.rs, which starts the server and sets the
// THETASECURE_* variables read here; nothing is downloaded at test time.
//
// A new flow (the console's pages, say): a script beside this one using node:test, with
// `const tab = await visit(browser)`, `tab.open(path)` or `tab.follow(() => click)`, then
// `tab.checkPage('<name>', { status })` on every page it reaches and `tab.close()`; and a
// `both_engines!` case in browser.rs that prepares the store and calls `run_script`.

import assert from 'node:assert/strict';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';

import { chromium } from 'playwright-core';

export function setting(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is unset: run the browser tests through cargo test (crates/thetasecure/tests/it/browser.rs)`);
  }
  return value;
}

export const BASE = setting('THETASECURE_BASE_URL');
export const ADMIN = {
  username: setting('THETASECURE_ADMIN_USERNAME'),
  password: setting('THETASECURE_ADMIN_PASSWORD'),
};
const SCREENSHOTS = setting('THETASECURE_SCREENSHOTS');
const CHROMIUM = process.env.THETASECURE_CHROMIUM || '/usr/bin/chromium';

export const WIDE = { width: 1280, height: 800 };
export const NARROW = { width: 390, height: 844 };

// Evaluated into each page rather than added as a <script>: the pages' CSP (rightly)
// refuses inline script, and the scan must not need the policy loosened.
const AXE_SOURCE = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      // Root in a container: no user namespaces for the sandbox, and a small /dev/shm.
      '--no-sandbox',
      '--disable-dev-shm-usage',
      // No name resolves: whatever a page or Chromium itself tried, nothing leaves the machine.
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1',
    ],
  });
}

/** A new browser context (its own cookies) and page, watched by a `Visit`. */
export async function visit(browser, options = {}) {
  const context = await browser.newContext({ viewport: WIDE });
  // Generous: the whole test suite shares two cores with these pages.
  context.setDefaultTimeout(30_000);
  const page = await context.newPage();
  const tab = new Visit(context, page, options);
  await tab.routed;
  return tab;
}

/**
 * One user's tab. `clients` lists the origins of the relying parties a flow ends at (a
 * stand-in application on loopback, started by the Rust test): the browser may go there,
 * and each page it is sent to is recorded in `arrivals`. Any other request outside the
 * server's origin is aborted and fails the test; the browser cannot even resolve a name
 * (`launch`), so nothing leaves the machine.
 */
export class Visit {
  constructor(context, page, { clients = [] } = {}) {
    this.context = context;
    this.page = page;
    this.foreign = [];
    this.consoleErrors = [];
    this.arrivals = [];
    this.document = null;

    const ours = (url) => url.startsWith(`${BASE}/`);
    const client = (url) => clients.some((origin) => url.startsWith(`${origin}/`));
    // Playwright cannot route the request a redirect leads to (it is the network stack's),
    // so the request listener below, which sees every request, is the witness.
    this.routed = context.route('**/*', (route) => {
      const url = route.request().url();
      return ours(url) || client(url) ? route.continue() : route.abort('blockedbyclient');
    });
    context.on('request', (request) => {
      const url = request.url();
      if (client(url)) {
        if (request.isNavigationRequest()) {
          this.arrivals.push(url);
        }
      } else if (!ours(url)) {
        this.foreign.push(url);
      }
    });
    page.on('console', (message) => {
      if (message.type() === 'error') {
        this.consoleErrors.push({ text: message.text(), url: message.location().url });
      }
    });
    page.on('pageerror', (error) => this.consoleErrors.push({ text: String(error), url: page.url() }));
    page.on('response', (response) => {
      const status = response.status();
      if (response.request().isNavigationRequest() && response.frame() === page.mainFrame() && (status < 300 || status >= 400)) {
        this.document = response;
      }
    });
  }

  url(pathAndQuery) {
    return `${BASE}${pathAndQuery}`;
  }

  /** Opens `pathAndQuery` (or a full URL) and waits for the page to load. */
  async open(pathAndQuery) {
    await this.page.goto(pathAndQuery.startsWith('/') ? this.url(pathAndQuery) : pathAndQuery);
    return this.document;
  }

  /** Runs `action` (a click, a key press) and waits for the page it leads to. */
  async follow(action) {
    const main = this.page.mainFrame();
    const navigated = this.page.waitForEvent('framenavigated', (frame) => frame === main);
    await action();
    await navigated;
    await this.page.waitForLoadState('load');
    return this.document;
  }

  /** Fills the sign-in form in front of it and submits it. */
  async signIn(username, password) {
    await this.page.getByLabel('Username').fill(username);
    await this.page.getByLabel('Password').fill(password);
    return this.follow(() => this.page.getByRole('button', { name: 'Sign in' }).click());
  }

  /**
   * The page now shown, held to what every page owes: the expected status, the CSP
   * without unsafe-inline, the usual headers, no console error, no request off the
   * origin, no serious or critical axe-core violation. Saves `<name>.png` at 1280×800
   * and `<name>-390x844.png` at 390×844.
   */
  async checkPage(name, { status = 200 } = {}) {
    const response = this.document;
    assert.ok(response, `${name}: no page was loaded`);
    assert.ok(response.url().startsWith(`${BASE}/`), `${name}: ${response.url()} is not this server's page`);
    assert.equal(response.status(), status, `${name}: ${response.url()} answered ${response.status()}`);
    const headers = response.headers();
    const csp = headers['content-security-policy'];
    assert.ok(csp, `${name}: no Content-Security-Policy`);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, `${name}: ${csp}`);
    assert.match(csp, /default-src 'none'/, `${name}: ${csp}`);
    assert.match(csp, /frame-ancestors 'none'/, `${name}: ${csp}`);
    assert.equal(headers['cache-control'], 'no-store', `${name}: Cache-Control`);
    assert.equal(headers['x-content-type-options'], 'nosniff', `${name}: X-Content-Type-Options`);

    await this.page.waitForLoadState('load');
    await this.screenshots(name);
    await this.axe(name);
    this.assertQuiet(name, status);
  }

  async screenshots(name) {
    await mkdir(SCREENSHOTS, { recursive: true });
    for (const [suffix, size] of [['', WIDE], ['-390x844', NARROW]]) {
      await this.page.setViewportSize(size);
      const png = await this.page.screenshot();
      // Both engines' runs save the same names, possibly at once: replace, never interleave.
      const file = path.join(SCREENSHOTS, `${name}${suffix}.png`);
      await writeFile(`${file}.${process.pid}.tmp`, png);
      await rename(`${file}.${process.pid}.tmp`, file);
    }
    await this.page.setViewportSize(WIDE);
  }

  async axe(name) {
    await this.page.evaluate(AXE_SOURCE);
    const { violations, passes } = await this.page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
    assert.ok(passes.length > 0, `${name}: axe-core checked nothing`);
    const describe = (v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`;
    for (const minor of violations.filter((v) => !['serious', 'critical'].includes(v.impact))) {
      console.log(`${name}: axe-core notes ${describe(minor)}`);
    }
    const serious = violations.filter((v) => ['serious', 'critical'].includes(v.impact)).map(describe);
    assert.deepEqual(serious, [], `${name}: axe-core finds serious or critical violations`);
  }

  /**
   * No console error and no foreign request so far. Chromium reports a page answered
   * with an error status as a console error of that page itself; that one is the
   * status `checkPage` expects, not a fault.
   */
  assertQuiet(name, status = 200) {
    const expected = `the server responded with a status of ${status}`;
    const errors = this.consoleErrors
      .filter((e) => !(status >= 400 && e.url === this.document?.url() && e.text.includes(expected)))
      .map((e) => `${e.text} (${e.url})`);
    assert.deepEqual(errors, [], `${name}: console errors`);
    assert.deepEqual(this.foreign, [], `${name}: requests left the server's origin`);
    this.consoleErrors = [];
  }

  /** The text of the page's main element, whitespace collapsed. */
  async text() {
    return (await this.page.locator('main').innerText()).replace(/\s+/g, ' ').trim();
  }

  async close() {
    this.assertQuiet('after the last page');
    await this.context.close();
  }
}
