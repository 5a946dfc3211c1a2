import { ExecutionError, Redlock, type Lock } from '@sesamecare-oss/redlock';
import type Redis from 'ioredis';
import { flightKeys } from '../seats/keys';

/**
 * The per-flight migration lock: Redlock over one or more Redis nodes (REDLOCK_URLS, defaulting to the
 * seats Redis). The lock key lives in the flight's seats keyspace ({flight:ID} hash tag) because the
 * seats service's apply script reads it as the fence: an apply is refused unless the key still holds
 * this lock's token. So the seats Redis must be one of the lock nodes.
 *
 * While held, the lock is extended every half duration; `extend: false` models a frozen process
 * (a paused Lambda) whose lock silently runs out.
 */

export interface HeldLock {
  token: string;
  release(): Promise<void>;
}

export interface FlightLockOptions {
  lockMs: number;
  /** How long to keep trying before giving up (the migration is then re-queued). */
  waitMs: number;
  extend?: boolean;
}

const RETRY_DELAY_MS = 100;

export class FlightLock {
  private readonly redlock: Redlock;

  constructor(
    private readonly nodes: Redis[],
    private readonly options: FlightLockOptions,
  ) {
    this.redlock = new Redlock(nodes, {
      retryCount: Math.max(0, Math.ceil(options.waitMs / RETRY_DELAY_MS)),
      retryDelay: RETRY_DELAY_MS,
      retryJitter: 50,
    });
    // Failed extensions surface through the apply's fence; nothing to do with them here.
    this.redlock.on('error', () => undefined);
  }

  static resource(flightId: string): string {
    return flightKeys(flightId).migrationLock;
  }

  async isHeld(flightId: string): Promise<boolean> {
    return (await this.nodes[0]!.exists(FlightLock.resource(flightId))) === 1;
  }

  /** The lock, or undefined when it could not be had within `waitMs`. */
  async acquire(flightId: string): Promise<HeldLock | undefined> {
    let lock: Lock;
    try {
      lock = await this.redlock.acquire([FlightLock.resource(flightId)], this.options.lockMs);
    } catch (error) {
      if (error instanceof ExecutionError) return undefined;
      throw error;
    }
    const timer =
      this.options.extend === false
        ? undefined
        : setInterval(() => {
            lock.extend(this.options.lockMs).then(
              (extended) => void (lock = extended),
              () => undefined,
            );
          }, this.options.lockMs / 2);
    return {
      token: lock.value,
      release: async () => {
        clearInterval(timer);
        await lock.release().catch(() => undefined);
      },
    };
  }
}
