import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page, type Request } from 'playwright-core';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './chromium';
import { api, apiUrl, loginAdmin, registerUser } from './http';
import { flightNumber, seatMap } from './seats';

/**
 * The web tests' harness: Debian's chromium driven by playwright-core (no browser download), one
 * browser per test file, a fresh context (its own sessionStorage, so its own person) per user. The
 * page keeps its Content-Security-Policy in every test: axe-core is evaluated through the DevTools
 * protocol (which CSP does not govern) rather than added as a <script>, so the accessibility checks see
 * the same page the other tests drive.
 */

/** How long a test waits for something the page should show; the stack runs on two shared cores. */
export const UI_TIMEOUT_MS = 15_000;

export interface UserPage {
  context: BrowserContext;
  page: Page;
  /** Uncaught exceptions in the page: a page that works throws none. */
  errors: string[];
  /** The console's errors (failed requests show up here too, a refused hold among them), for failure messages. */
  consoleErrors: string[];
  /** Requests to anywhere but the API's host: the app must work offline. */
  foreignRequests: string[];
}

/** The app's URL for a hash route (`#/flights/ID`). */
export function appUrl(hash = '#/'): string {
  return `${apiUrl()}/${hash.startsWith('#') ? hash : `#${hash}`}`;
}

/**
 * Starts chromium before the file's tests and closes it (and every context) after them. Call at the
 * top of a describe; the accessors are valid inside tests and hooks.
 */
export function useBrowser(): { browser: () => Browser; newUser: () => Promise<UserPage> } {
  let browser: Browser | undefined;
  const open: UserPage[] = [];
  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  });
  afterAll(async () => {
    await Promise.all(open.splice(0).map((user) => user.context.close().catch(() => undefined)));
    await browser?.close();
  });
  return {
    browser: () => {
      if (!browser) throw new Error('the browser is not running: call useBrowser() in a describe and use it in tests');
      return browser;
    },
    newUser: async () => {
      if (!browser) throw new Error('the browser is not running');
      const user = await newUserPage(browser);
      open.push(user);
      return user;
    },
  };
}

/** A context of its own (a person), with a page, a fixed viewport, and error and request tracking. */
export async function newUserPage(browser: Browser): Promise<UserPage> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'light', reducedMotion: 'reduce', locale: 'en-US', timezoneId: 'UTC' });
  context.setDefaultTimeout(UI_TIMEOUT_MS);
  const page = await context.newPage();
  const errors: string[] = [];
  const consoleErrors: string[] = [];
  const foreignRequests: string[] = [];
  const allowedHost = new URL(apiUrl()).hostname;
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  context.on('request', (request: Request) => {
    const url = new URL(request.url());
    if (['http:', 'https:', 'ws:', 'wss:'].includes(url.protocol) && url.hostname !== allowedHost) foreignRequests.push(request.url());
  });
  return { context, page, errors, consoleErrors, foreignRequests };
}

/**
 * Console errors that say something is wrong with the page rather than with a request the test made
 * fail on purpose: a refused hold (409) or a wrong password (401) log "Failed to load resource" for the
 * 4xx answer, which is expected; a Content-Security-Policy refusal, a 5xx or a script error is not.
 */
export function unexpectedConsoleErrors(user: UserPage): string[] {
  return user.consoleErrors.filter((text) => !/^Failed to load resource: the server responded with a status of 4\d\d/.test(text));
}

/**
 * Opens a hash route and waits for the page's h1 (every page has one). Going to another hash of the
 * loaded app is an in-page navigation, as following a link is; `reload` loads the page afresh instead
 * (as typing the address does), which also clears messages left by an earlier page.
 */
export async function open(page: Page, hash: string, heading?: string | RegExp, { reload = false } = {}): Promise<void> {
  await page.goto(appUrl(hash));
  if (reload) await page.reload();
  await page.getByRole('heading', { level: 1, ...(heading ? { name: heading } : {}) }).first().waitFor();
}

/** Logs in through the login form and waits until the nav shows the session. */
export async function loginViaUi(page: Page, email: string, password: string): Promise<void> {
  await open(page, '#/login', 'Log in');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
  await page.getByRole('button', { name: 'Log out' }).waitFor();
}

