import { chromium } from 'playwright-core';
import { freePort } from '../scripts/stack';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../tests/support/chromium';
import { median } from './measure';

/**
 * Lighthouse (the npm package, run programmatically) on pages of the web app, with Debian's chromium:
 * the web section of `npm run bench` (bench/web.ts) seeds a flight with seedWebFlight, then scores the
 * search page (with results) and the flight's live seat map.
 *
 * Settings, and why:
 * - Lighthouse's desktop preset (formFactor desktop, a 1350×940 screen at DPR 1) and its default
 *   *simulated* throttling (Lantern: 40 ms RTT, 10 Mbit/s, no CPU slowdown): the page loads over
 *   loopback here, which would flatter it, so the load is replayed on a modelled network instead.
 *   `formFactor: 'mobile'` uses Lighthouse's mobile defaults (slow 4G, 4× CPU slowdown, a Moto G
 *   Power screen) for the stricter number.
 * - Three runs per page, the median of each category (Lighthouse's own advice for variance); every
 *   run starts from cleared storage and cache (Lighthouse's default), so it is a first visit.
 * - Chromium headless, launched by playwright-core with the flags the web tests use (no sandbox, no
 *   GPU, nothing that reaches for the network on its own: this machine has none), driven by Lighthouse
 *   over its DevTools port.
 */

const CATEGORIES = ['performance', 'accessibility', 'best-practices'] as const;

export interface LighthousePage {
  name: string;
  url: string;
}

export interface LighthouseScores {
  name: string;
  url: string;
  /** Category scores, 0–100, the median over the runs. */
  performance: number;
  accessibility: number;
  bestPractices: number;
  runs: number;
  /** The median run's lab metrics (ms; CLS unitless). */
  metrics: { firstContentfulPaint: number; largestContentfulPaint: number; totalBlockingTime: number; cumulativeLayoutShift: number; speedIndex: number };
  /** Audits that lost points in any run (score < 1), by id, with their titles: what to fix first. */
  failedAudits: { id: string; title: string; category: string }[];
}

export interface LighthouseOptions {
  /** Runs per page (default 3). */
  runs?: number;
  formFactor?: 'desktop' | 'mobile';
  log?: (line: string) => void;
  /** Every run's full Lighthouse result (the `lhr` JSON), e.g. to keep the reports. */
  onReport?: (page: LighthousePage, run: number, lhr: unknown) => void;
}

/** Lighthouse's scores for each page: performance, accessibility and best practices, 0–100, medians over `runs` runs. */
export async function lighthouseScores(pages: LighthousePage[], options: LighthouseOptions = {}): Promise<LighthouseScores[]> {
  const runs = options.runs ?? 3;
  const formFactor = options.formFactor ?? 'desktop';
  const log = options.log ?? (() => undefined);
  // Lighthouse is ESM-only.
  const { default: lighthouse } = (await import('lighthouse')) as { default: (url: string, flags: object, config?: object) => Promise<{ lhr: any } | undefined> };
  const config = formFactor === 'desktop' ? ((await import('lighthouse/core/config/desktop-config.js' as string)) as { default: object }).default : undefined;
  // Playwright launches and stops the browser (a throwaway profile); Lighthouse drives it over its DevTools port.
  const port = await freePort();
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS, `--remote-debugging-port=${port}`] });
  try {
    const results: LighthouseScores[] = [];
    for (const page of pages) {
      const reports: any[] = [];
      for (let run = 0; run < runs; run += 1) {
        const result = await lighthouse(page.url, { port, output: 'json', logLevel: 'error', onlyCategories: [...CATEGORIES], formFactor }, config);
        if (!result) throw new Error(`lighthouse returned nothing for ${page.url}`);
        if (result.lhr.runtimeError) throw new Error(`lighthouse could not load ${page.url}: ${result.lhr.runtimeError.code} ${result.lhr.runtimeError.message}`);
        reports.push(result.lhr);
        options.onReport?.(page, run, result.lhr);
        log(`${page.name} run ${run + 1}/${runs}: ${CATEGORIES.map((c) => `${c} ${Math.round(result.lhr.categories[c].score * 100)}`).join(', ')}`);
      }
      const score = (category: string) => median(reports.map((lhr) => Math.round(lhr.categories[category].score * 100)));
      const performance = score('performance');
      // The lab metrics of the run whose performance score is the median.
      const medianRun = reports.find((lhr) => Math.round(lhr.categories.performance.score * 100) === performance) ?? reports[0];
      const metric = (id: string) => Number(medianRun.audits[id]?.numericValue ?? NaN);
      const failed = new Map<string, { id: string; title: string; category: string }>();
      for (const lhr of reports) {
        for (const category of CATEGORIES) {
          for (const ref of lhr.categories[category].auditRefs as { id: string; weight: number }[]) {
            const audit = lhr.audits[ref.id];
            if (ref.weight > 0 && audit && audit.score !== null && audit.score < 1) failed.set(ref.id, { id: ref.id, title: audit.title, category });
          }
        }
      }
      results.push({
        name: page.name,
        url: page.url,
        performance,
        accessibility: score('accessibility'),
        bestPractices: score('best-practices'),
        runs,
        metrics: {
          firstContentfulPaint: metric('first-contentful-paint'),
          largestContentfulPaint: metric('largest-contentful-paint'),
          totalBlockingTime: metric('total-blocking-time'),
          cumulativeLayoutShift: metric('cumulative-layout-shift'),
          speedIndex: metric('speed-index'),
        },
        failedAudits: [...failed.values()],
      });
    }
    return results;
  } finally {
    await browser.close();
  }
}

