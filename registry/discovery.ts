import { AppError } from '../lib/http/errors';
import { log } from '../lib/log';
import type { HealthFilter, Instance } from './model';

/**
 * Finding and calling another service, Cloud Map style: `discover` filters instances by health and
 * attributes (cached briefly per container), `call` load-balances round-robin across the healthy ones
 * and fails over: an instance whose connection fails is marked suspect locally for a while and the
 * next one is tried. With none left, SERVICE_UNAVAILABLE (503).
 */

export interface InstanceSource {
  instances(service: string): Promise<Instance[] | undefined>;
}

export interface DiscoverOptions {
  health?: HealthFilter;
  attributes?: Record<string, string>;
}

export interface DiscoveryOptions {
  cacheMs: number;
  suspectMs: number;
  now?: () => number;
  /**
   * Instances tried per call before it answers SERVICE_UNAVAILABLE (default 3). Each try may wait out
   * its timeout, so without a bound a registry full of dead instances (or ones an admin registered by
   * mistake) would keep the caller past its own Lambda timeout, which the gateway answers with a 5xx.
   */
  maxAttempts?: number;
}

const DEFAULT_MAX_ATTEMPTS = 3;

/** A failure that says nothing about the request, only that this instance could not be reached. */
export class InstanceUnreachableError extends Error {
  constructor(readonly instance: Instance, cause: unknown) {
    super(`instance ${instance.instanceId} unreachable: ${(cause as Error)?.message ?? cause}`);
    this.name = 'InstanceUnreachableError';
  }
}

export function applyHealthFilter(instances: Instance[], filter: HealthFilter): Instance[] {
  switch (filter) {
    case 'ALL':
      return instances;
    case 'HEALTHY':
    case 'UNHEALTHY':
      return instances.filter((i) => i.health === filter);
    case 'HEALTHY_OR_ELSE_ALL': {
      const healthy = instances.filter((i) => i.health === 'HEALTHY');
      return healthy.length > 0 ? healthy : instances;
    }
  }
}

export class DiscoveryClient {
  private readonly cache = new Map<string, { at: number; instances: Instance[] | undefined }>();
  private readonly suspects = new Map<string, number>();
  private readonly cursors = new Map<string, number>();
  private readonly now: () => number;

  constructor(
    private readonly source: InstanceSource,
    private readonly options: DiscoveryOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  private async instancesOf(service: string): Promise<Instance[] | undefined> {
    const cached = this.cache.get(service);
    if (cached && this.now() - cached.at < this.options.cacheMs) return cached.instances;
    const instances = await this.source.instances(service);
    this.cache.set(service, { at: this.now(), instances });
    return instances;
  }

  async discover(service: string, options: DiscoverOptions = {}): Promise<Instance[]> {
    const instances = await this.instancesOf(service);
    if (!instances) throw new AppError('SERVICE_NOT_FOUND', `No service named ${service} is registered`);
    const matching = instances.filter((instance) =>
      Object.entries(options.attributes ?? {}).every(([key, value]) => instance.attributes[key] === value),
    );
    return applyHealthFilter(matching, options.health ?? 'HEALTHY');
  }

  private isSuspect(instance: Instance): boolean {
    const until = this.suspects.get(instance.instanceId);
    return until !== undefined && until > this.now();
  }

  /**
   * Runs `attempt` against one instance after another (at most `maxAttempts`), starting at the next in
   * round-robin order, until one does not throw InstanceUnreachableError. Other errors are the call's
   * own and pass through.
   */
  async call<T>(service: string, attempt: (instance: Instance) => Promise<T>, options: DiscoverOptions = {}): Promise<T> {
    const instances = await this.discover(service, { health: 'HEALTHY_OR_ELSE_ALL', ...options }).catch((error) => {
      if (error instanceof AppError && error.code === 'SERVICE_NOT_FOUND') return [];
      throw error;
    });
    const trusted = instances.filter((i) => !this.isSuspect(i));
    // When every instance is suspect, try them anyway: a suspicion is only a local guess.
    const candidates = trusted.length > 0 ? trusted : instances;
    const start = this.cursors.get(service) ?? 0;
    this.cursors.set(service, start + 1);
    for (let i = 0; i < Math.min(candidates.length, this.options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS); i += 1) {
      const instance = candidates[(start + i) % candidates.length]!;
      try {
        return await attempt(instance);
      } catch (error) {
        if (!(error instanceof InstanceUnreachableError)) throw error;
        this.suspects.set(instance.instanceId, this.now() + this.options.suspectMs);
        log.warn('instance unreachable; failing over', { service, instanceId: instance.instanceId, error: error.message });
      }
    }
    throw new AppError('SERVICE_UNAVAILABLE', `No reachable instance of ${service}`);
  }
}
