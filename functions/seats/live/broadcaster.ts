import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { redis } from '../../../lib/clients/redis';
import { log } from '../../../lib/log';
import { flightId } from '../../../lib/ids';
import { count, observeAs } from '../../../lib/observability';
import { triggeredFunction } from '../../../lib/triggers';
import * as z from '../../../lib/validation';
import { apiGatewayConnections, POSTS_AT_ONCE, type Connections } from './connections';
import { kickBroadcast } from './kick';
import { coalesce, snapshotMessage, type ServerMessage } from './messages';
import { LiveStore } from './store';

/**
 * The broadcaster: sends a flight's new changes to everyone watching it. A seat script that changes a
 * watched flight sets the flight's broadcast flag (if not set) and its function invokes this one
 * asynchronously: the request never waits for the fan-out, and at most one broadcaster runs per
 * flight, so watchers get the changes in version order. It reads the changes after the last version
 * sent, coalesces them (one `seats` message per run, whatever the burst), sends them to every watcher
 * a few connections at a time, forgets connections that are gone (410), records how far it got, and
 * repeats until no change is left (store.endTurn). Near its time limit it hands the flight to a new
 * run (the flag goes back to asked, so no change starts a second run beside it). A run that finds the
 * flight taken (a duplicate invoke) does nothing, and a run stops sending once its lease is gone.
 */

export interface BroadcastOptions {
  /** Connections sent to at once. */
  concurrency: number;
  /** Changes read (and coalesced) at once. */
  batch: number;
}

/**
 * A run's turn on its flight, as far as its own clock can tell. A run sends only while it holds the
 * turn: it renews the lease whenever less than half of it is left, before the next post, and stops
 * once the renewal says another run has the flight. A run that was paused (a frozen container, a long
 * GC) thus sends nothing after its lease has lapsed, when another run may be sending newer changes.
 */
class Turn {
  readonly token = randomUUID();
  /** When the lease runs out by this process's clock, counted from before the call that renewed it. */
  private leaseEnds = 0;
  private renewing: Promise<boolean> | undefined;

  constructor(
    private readonly store: LiveStore,
    private readonly flightId: string,
  ) {}

  take(): Promise<boolean> {
    return this.renewed(() => this.store.takeTurn(this.flightId, this.token));
  }

  markSent(version: number): Promise<boolean> {
    return this.renewed(() => this.store.markSent(this.flightId, this.token, version));
  }

  /** Ends the turn; true when a change came meanwhile and the turn is this run's again. */
  takeAgain(): Promise<boolean> {
    return this.renewed(() => this.store.endTurn(this.flightId, this.token));
  }

  /** Whether the run may post now; one renewal at a time for all its workers. */
  async held(): Promise<boolean> {
    if (Date.now() < this.leaseEnds - this.store.leaseMs / 2) return true;
    this.renewing ??= this.renewed(() => this.store.renewTurn(this.flightId, this.token)).finally(() => (this.renewing = undefined));
    return this.renewing;
  }

  private async renewed(call: () => Promise<boolean>): Promise<boolean> {
    const asked = Date.now();
    const held = await call();
    this.leaseEnds = held ? asked + this.store.leaseMs : 0;
    return held;
  }
}

/**
 * Whether the versions after `from` up to `last` reach into those a new primary made after a failover
 * (from `reusedFrom` on): they may repeat versions sent before it with other changes (lost with the
 * old primary), which a watcher would skip as seen, so it needs a snapshot instead.
 */
const crossesFailover = (from: number, last: number, reusedFrom: number | undefined) => reusedFrom !== undefined && from < reusedFrom && reusedFrom <= last;

export class Broadcaster {
  constructor(
    private readonly store: LiveStore,
    private readonly connections: Connections,
    private readonly options: BroadcastOptions = { concurrency: POSTS_AT_ONCE, batch: 500 },
  ) {}