export interface SeededWebFlight {
  flightId: string;
  flightNumber: string;
  /** The pages to score: the search page with this flight among its results, and its seat map. */
  pages: LighthousePage[];
}

async function call<T>(url: string, method: string, body: unknown, token?: string): Promise<T> {
  const response = await fetch(url, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${method} ${url} answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as T;
}

/**
 * A flight of a realistic size (2 business rows of 4, 28 economy rows of 6: 176 seats) created through
 * the API by `admin`, with a few seats held and booked by a traveller so the map shows every status.
 * `apiUrl` is where the API (and so the web app, at `/`) answers.
 */
export async function seedWebFlight(apiUrl: string, admin: { email: string; password: string }): Promise<SeededWebFlight> {
  const base = apiUrl.replace(/\/$/, '');
  const { accessToken } = await call<{ accessToken: string }>(`${base}/auth/login`, 'POST', admin);
  const price = (amount: number) => ({ amount, currency: 'USD' });
  const seats = [
    ...[1, 2].flatMap((row) => [...'ACDF'].map((letter) => ({ id: `${row}${letter}`, class: 'business', price: price(60_000) }))),
    ...Array.from({ length: 28 }, (_, i) => i + 3).flatMap((row) => [...'ABCDEF'].map((letter) => ({ id: `${row}${letter}`, class: 'economy', price: price(12_000) }))),
  ];
  const number = `LH${1000 + Math.floor(Math.random() * 9000)}`;
  const date = '2027-05-20';
  const flight = await call<{ id: string; flightNumber: string }>(
    `${base}/flights`,
    'POST',
    { flightNumber: number, origin: 'LHR', destination: 'JFK', departureTime: `${date}T09:30:00Z`, arrivalTime: `${date}T17:45:00Z`, seatMap: { seats } },
    accessToken,
  );
  const traveller = await call<{ accessToken: string }>(`${base}/auth/register`, 'POST', { email: `lighthouse-${Date.now()}@example.com`, password: 'lighthouse password', name: 'Lighthouse' });
  await call(`${base}/flights/${flight.id}/holds`, 'POST', { seats: ['3A', '3B', '7D'] }, traveller.accessToken);
  const toBook = await call<{ holdId: string }>(`${base}/flights/${flight.id}/holds`, 'POST', { seats: ['1C', '1D', '12E'] }, traveller.accessToken);
  const passengers = ['1C', '1D', '12E'].map((seat) => ({ seat, firstName: 'Light', lastName: 'House' }));
  await call(`${base}/holds/${toBook.holdId}/confirm`, 'POST', { passengers, contact: { email: 'lighthouse@example.com' }, paymentMethod: 'pm_card_visa' }, traveller.accessToken);
  return {
    flightId: flight.id,
    flightNumber: flight.flightNumber,
    pages: [
      { name: 'search', url: `${base}/#/?origin=LHR&destination=JFK&date=${date}` },
      { name: 'seat map', url: `${base}/#/flights/${flight.id}` },
    ],
  };
}
