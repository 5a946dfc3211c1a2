import { scheduledHeartbeat } from '../../registry/self-registration';

/** The payments service's registry heartbeat, on a schedule (serverless.yml), never on the request path. */
export const handler = scheduledHeartbeat('payments');
