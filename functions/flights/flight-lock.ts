import { ExecutionError, Redlock, type Lock } from '@sesamecare-oss/redlock';
import type { RedisClient } from '../../lib/clients/redis';

/**
 * The per-flight migration lock: Redlock over the servers of REDLOCK_URLS (three independent ones in
 * production: the lock is held by a majority, so it survives one server's loss), or over the seats
 * store alone when none are given. A lock can be lost without its holder knowing (a paused Lambda,
 * an expired lease), so it only keeps honest migrators apart; the apply itself is fenced by a token
 * (migration-store.ts, nextFenceToken), not by this lock.
 *
 * While held, the lock is extended every half duration; `extend: false` models a frozen process
 * (a paused Lambda) whose lock silently runs out.
 */

export interface HeldLock {
  /** Extends the lock now: false when it has run out (it may be someone else's). */
  stillHeld(): Promise<boolean>;
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
    private readonly nodes: RedisClient[],
    private readonly options: FlightLockOptions,
  ) {
    this.redlock = new Redlock(nodes, {
      retryCount: Math.max(0, Math.ceil(options.waitMs / RETRY_DELAY_MS)),
      retryDelay: RETRY_DELAY_MS,
      retryJitter: 50,
    });
    // A failed extension surfaces as a fenced apply; nothing to do with it here.
    this.redlock.on('error', () => undefined);
  }

  /** The lock's key; its hash tag keeps it in the flight's slot when the lock lives on the seats cluster. */
  static resource(flightId: string): string {
    return `locks:{flight:${flightId}}:migration`;
  }

  /** Whether a majority of the lock's servers hold the flight's lock (a server that does not answer holds nothing). */
  async isHeld(flightId: string): Promise<boolean> {
    const answers = await Promise.allSettled(this.nodes.map((node) => node.exists(FlightLock.resource(flightId))));
    const holding = answers.filter((answer) => answer.status === 'fulfilled' && answer.value === 1).length;
    return holding > this.nodes.length / 2;
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
      stillHeld: async () => {
        if (this.options.extend === false) return lock.expiration > Date.now();
        try {
          lock = await lock.extend(this.options.lockMs);
          return true;
        } catch {
          return false;
        }
      },
      release: async () => {
        clearInterval(timer);
        await lock.release().catch(() => undefined);
      },
    };
  }
}
