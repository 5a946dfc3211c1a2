import { callService } from '../../registry/service-client';
import type { ServiceName } from '../../registry/self-registration';
import type { NotificationEvent } from './model';

/**
 * How the other services hand events to the notifications service: `POST /internal/notifications`,
 * found through the registry like every service call. A hand-over is idempotent (the event's id), so a
 * producer retries until it succeeds and only then forgets the event.
 */
export interface Notifier {
  handOver(events: readonly NotificationEvent[]): Promise<void>;
}

export function notifierOverRegistry(caller: Exclude<ServiceName, 'notifications'>): Notifier {
  return {
    async handOver(events) {
      await callService(caller, 'notifications', { method: 'POST', path: '/internal/notifications', body: { events } });
    },
  };
}
