import { mongoDb } from '../../lib/clients/mongo';
import { log } from '../../lib/log';
import { observeAs } from '../../lib/observability';
import { scheduled, triggeredFunction } from '../../lib/triggers';
import { selfRegistration } from '../../registry/self-registration';
import { accountNotifier } from './notifier';
import { MongoUserStore } from './store';
import { UserService } from './service';

/**
 * The users service's scheduled work, never on the request path (serverless.yml, every minute): the
 * registry heartbeat, and the password-changed emails that a failed hand-over or a crash after the
 * change left on their user documents (docs/architecture.md, Users).
 */
observeAs('users');
const users = new UserService(new MongoUserStore(mongoDb), undefined, { notifier: accountNotifier });

export const handler = triggeredFunction(scheduled, async () => {
  const registration = selfRegistration('users');
  // MongoDB down: the notices wait for the next run; the heartbeat goes on regardless.
  const relay = users.relayPendingNotices().catch((error: Error) => {
    log.warn('pending password-changed emails not read; the next run retries', { error: { name: error.name, message: error.message } });
    return 0;
  });
  const [notices] = await Promise.all([relay, registration?.touch()]);
  return { service: 'users', instanceId: registration?.instanceId ?? null, notices };
});
