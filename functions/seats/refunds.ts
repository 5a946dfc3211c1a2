import { redis } from '../../lib/clients/redis';
import { config } from '../../lib/config';
import { log } from '../../lib/log';
import { count, observeAs } from '../../lib/observability';
import { kick, scheduled, triggeredFunction } from '../../lib/triggers';
import * as z from '../../lib/validation';
import { paymentsOverRegistry } from './payments-client';
import { REFUND_SWEEP_KICK } from './refund-kick';
import { SeatService } from './service';
import { RedisSeatStore } from './store';

/**
 * The refund sweep: every cancelled booking's payment is refunded until the provider confirms it. A
 * cancellation marks its flight as having refunds due before it changes anything (store.ts
 * markRefundsDue) and tries the refund at once; whatever is still refund_pending (the payments service
 * or the provider was down, the process died) is done here, every minute, and right after a flight is
 * cancelled (an async invoke), so its hundreds of refunds do not wait in the cancelling request.
 */
/** Flights per run: a cancelled 300-seat flight is a few seconds of refunds; the next run takes the rest. */
const FLIGHTS_PER_RUN = 20;

observeAs('seats');
const { HOLD_TTL_SECONDS } = config('seats');
const seats = new SeatService(new RedisSeatStore(redis()), HOLD_TTL_SECONDS * 1000, { payments: paymentsOverRegistry });

export const handler = triggeredFunction(z.union([scheduled, kick(REFUND_SWEEP_KICK)]), async () => {
  const result = await seats.refundDue(FLIGHTS_PER_RUN);
  count('RefundsPending', result.pending);
  if (result.refunded > 0 || result.pending > 0) log.info('refund sweep', result);
  return result;
});
