import { redis } from '../../lib/clients/redis';
import { log } from '../../lib/log';
import { observeAs } from '../../lib/observability';
import { kick, scheduled, triggeredFunction } from '../../lib/triggers';
import * as z from '../../lib/validation';
import { notifierOverRegistry } from '../notifications/client';
import { NOTICES_RELAY_KICK } from './notices-kick';
import { NoticeRelay } from './notices';
import { RedisSeatStore } from './store';

/** Time left at the end of a run for the batch in progress. */
const RESERVE_MS = 10_000;

observeAs('seats');
const relay = new NoticeRelay(new RedisSeatStore(redis()), notifierOverRegistry('seats'));

export const handler = triggeredFunction(z.union([scheduled, kick(NOTICES_RELAY_KICK)]), async (_event, context) => {
  const report = await relay.relay(Date.now() + Math.max(1_000, context.getRemainingTimeInMillis() - RESERVE_MS));
  if (report.handedOver > 0) log.info('booking emails handed over', { ...report });
  return report;
});