/** A new account registered over the API, logged in through the UI of `page`. */
export async function registerAndLogin(page: Page, prefix = 'web'): Promise<Awaited<ReturnType<typeof registerUser>>> {
  const user = await registerUser(prefix);
  await loginViaUi(page, user.email, user.password);
  return user;
}

export async function loginAdminViaUi(page: Page): Promise<void> {
  await loginViaUi(page, process.env.ADMIN_EMAIL!, process.env.ADMIN_PASSWORD!);
}

/**
 * Polls until `check` passes (returns without throwing, and not `false`), or throws its last error at
 * the deadline. For conditions playwright's locators cannot wait for by themselves (text, attributes).
 */
export async function until<T>(check: () => Promise<T> | T, { timeoutMs = UI_TIMEOUT_MS, intervalMs = 50, what = 'condition' } = {}): Promise<Exclude<T, false>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const result = await check();
      if (result !== false) return result as Exclude<T, false>;
      lastError = new Error(`${what} was false`);
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const message = lastError instanceof Error ? lastError.message : String(lastError);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${message}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** The text of the page's message area (#messages, role=alert) once it says something matching. */
export async function alertText(page: Page, expected: string | RegExp): Promise<string> {
  const alert = page.locator('#messages');
  return until(
    async () => {
      const text = (await alert.innerText()).trim();
      if (typeof expected === 'string' ? !text.includes(expected) : !expected.test(text)) throw new Error(`#messages says ${JSON.stringify(text)}`);
      return text;
    },
    { what: `#messages to say ${String(expected)}` },
  );
}

const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown[]; failureSummary?: string }[];
}

/**
 * Runs axe-core (WCAG 2.0/2.1/2.2 A and AA rules plus best practices) on the page as it is now, and
 * fails with every serious or critical violation, its rule and the elements it names.
 */
export async function axeCheck(page: Page, label = page.url()): Promise<AxeViolation[]> {
  const injected = await page.evaluate('typeof window.axe === "object"');
  if (!injected) await page.evaluate(AXE_SOURCE);
  const violations = (await page.evaluate(
    `axe.run(document, { resultTypes: ['violations'], runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] } }).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target, failureSummary: n.failureSummary })) })))`,
  )) as AxeViolation[];
  const blocking = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  if (blocking.length > 0) {
    const report = blocking
      .map((v) => `  ${v.impact} ${v.id} (${v.help}):\n${v.nodes.map((n) => `    ${JSON.stringify(n.target)} ${n.failureSummary?.replace(/\s+/g, ' ') ?? ''}`).join('\n')}`)
      .join('\n');
    throw new Error(`axe found ${blocking.length} serious or critical violation(s) on ${label}:\n${report}`);
  }
  return violations;
}

/**
 * A PNG of the page for the README, into WEB_SCREENSHOTS_DIR (`npm run screenshots` sets it to
 * docs/screenshots); without it nothing is written, so `npm test` leaves the checkout clean.
 */
export async function screenshot(page: Page, name: string, { fullPage = false } = {}): Promise<string | undefined> {
  const dir = process.env.WEB_SCREENSHOTS_DIR;
  if (!dir) return undefined;
  mkdirSync(dir, { recursive: true });
  const file = path.join(path.resolve(dir), `${name}.png`);
  // The viewport (1280×800) by default, as a person first sees the page; no text caret.
  await page.screenshot({ path: file, fullPage, caret: 'hide', animations: 'disabled' });
  return file;
}

/** Seat buttons by seat id: their visible text is the seat id, their accessible name starts with "Seat <id>". */
export function seat(page: Page, id: string) {
  return page.getByRole('button', { name: new RegExp(`^Seat ${id},`) });
}

export async function seatLabel(page: Page, id: string): Promise<string> {
  return (await seat(page, id).getAttribute('aria-label')) ?? '';
}

export interface TestFlight {
  id: string;
  flightNumber: string;
  origin: string;
  destination: string;
  departureTime: string;
}

