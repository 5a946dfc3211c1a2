import { scheduledHeartbeat } from './self-registration';

/** The registry service's own heartbeat, on a schedule (serverless.yml), never on the request path. */
export const handler = scheduledHeartbeat('registry');
