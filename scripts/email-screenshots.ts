import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { notificationEvent, NOTIFICATION_KINDS } from '../functions/notifications/model';
import { renderEmail } from '../functions/notifications/templates';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../tests/support/chromium';
import { sampleEmails } from '../tests/support/email-samples';

/**
 * `npm run screenshots:email`: a PNG of each kind of email's HTML part, as a mail client about 700 px
 * wide shows it, into docs/screenshots/email-<kind>.png. The samples go through the intake's own
 * schema first, so the pictures show events the service could really be handed.
 */

const WEB_APP_URL = 'https://flights.example.com/';
const OUT_DIR = path.resolve(__dirname, '..', 'docs', 'screenshots');

const samples = sampleEmails(WEB_APP_URL);

async function main(): Promise<void> {
  mkdirSync(OUT_DIR, { recursive: true });
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  try {
    const context = await browser.newContext({ viewport: { width: 700, height: 400 }, colorScheme: 'light', locale: 'en-GB', timezoneId: 'UTC', javaScriptEnabled: false });
    // An email loads nothing: a request would mean a remote image or stylesheet slipped in.
    await context.route('**/*', (route) => route.abort());
    const page = await context.newPage();
    for (const kind of NOTIFICATION_KINDS) {
      const { flight: _flight, webAppUrl: _url, ...event } = samples[kind];
      notificationEvent.parse(event);
      await page.setContent(renderEmail(samples[kind]).html, { waitUntil: 'load' });
      const file = path.join(OUT_DIR, `email-${kind}.png`);
      await page.screenshot({ path: file, fullPage: true, animations: 'disabled' });
      console.log(path.relative(process.cwd(), file));
    }
  } finally {
    await browser.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