/** A flight created over the API by the seeded admin: `rows` rows of seats A–F, economy at $100.00. */
export async function createFlight(options: { rows?: number; origin?: string; destination?: string; departureTime?: string; arrivalTime?: string } = {}): Promise<TestFlight> {
  const { accessToken } = await loginAdmin();
  const response = await api('POST', '/flights', {
    token: accessToken,
    body: {
      flightNumber: flightNumber(),
      origin: options.origin ?? 'LHR',
      destination: options.destination ?? 'JFK',
      departureTime: options.departureTime ?? '2027-06-15T09:30:00Z',
      arrivalTime: options.arrivalTime ?? '2027-06-15T17:45:00Z',
      seatMap: seatMap(options.rows ?? 4),
    },
  });
  if (response.status !== 201) throw new Error(`create flight: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body as TestFlight;
}

/**
 * Starts watching the page's seat buttons: the page itself notes the time (Date.now(), the same clock
 * as this process) when every seat's accessible name matches its pattern. Read it with seatsMatchedAt.
 * A reload would lose the note, so a note also proves the page changed without one.
 */
export async function watchSeats(page: Page, expected: Record<string, RegExp>): Promise<void> {
  const patterns = Object.entries(expected).map(([id, pattern]) => [id, pattern.source, pattern.flags]);
  await page.evaluate((patterns) => {
    const doc = (globalThis as any).document;
    const win = globalThis as any;
    win.__seatsMatchedAt = undefined;
    const matches = () =>
      patterns.every(([id, source, flags]) => {
        const button = doc.querySelector(`button[aria-label^="Seat ${id},"]`);
        return button !== null && new RegExp(source!, flags).test(button.getAttribute('aria-label'));
      });
    const observer = new win.MutationObserver(() => {
      if (win.__seatsMatchedAt === undefined && matches()) {
        win.__seatsMatchedAt = Date.now();
        observer.disconnect();
      }
    });
    observer.observe(doc.body, { subtree: true, childList: true, attributes: true, characterData: true });
    if (matches()) win.__seatsMatchedAt = Date.now();
  }, patterns);
}

/** When the seats watched by watchSeats all matched (ms since the epoch); waits for it. */
export async function seatsMatchedAt(page: Page, timeoutMs = UI_TIMEOUT_MS): Promise<number> {
  return until(
    async () => {
      const at = (await page.evaluate('window.__seatsMatchedAt')) as number | undefined;
      if (at === undefined) throw new Error('the seats do not show that yet');
      return at;
    },
    { timeoutMs, what: 'the watched seats' },
  );
}

/**
 * Presses Tab (Shift+Tab with `backwards`) until the focused element's accessible name (its
 * aria-label, else its text) matches, and returns how many presses that took. Fails after `max`.
 */
export async function tabTo(page: Page, name: string | RegExp, { backwards = false, max = 120 } = {}): Promise<number> {
  const nameOfFocused = () =>
    page.evaluate(() => {
      const element = (globalThis as any).document.activeElement;
      if (!element) return '';
      return (element.getAttribute('aria-label') ?? element.textContent ?? '').trim();
    });
  const seen: string[] = [];
  for (let presses = 1; presses <= max; presses += 1) {
    await page.keyboard.press(backwards ? 'Shift+Tab' : 'Tab');
    const focused = await nameOfFocused();
    seen.push(focused);
    if (typeof name === 'string' ? focused === name : name.test(focused)) return presses;
  }
  throw new Error(`${max} Tab presses never reached ${String(name)}; focus went through ${JSON.stringify(seen.slice(-20))}`);
}

/** Presses a paged list's "Show more" until `item` is there (a list ordered newest first puts old rows last). */
export async function showMoreUntil(page: Page, item: ReturnType<Page['locator']>, what = 'the item'): Promise<void> {
  await until(
    async () => {
      if ((await item.count()) > 0) return true;
      const more = page.getByRole('button', { name: 'Show more' });
      if ((await more.count()) > 0 && (await more.isVisible()) && (await more.isEnabled())) await more.click();
      return false;
    },
    { what, intervalMs: 200 },
  );
}
