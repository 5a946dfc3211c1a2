import { invokeAsync } from '../../../lib/clients/lambda';
import { config } from '../../../lib/config';
import { log } from '../../../lib/log';
import type { BroadcastKick } from '../store';

/**
 * Starts the broadcaster for a flight (an async invoke: the request that changed a seat does not wait
 * for the fan-out). A failure is logged, not passed on: the change is made and kept in the stream, and
 * the sweep asks again for any flight whose changes were not sent (within its minute, once the
 * broadcast flag has run out).
 */
export const kickBroadcast: BroadcastKick = async (flightId) => {
  await invokeAsync(config('live').LIVE_BROADCASTER_FUNCTION, { flightId }).catch((error: Error) =>
    log.warn('could not start the live broadcaster; the sweep will', { flightId, error: error.message }),
  );
};
