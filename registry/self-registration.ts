import { createHash } from 'node:crypto';
import { config } from '../lib/config';
import { log } from '../lib/log';
import { observeAs, type ServiceName as Service } from '../lib/observability';
import { scheduled, triggeredFunction } from '../lib/triggers';
import { KEPT_BY_ITS_SERVICE, type InstanceAttributes } from './model';
import { registryStore } from './registry';
import type { RegistryStore } from './store';

/**
 * How a service keeps itself in the registry, like a Eureka client's heartbeat thread: a scheduled
 * keep-alive function per service (every minute on AWS; `npm start` runs each once at start, and a
 * deploy invokes them once, scripts/register-after-deploy.js) registers the instance and refreshes
 * its heartbeat. Nothing of it is on the request path, so a function that serves requests loads no
 * registry code and no AWS SDK unless its own work needs them. The instance id is derived from the
 * service and its endpoint, so every container of one deployment refreshes the same instance, and
 * another stage, region or URL is another instance.
 */

export type ServiceName = Exclude<Service, 'gateway'>;


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
          { url: PUBLIC_API_URL, stage: STAGE, region: AWS_REGION, version: SERVICE_VERSION, [KEPT_BY_ITS_SERVICE]: 'true' },
          config('registry').REGISTRY_HEARTBEAT_SECONDS * 1000,
        )
      : null;
    registrations.set(service, registration);
  }
  return registrations.get(service)!;
}

/** The scheduled keep-alive of a service (EventBridge on AWS; `npm start` plays the schedule locally). */
export function scheduledHeartbeat(service: ServiceName) {
  observeAs(service);
  return triggeredFunction(scheduled, async () => {
    await selfRegistration(service)?.touch();
    return { service, instanceId: selfRegistration(service)?.instanceId ?? null };
  });
}
