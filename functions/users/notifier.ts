import type { Notifier } from '../notifications/client';

/**
 * The users service's way to the notifications service, loaded on first use: the registry client it
 * needs brings the DynamoDB SDK, whose module init would otherwise be part of every cold start of
 * login, register and refresh, which never send an email.
 */
let notifier: Notifier | undefined;

export const accountNotifier: Notifier = {
  handOver(events) {
    notifier ??= (require('../notifications/client') as typeof import('../notifications/client')).notifierOverRegistry('users');
    return notifier.handOver(events);
  },
};
