import * as z from '../lib/validation';
import { INSTANCE_ID, SERVICE_NAME } from '../lib/ids';

/**
 * The Cloud Map-style registry: a namespace per stage holds services, a service holds instances with
 * attributes (at least `url`) and a health status. One DynamoDB table:
 *
 *   namespace (HASH)  instanceKey (RANGE)       item
 *   "dev"             "seats#"                  the service itself (kind = service)
 *   "dev"             "seats#seats-3f9a…"       one instance (kind = instance)
 *
 * Access patterns, all Query/Get/Put/Update/Delete on the key, no scans:
 *   discover(service)          Query namespace = :ns AND begins_with(instanceKey, "service#")   (hot, cached)
 *   list services              Query namespace = :ns                                           (admin)
 *   register                   PutItem service (if absent) + PutItem instance
 *   heartbeat                  UpdateItem instance, conditional on it existing (and being stale, for self-heartbeats)
 *   deregister                 DeleteItem instance, conditional on it existing
 * `expiresAt` (epoch seconds) is the table's TTL attribute: DynamoDB deletes instances that stopped
 * heart-beating; until it does, reads skip them.
 */

export const HEALTH_STATUSES = ['HEALTHY', 'UNHEALTHY'] as const;
export type HealthStatus = (typeof HEALTH_STATUSES)[number];
export const HEALTH_FILTERS = ['HEALTHY', 'UNHEALTHY', 'ALL', 'HEALTHY_OR_ELSE_ALL'] as const;
export type HealthFilter = (typeof HEALTH_FILTERS)[number];

export const serviceName = z.string().check(z.regex(SERVICE_NAME, 'must be 2-63 lower-case letters, digits or -'));
export const instanceId = z.string().check(z.regex(INSTANCE_ID, 'must be 1-128 letters, digits, . _ : -'));

/**
 * An instance's URL: http(s), a host name or an IPv4 address, an optional port (1-65535) and path. Strict
 * enough that every URL it admits parses (`new URL`): the registry hands it to other services, and it
 * once admitted `http://[`, which broke a client parsing the listing.
 */
const PORT = '([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])';
const OCTET = '(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])';
// A host name's last label starts with a letter: one ending in a number would be read as an IPv4 address.
const HOST = `(${OCTET}(\\.${OCTET}){3}|([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?\\.)*[A-Za-z]([A-Za-z0-9-]*[A-Za-z0-9])?)`;
const INSTANCE_URL = new RegExp(`^https?://${HOST}(:${PORT})?(/[!-~]*)?$`);
const ATTRIBUTE_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

/**
 * The attribute that marks an instance its own service registers and heart-beats (registry/
 * self-registration.ts writes it through the store). Clients cannot set it: registry/handlers.ts
 * protects such an instance while it heart-beats.
 */
export const KEPT_BY_ITS_SERVICE = 'selfRegistered';
export const instanceAttributes = z.documentedAs(
  z
    .record(z.string().check(z.regex(ATTRIBUTE_NAME, 'attribute names are letters, digits, _ . -')), z.string().check(z.maxLength(1024)))
    .check(
      z.refine((attrs) => Object.keys(attrs).length <= 30, 'at most 30 attributes'),
      z.refine((attrs) => typeof attrs.url === 'string', { message: 'url is required', path: ['url'] }),
      z.refine((attrs) => attrs.url === undefined || INSTANCE_URL.test(attrs.url), { message: 'url must be an http(s) URL', path: ['url'] }),
      z.refine((attrs) => !(KEPT_BY_ITS_SERVICE in attrs), { message: 'is set by services registering themselves only', path: [KEPT_BY_ITS_SERVICE] }),
    ),
  {
    required: ['url'],
    maxProperties: 30,
    propertyNames: { type: 'string', pattern: ATTRIBUTE_NAME.source, not: { const: KEPT_BY_ITS_SERVICE } },
    properties: { url: { type: 'string', maxLength: 1024, pattern: INSTANCE_URL.source } },
  },
);

export type InstanceAttributes = Record<string, string> & { url: string };

export interface Instance {
  instanceId: string;
  service: string;
  attributes: InstanceAttributes;
  /** The health after applying heartbeat age: a HEALTHY instance that stopped heart-beating is UNHEALTHY. */
  health: HealthStatus;
  lastHeartbeatAt: string;
}

export interface ServiceSummary {
  name: string;
  instances: number;
  healthy: number;
}

export const instancesQuery = z.strictObject({ health: z._default(z.enum(HEALTH_FILTERS), 'ALL') });
export const registerInstanceBody = z.strictObject({ instanceId: z.optional(instanceId), attributes: instanceAttributes });
