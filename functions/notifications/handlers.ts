import { assertTokenConfig } from '../../lib/auth/keys';
import { dynamo } from '../../lib/clients/dynamo';
import { config } from '../../lib/config';
import { serviceHandler } from '../../lib/http/stack';
import { intakeBody } from './model';
import { kickSender } from './sender-kick';
import { DynamoDeliveryStore } from './store';

/**
 * The notifications service's route: `POST /internal/notifications`, where the other services hand
 * over the events they recorded. Each becomes a delivery record (a repeat is ignored), and the sender
 * is started at once, so an email leaves seconds after its event rather than at the next minute.
 */

assertTokenConfig();
const store = new DynamoDeliveryStore(dynamo(), config('notifications').NOTIFICATIONS_TABLE);
const http = serviceHandler('notifications');

export const intake = http({ route: 'POST /internal/notifications', body: intakeBody }, async ({ body }) => {
  const accepted = await store.add(body.events, Date.now());
  if (accepted > 0) await kickSender();
  return { status: 202, body: { accepted } };
});
