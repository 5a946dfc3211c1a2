import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { redis } from '../../../lib/clients/redis';
import { log } from '../../../lib/log';
import { flightId } from '../../../lib/ids';
import { count, observeAs } from '../../../lib/observability';
import { triggeredFunction } from '../../../lib/triggers';
import * as z from '../../../lib/validation';
import { apiGatewayConnections, type Connections } from './connections';
import { kickBroadcast } from './kick';
import { coalesce } from './messages';
import { LiveStore } from './store';

/**
 * The broadcaster: sends a flight's new changes to everyone watching it. A seat script that changes a
 * watched flight sets the flight's broadcast flag (if not set) and its function invokes this one
 * asynchronously: the request never waits for the fan-out, and at most one broadcaster runs per
 * flight, so watchers get the changes in version order. It reads the changes after the last version
 * sent, coalesces them (one `seats` message per run, whatever the burst), sends them to every watcher
 * a few connections at a time, forgets connections that are gone (410), records how far it got, and
 * repeats until no change is left (store.endTurn). Near its time limit it hands the flight to a new
 * run; a run whose turn another took over (a duplicate invoke) stops.
 */

export interface BroadcastOptions {
  /** Connections sent to at once. */
  concurrency: number;
  /** Changes read (and coalesced) at once. */
  batch: number;
}

export class Broadcaster {
  constructor(
    private readonly store: LiveStore,
    private readonly connections: Connections,
    // 50 connections at once: a post is mostly a wait on the @connections endpoint, and a change waits
    // for the fan-out in progress before its own (16 at once gave p99 217 ms for 100 watchers, 50 gave
    // 151-161 ms: docs/benchmarks.md).
    private readonly options: BroadcastOptions = { concurrency: 50, batch: 500 },
  ) {}

  /** Sends the flight's new changes until none is left, or until `deadline` (then `handOver` starts another run). */
  async broadcast(flightId: string, deadline = Infinity, handOver: (flightId: string) => Promise<void> = async () => undefined): Promise<{ messages: number; gone: number }> {
    const totals = { messages: 0, gone: 0 };
    const runToken = randomUUID();
    await this.store.takeTurn(flightId, runToken);
    do {
      for (let sent = await this.store.lastSent(flightId); ; ) {
        if (Date.now() > deadline) {
          await this.store.endTurn(flightId, runToken);
          await handOver(flightId);
          return totals;
        }
        const entries = await this.store.changesSince(flightId, sent, this.options.batch);
        if (entries.length === 0) break;
        // The watchers are read after the changes: one who subscribed since has a snapshot at least this new.
        const watchers = await this.store.watchers(flightId, Date.now());
        const messages = coalesce(flightId, entries);
        const gone = await this.fanOut(watchers, messages);
        await this.store.unwatch(flightId, gone);
        totals.messages += messages.length * (watchers.length - gone.length);
        totals.gone += gone.length;
        sent = entries.at(-1)!.version;
        if (!(await this.store.markSent(flightId, runToken, sent))) return totals;
      }
    } while (await this.store.endTurn(flightId, runToken));
    return totals;
  }

  /** Sends the messages, in order, to each connection, `concurrency` connections at a time; answers those gone. */
  private async fanOut(connectionIds: string[], messages: Parameters<Connections['send']>[1][]): Promise<string[]> {
    const gone: string[] = [];
    const queue = [...connectionIds];
    const worker = async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        for (const message of messages) {
          const outcome = await this.connections.send(id, message).catch((error: Error) => {
            // One connection's failure must not hold back the others; its next change reaches it.
            log.warn('could not send to a connection', { connectionId: id, error: error.message });
            return 'failed' as const;
          });
          if (outcome === 'gone') {
            gone.push(id);
            break;
          }
          if (outcome === 'failed') break;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.options.concurrency, connectionIds.length) }, worker));
    return gone;
  }
}

observeAs('seats');
const broadcaster = new Broadcaster(new LiveStore(redis()), apiGatewayConnections);

/** Invoked asynchronously with the flight whose changes to send. */
/** The time a run leaves itself to hand over before its function's timeout. */
const HAND_OVER_MS = 5_000;

/** Started by kickBroadcast with the flight to send: nothing else. */
export const handler = triggeredFunction(z.strictObject({ flightId }), async (event, context: Context) => {
  const deadline = Date.now() + context.getRemainingTimeInMillis() - HAND_OVER_MS;
  const { messages, gone } = await broadcaster.broadcast(event.flightId, deadline, kickBroadcast);
  count('LiveMessagesSent', messages);
  count('LiveBroadcasts');
  if (gone > 0) log.info('forgot connections that were gone', { flightId: event.flightId, gone });
});
