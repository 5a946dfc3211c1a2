import { Surprise, travellerJourney, type Step } from './journey';

/**
 * `npm run smoke -- <API_URL>`: walks a real traveller's journey (scripts/journey.ts) against any
 * deployment of the API and exits non-zero on the first surprise. With SMOKE_ADMIN_EMAIL /
 * SMOKE_ADMIN_PASSWORD (or ADMIN_EMAIL / ADMIN_PASSWORD) it creates its own flight and cleans up after
 * itself; without them it books on an existing flight found by SMOKE_ORIGIN, SMOKE_DESTINATION and SMOKE_DATE.
 * `--operations` (with an admin) also migrates its flight's seat map and waits for the payments audit to be ok.
 */

const args = process.argv.slice(2);
const base = (args.find((arg) => !arg.startsWith('--')) ?? '').replace(/\/$/, '');
if (!/^https?:\/\//.test(base)) {
  console.error('usage: npm run smoke -- <API_URL>   (e.g. http://localhost:3000)');
  process.exit(2);
}
const adminEmail = process.env.SMOKE_ADMIN_EMAIL ?? process.env.ADMIN_EMAIL;
const adminPassword = process.env.SMOKE_ADMIN_PASSWORD ?? process.env.ADMIN_PASSWORD;

const step: Step = async (name, run) => {
  const started = Date.now();
  const result = await run();
  console.log(`  ✓ ${name} (${Date.now() - started} ms)`);
  return result;
};

console.log(`smoke test against ${base}`);
travellerJourney({
  base,
  step,
  admin: adminEmail && adminPassword ? { email: adminEmail, password: adminPassword } : undefined,
  operations: args.includes('--operations'),
  existingRoute: { origin: process.env.SMOKE_ORIGIN, destination: process.env.SMOKE_DESTINATION, date: process.env.SMOKE_DATE },
})
  .then(() => console.log('smoke test passed'))
  .catch((error: Error) => {
    console.error(`smoke test FAILED: ${error instanceof Surprise ? error.message : error.stack}`);
    process.exit(1);
  });
