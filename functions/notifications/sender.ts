import { dynamo } from '../../lib/clients/dynamo';
import { config } from '../../lib/config';
import { log } from '../../lib/log';
import { observeAs } from '../../lib/observability';
import { kick, scheduled, triggeredFunction } from '../../lib/triggers';
import * as z from '../../lib/validation';
import { flightsOverRegistry } from './flights-client';
import { kickSender, SENDER_KICK } from './sender-kick';
import { NotificationService } from './service';
import { sesMailer } from './ses';
import { DynamoDeliveryStore } from './store';

/**
 * The sender: turns due delivery records into emails. Started by every hand-over and every minute (the
 * sweep that retries what failed and whatever a dead sender left); at most two run at once
 * (serverless.yml). A run works in batches until nothing is due or its time is nearly up, and then
 * starts the next run itself, so a flight cancelled with thousands of bookings drains batch by batch.
 */

observeAs('notifications');
const { AWS_REGION, EMAIL_FROM, SES_ENDPOINT } = config('email');
const { WEB_APP_URL, PUBLIC_API_URL } = config('webApp');
/** Time left for the run's last batch (a batch is 25 sends, well under a second each). */
const RESERVE_MS = 15_000;

const notifications = new NotificationService(
  new DynamoDeliveryStore(dynamo(), config('notifications').NOTIFICATIONS_TABLE),
  sesMailer({ region: AWS_REGION, from: EMAIL_FROM, ...(SES_ENDPOINT ? { endpoint: SES_ENDPOINT } : {}) }),
  flightsOverRegistry,
  { webAppUrl: WEB_APP_URL ?? `${PUBLIC_API_URL.replace(/\/$/, '')}/` },
);

export const handler = triggeredFunction(z.union([scheduled, kick(SENDER_KICK)]), async (_event, context) => {
  const report = await notifications.sendDue(Date.now() + Math.max(1_000, context.getRemainingTimeInMillis() - RESERVE_MS));
  if (report.more) await kickSender();
  if (report.sent + report.retried + report.parked > 0) log.info('notifications sent', { ...report });
  return report;
});
