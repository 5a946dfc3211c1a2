import { config } from '../../lib/config';
import { kickNow } from '../../lib/triggers';

/** The payload the sender (sender.ts) accepts besides its schedule's event. */
export const SENDER_KICK = 'notifications-sender';

/** Starts the sender now (events were handed over, or a run left some due); its schedule is the fallback. */
export const kickSender = (): Promise<void> => kickNow(config('notifications').NOTIFICATIONS_SENDER_FUNCTION, SENDER_KICK);
