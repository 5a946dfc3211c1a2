import { createHash } from 'node:crypto';
import type middy from '@middy/core';
import { config } from '../lib/config';
import { httpHandler, type HttpRequest, type HttpResponse, type RouteSpec } from '../lib/http/stack';
import { log } from '../lib/log';
import type { InstanceAttributes } from './model';
import { registryStore } from './registry';
import type { RegistryStore } from './store';

/**
 * How a service keeps itself in the registry, like a Eureka client: it registers its instance on cold
 * start and refreshes the heartbeat at most every REGISTRY_HEARTBEAT_SECONDS from normal traffic. The
 * write runs beside the request (the response waits for it only if it is still running) and its
 * failure never fails the request. The instance id is derived from the service and its endpoint, so
 * every container of one deployment refreshes the same instance, and another stage, region or URL is
 * another instance.
 */

export type ServiceName = 'users' | 'flights' | 'seats' | 'registry';

export function instanceIdFor(service: string, attributes: Pick<InstanceAttributes, 'url'> & { stage?: string; region?: string }): string {
  const digest = createHash('sha256').update(`${attributes.url}|${attributes.stage ?? ''}|${attributes.region ?? ''}`).digest('hex');
  return `${service}-${digest.slice(0, 16)}`;
}

export class SelfRegistration {
  private lastWriteAt = 0;
  private inFlight: Promise<void> | undefined;
  private registered = false;

  constructor(
    readonly service: ServiceName,
    private readonly store: RegistryStore,
    private readonly attributes: InstanceAttributes,
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get instanceId(): string {
    return instanceIdFor(this.service, this.attributes);
  }

  /** Starts a registration or heartbeat when one is due; returns the write in flight, if any. */
  touch(): Promise<void> | undefined {
    if (this.inFlight || this.now() - this.lastWriteAt < this.intervalMs) return this.inFlight;
    const write = this.registered
      ? this.store.refreshOwnInstance(this.service, this.instanceId, this.attributes, this.intervalMs)
      : this.store.register(this.service, this.instanceId, this.attributes);
    this.inFlight = write
      .then(() => {
        this.registered = true;
        this.lastWriteAt = this.now();
      })
      .catch((error: Error) => log.warn('registry heartbeat failed', { service: this.service, error: error.message }))
      .finally(() => {
        this.inFlight = undefined;
      });
    return this.inFlight;
  }
}

const registrations = new Map<ServiceName, SelfRegistration | null>();

/** This container's registration for a service, or null when PUBLIC_API_URL is not configured. */
export function selfRegistration(service: ServiceName): SelfRegistration | null {
  if (!registrations.has(service)) {
    const { STAGE, AWS_REGION, SERVICE_VERSION, PUBLIC_API_URL } = config('service');
    const registration = PUBLIC_API_URL
      ? new SelfRegistration(
          service,
          registryStore(),
          { url: PUBLIC_API_URL, stage: STAGE, region: AWS_REGION, version: SERVICE_VERSION },
          config('registry').REGISTRY_HEARTBEAT_SECONDS * 1000,
        )
      : null;
    registrations.set(service, registration);
  }
  return registrations.get(service)!;
}

const HEARTBEAT_WAIT_MS = 1_000;

/** Middleware: a heartbeat beside each request; waited for (briefly) before the Lambda returns, since a frozen container would lose it. */
export function heartbeatMiddleware(service: ServiceName): middy.MiddlewareObj {
  let pending: Promise<void> | undefined;
  const settle = async () => {
    if (pending) await Promise.race([pending, new Promise((r) => setTimeout(r, HEARTBEAT_WAIT_MS))]);
    pending = undefined;
  };
  return {
    before: () => {
      pending = selfRegistration(service)?.touch();
    },
    after: settle,
    onError: settle,
  };
}

/** The shared HTTP stack plus this service's registry heartbeat: what every service handler is built with. */
export function serviceHandler(service: ServiceName) {
  return <B = undefined, Q = undefined, P = undefined>(spec: RouteSpec<B, Q, P>, handle: (request: HttpRequest<B, Q, P>) => Promise<HttpResponse>) =>
    httpHandler(spec, handle).use(heartbeatMiddleware(service));
}

/** The scheduled keep-alive of a service (EventBridge on AWS; `npm start` plays the schedule locally). */
export function scheduledHeartbeat(service: ServiceName) {
  return async () => {
    await selfRegistration(service)?.touch();
    return { service, instanceId: selfRegistration(service)?.instanceId ?? null };
  };
}
