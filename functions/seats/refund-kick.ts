import { config } from '../../lib/config';
import { kickNow } from '../../lib/triggers';

/** The payload the refund sweep (refunds.ts) accepts besides its schedule's event. */
export const REFUND_SWEEP_KICK = 'refund-sweep';

/** Starts the refund sweep now (a cancelled flight's refunds); a failure leaves them to its schedule. */
export const kickRefundSweep = (): Promise<void> => kickNow(config('refunds').REFUND_SWEEP_FUNCTION, REFUND_SWEEP_KICK);
