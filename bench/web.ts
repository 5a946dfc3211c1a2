import { randomBytes } from 'node:crypto';
import { freePort, type Stack } from '../scripts/stack';
import { fmt, say } from './measure';
import { section, type Section } from './report';
import { startBenchOffline } from './lifecycle';

/**
 * The web app under Lighthouse (bench/lighthouse.ts: Debian's chromium, simulated throttling, median of
 * three first visits): the search page with results and a flight's live seat map, served by sls offline
 * with a seeded flight. Targets: performance ≥ 90, accessibility ≥ 95, best practices ≥ 90.
 */
export async function webApp(stack: Stack): Promise<Section> {
  const { rows, notes } = section();
  const lighthouseRows: string[][] = [];
  say('web app under Lighthouse (search and seat map pages, desktop and mobile presets)');
  const { lighthouseScores, seedWebFlight } = await import('./lighthouse');
  const { seedAdmin } = await import('../scripts/seed-admin');
  const port = await freePort();
  const offline = await startBenchOffline({ port, lambdaPort: await freePort(), stage: 'bench', env: { ...process.env, ...stack.env, PUBLIC_API_URL: `http://127.0.0.1:${port}` }, quiet: true });
  try {
    const admin = { email: `bench-admin-${randomBytes(4).toString('hex')}@example.com`, password: randomBytes(12).toString('base64url') };
    await seedAdmin({ ADMIN_EMAIL: admin.email, ADMIN_PASSWORD: admin.password });
    const { pages } = await seedWebFlight(offline.url, admin);
    const targets = { performance: 90, accessibility: 95, bestPractices: 90 };
    for (const formFactor of ['desktop', 'mobile'] as const) {
      for (const scores of await lighthouseScores(pages, { formFactor, log: say })) {
        const met = scores.performance >= targets.performance && scores.accessibility >= targets.accessibility && scores.bestPractices >= targets.bestPractices;
        const { firstContentfulPaint, largestContentfulPaint, totalBlockingTime } = scores.metrics;
        lighthouseRows.push([scores.name, formFactor, scores.performance, scores.accessibility, scores.bestPractices, fmt(firstContentfulPaint), fmt(largestContentfulPaint), fmt(totalBlockingTime), met ? 'met' : 'missed'].map(String));
        if (scores.failedAudits.length > 0) notes.push(`Lighthouse, ${scores.name} (${formFactor}): audits that lost points: ${scores.failedAudits.map((audit) => audit.title).join('; ')}.`);
      }
    }
  } finally {
    await offline.stop();
  }
  return { rows, notes, lighthouseRows };
}