  /** Sends the flight's new changes until none is left, or until `deadline` (then `handOver` starts another run). */
  async broadcast(flightId: string, deadline = Infinity, handOver: (flightId: string) => Promise<void> = async () => undefined): Promise<{ messages: number; gone: number }> {
    const totals = { messages: 0, gone: 0 };
    const turn = new Turn(this.store, flightId);
    if (!(await turn.take())) return totals;
    // Connections whose post failed in this run: they get nothing more from it (the next run, at the
    // next change or the sweep's minute, catches them up), so one that keeps failing cannot keep it going.
    const failedNow = new Set<string>();
    do {
      for (let sent = await this.store.lastSent(flightId); ; ) {
        if (Date.now() > deadline) {
          if (await this.store.passTurn(flightId, turn.token)) await handOver(flightId);
          return totals;
        }
        // The watchers are read after the changes (one connection, in order): one who subscribed since has a snapshot at least this new.
        const [entries, watchers, owed, reusedFrom] = await Promise.all([
          this.store.changesSince(flightId, sent, this.options.batch),
          this.store.watchers(flightId, Date.now()),
          this.store.owed(flightId),
          this.store.reusedFrom(flightId),
        ]);
        const last = entries.at(-1)?.version ?? sent;
        const failedOver = crossesFailover(sent, last, reusedFrom);
        const watching = new Set(watchers);
        // Who is not where this run starts, and the version each surely has: the connections a failed
        // post left behind and, after a failover, everyone.
        const behind = new Map<string, number>();
        for (const id of watchers) {
          const version = owed.get(id) ?? (failedOver ? sent : undefined);
          if (version !== undefined && !failedNow.has(id)) behind.set(id, version);
        }
        if (entries.length === 0 && behind.size === 0) break;
        const run = entries.length > 0 ? coalesce(flightId, entries) : [];
        const late = await this.catchUp(flightId, behind, last, reusedFrom);
        const outcome = await this.fanOut(watchers, (id) => (failedNow.has(id) ? [] : (late.messages.get(id) ?? run)), turn);
        await this.store.unwatch(flightId, outcome.gone);
        for (const id of outcome.failed) failedNow.add(id);
        const settled = [...owed.keys()].filter((id) => !watching.has(id) || outcome.gone.includes(id) || (behind.has(id) && outcome.delivered.has(id)));
        // A connection whose post failed surely has what it had before this batch.
        await this.store.settleOwed(flightId, new Map(outcome.failed.map((id) => [id, behind.get(id) ?? sent])), settled);
        totals.messages += outcome.messages;
        totals.gone += outcome.gone.length;
        if (outcome.lost) return totals;
        // After a failover everyone got the snapshot: the cursor moves to it.
        sent = failedOver && late.snapshot ? Math.max(last, late.snapshot.version) : last;
        if (!(await turn.markSent(sent))) return totals;
      }
    } while (await turn.takeAgain());
    return totals;
  }

  /**
   * What each connection that is not where this run starts gets instead of the run: the changes from
   * the version it surely has up to `last`, coalesced like a run, or a snapshot (at `last` or later)
   * when the stream no longer holds them all, or when they reach into the versions a new primary made
   * after a failover (what the connection has may be versions the old primary lost: store.reusedFrom).
   */
  private async catchUp(flightId: string, behind: Map<string, number>, last: number, reusedFrom: number | undefined) {
    const byVersion = new Map<number, ServerMessage[] | undefined>();
    for (const version of new Set(behind.values())) {
      if (version >= last) {
        byVersion.set(version, []);
        continue;
      }
      const entries = crossesFailover(version, last, reusedFrom) ? [] : (await this.store.changesSince(flightId, version, last - version)).filter((entry) => entry.version <= last);
      // Complete when the first change kept starts right after its version (as for a subscribe).
      const complete = entries.length > 0 && entries[0]!.from <= version + 1;
      byVersion.set(version, complete ? coalesce(flightId, entries) : undefined);
    }
    const snapshot = [...byVersion.values()].includes(undefined) ? await this.store.snapshot(flightId) : undefined;
    const fallback = snapshot ? [snapshotMessage(flightId, snapshot)] : [];
    return { messages: new Map([...behind].map(([id, version]) => [id, byVersion.get(version) ?? fallback])), snapshot };
  }

  /**
   * Sends each connection its messages, in order, `concurrency` connections at a time, while the run
   * holds its turn. Answers the connections that are gone (410), those whose post failed otherwise,
   * those that got all theirs, how many messages went, and whether the turn was lost.
   */
  private async fanOut(connectionIds: string[], messagesFor: (connectionId: string) => ServerMessage[], turn: Turn) {
    const outcome = { gone: [] as string[], failed: [] as string[], delivered: new Set<string>(), messages: 0, lost: false };
    const queue = [...connectionIds];
    const send = async (id: string) => {
      for (const message of messagesFor(id)) {
        if (!(await turn.held())) return void (outcome.lost = true);
        const result = await this.connections.send(id, message).catch((error: Error) => {
          // One connection's failure must not hold back the others; the next run catches it up.
          log.warn('could not send to a connection', { connectionId: id, error: error.message });
          return 'failed' as const;
        });
        if (result === 'gone') return void outcome.gone.push(id);
        if (result === 'failed') return void outcome.failed.push(id);
        outcome.messages += 1;
      }
      outcome.delivered.add(id);
    };
    const worker = async () => {
      for (let id = queue.shift(); id !== undefined && !outcome.lost; id = queue.shift()) await send(id);
    };
    await Promise.all(Array.from({ length: Math.min(this.options.concurrency, connectionIds.length) }, worker));
    return outcome;
  }
}

observeAs('seats');
const broadcaster = new Broadcaster(new LiveStore(redis()), apiGatewayConnections);

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
