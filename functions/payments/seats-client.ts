import { callService } from '../../registry/service-client';
import type { SeatsForPayments } from './service';

/** The seats service, reached through the registry with a `service` token (its /internal routes). */
export const seatsOverRegistry: SeatsForPayments = {
  settle(holdId, payment) {
    return callService('payments', 'seats', { method: 'POST', path: `/internal/holds/${holdId}/checkout`, body: payment });
  },
  bookings(cursor) {
    const query = new URLSearchParams({ limit: '100', ...(cursor ? { cursor } : {}) });
    return callService('payments', 'seats', { method: 'GET', path: `/internal/bookings?${query}` });
  },
};
