import { invokeAsync } from '../../lib/clients/lambda';
import { config } from '../../lib/config';
import { log } from '../../lib/log';
import { kickPayload } from '../../lib/triggers';

/** The payload the refund sweep (refunds.ts) accepts besides its schedule's event. */
export const REFUND_SWEEP_KICK = 'refund-sweep';

/** Starts the refund sweep now (a cancelled flight's refunds); a failure leaves them to its schedule. */
export async function kickRefundSweep(): Promise<void> {
  await invokeAsync(config('refunds').REFUND_SWEEP_FUNCTION, kickPayload(REFUND_SWEEP_KICK)).catch((error: Error) =>
    log.warn('could not start the refund sweep; its schedule will', { error: error.message }),
  );
}
