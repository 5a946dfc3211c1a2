import { config } from '../../lib/config';
import { kickNow } from '../../lib/triggers';

/** The payload the notices relay (notices-relay.ts) accepts besides its schedule's event. */
export const NOTICES_RELAY_KICK = 'notices-relay';

/** Starts the relay now (a script recorded booking emails); its schedule is the fallback. */
export const kickNoticesRelay = (): Promise<void> => kickNow(config('notices').NOTICES_RELAY_FUNCTION, NOTICES_RELAY_KICK);
