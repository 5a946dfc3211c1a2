import { scheduledHeartbeat } from '../../registry/self-registration';

/** The notifications service's registry heartbeat, on a schedule (serverless.yml), never on the request path. */
export const handler = scheduledHeartbeat('notifications');
