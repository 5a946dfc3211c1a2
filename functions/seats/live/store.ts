import { createHash, randomBytes } from 'node:crypto';
import { redisScript, type RedisClient, type RedisScript } from '../../../lib/clients/redis';
import { flightKeys, SCRIPT_KEY_COUNT, scriptKeys } from '../keys';
import { LIVE_SNAPSHOT, LIVE_SUBSCRIBE, LIVE_SWEEP } from '../lua';
import type { SeatStatus } from '../model';

/**
 * Live seat maps' state in the seats Redis. A flight's side lives in its slot (keys.ts: the change
 * stream the seat scripts append to, its watchers, the broadcast cursor and flag; and, only the
 * broadcaster's, `seats:{flight:ID}:live-owed`, a ZSET of the connections a failed post left behind,
 * scored by the version each surely has); the rest is one key each:
 *   live:ticket:<sha256 of ticket>   STRING  {userId?}, 60 s, taken once by the $connect authorizer
 *   live:{conn:ID}:flights           SET     the flights a connection watches (at most 10)
 *   live:watched                     ZSET    flight id → until when someone may watch it (the sweep's list)
 */

export interface SeatChange {
  seat: string;
  status: SeatStatus;
  /** When a held seat's hold runs out. */
  expiresAt?: string;
}

/** One entry of a flight's change stream: the changes that led from version `from` - 1 to `version`. */
export interface ChangeEntry {
  from: number;
  version: number;
  seats: SeatChange[];
  seatMapVersion?: number;
  flightStatus?: 'cancelled';
}

export interface Snapshot {
  kind: 'snapshot';
  version: number;
  seatMapVersion: number;
  seats: { id: string; status: SeatStatus; expiresAt?: string }[];
  kick: boolean;
}

export type WatchStart = { kind: 'changes'; version: number; entries: ChangeEntry[]; kick: boolean } | Snapshot;

const WATCHED = 'live:watched';
const ticketKey = (ticket: string) => `live:ticket:${createHash('sha256').update(ticket).digest('base64url')}`;
const connectionKey = (connectionId: string) => `live:{conn:${connectionId}}:flights`;
const owedKey = (flightId: string) => `seats:{flight:${flightId}}:live-owed`;
/** API Gateway closes a WebSocket after 2 hours, so no debt to a connection outlives that. */
const OWED_MS = 2 * 3600 * 1000;
const BROADCAST_LEASE_MS = 10_000;

/**
 * The broadcast flag's value while a broadcast is asked for and no run has taken it yet: the seat
 * scripts (lua.ts, publish) and the sweep set it with NX, so a flag a run holds is never replaced.
 */
const ASKED = '1';

/**
 * KEYS: flag. ARGV: run token, lease. Takes the flight for a run when a broadcast is asked for or the
 * flag has lapsed: 1. A flag that holds another run's token is that run's until its lease lapses: 0.
 */
const TAKE_TURN = `
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= '${ASKED}' then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`;

/** KEYS: flag, cursor. ARGV: run token, version, lease. Moves the cursor forward if the run still holds the flag: 1, else 0. */
const MARK_SENT = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if tonumber(redis.call('GET', KEYS[2]) or '0') < tonumber(ARGV[2]) then redis.call('SET', KEYS[2], ARGV[2], 'PX', 86400000) end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`;

/** KEYS: flag. ARGV: run token, what to leave in its place ('' to clear it), lease. Lets go of the flag if it is this run's: 1, else 0. */
const LET_GO = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end
return 1
`;

/** KEYS: owed, flag. ARGV: lease. Asks for a broadcast when a failed post left connections behind and none is asked for or running: 1. */
const ASK_IF_OWED = `
if redis.call('EXISTS', KEYS[1]) == 1 and redis.call('SET', KEYS[2], '${ASKED}', 'NX', 'PX', ARGV[1]) then return 1 end
return 0
`;

/** Adds a flight to a connection's set unless that would pass the limit: 1 added or there already, 0 full. */
const ADD_SUBSCRIPTION = `
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then
  if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
  redis.call('SADD', KEYS[1], ARGV[1])
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`;

const pairs = (flat: string[]) => {
  const out: [string, string][] = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
};

type StreamEntry = [id: string, fields: string[]];

function toChangeEntry([id, fields]: StreamEntry): ChangeEntry {
  const values = Object.fromEntries(pairs(fields));
  const seats = (JSON.parse(values.seats ?? '[]') as { seat: string; status: SeatStatus; expiresAtMs?: number }[]).map(({ seat, status, expiresAtMs }) => ({
    seat,
    status,
    ...(expiresAtMs ? { expiresAt: new Date(expiresAtMs).toISOString() } : {}),
  }));
  return {
    from: Number(values.from),
    version: Number(id.split('-')[0]),
    seats,
    ...(values.seatMapVersion ? { seatMapVersion: Number(values.seatMapVersion) } : {}),
    ...(values.flightStatus ? { flightStatus: values.flightStatus as 'cancelled' } : {}),
  };
}

/** A snapshot answer of the live scripts (lua.ts, LIVE_SNAPSHOT_ANSWER) as seat statuses. */
function toSnapshot(result: unknown[]): Snapshot {
  const [, version, seatMapVersion, seatIds, state, expiries, kick] = result as [string, number, number, string[], string[], string[], number];
  const markers = new Map(pairs(state));
  const holdExpiries = new Map(pairs(expiries).map(([holdId, ms]) => [holdId, new Date(Number(ms)).toISOString()]));
  const seats = seatIds.map((id) => {
    const marker = markers.get(id);
    if (!marker) return { id, status: 'available' as const };
    if (marker.startsWith('B:')) return { id, status: 'booked' as const };
    const expiresAt = holdExpiries.get(marker.slice(2));
    return { id, status: 'held' as const, ...(expiresAt ? { expiresAt } : {}) };
  });
  return { kind: 'snapshot', version, seatMapVersion, seats, kick: kick === 1 };
}

export class LiveStore {
  private readonly subscribeScript: RedisScript;
  private readonly snapshotScript: RedisScript;
  private readonly askIfOwedScript: RedisScript;
  private readonly sweepScript: RedisScript;
  private readonly addSubscriptionScript: RedisScript;
  private readonly takeTurnScript: RedisScript;
  private readonly markSentScript: RedisScript;
  private readonly letGoScript: RedisScript;

  constructor(
    private readonly redis: RedisClient,
    /** How long a broadcaster may go between two signs of life before another may take its flight. */
    readonly leaseMs = BROADCAST_LEASE_MS,
  ) {
    this.subscribeScript = redisScript(redis, 'liveSubscribe', LIVE_SUBSCRIBE, SCRIPT_KEY_COUNT);
    this.snapshotScript = redisScript(redis, 'liveSnapshot', LIVE_SNAPSHOT, SCRIPT_KEY_COUNT);
    this.askIfOwedScript = redisScript(redis, 'liveAskIfOwed', ASK_IF_OWED, 2);
    this.sweepScript = redisScript(redis, 'liveSweep', LIVE_SWEEP, SCRIPT_KEY_COUNT);
    this.addSubscriptionScript = redisScript(redis, 'liveAddSubscription', ADD_SUBSCRIPTION, 1);
    this.takeTurnScript = redisScript(redis, 'liveTakeTurn', TAKE_TURN, 1);
    this.markSentScript = redisScript(redis, 'liveMarkSent', MARK_SENT, 2);
    this.letGoScript = redisScript(redis, 'liveLetGo', LET_GO, 1);
  }

  /** A new single-use ticket; only its hash is stored. */
  async issueTicket(userId: string | undefined, ttlSeconds: number): Promise<string> {
    const ticket = randomBytes(32).toString('base64url');
    await this.redis.set(ticketKey(ticket), JSON.stringify(userId ? { userId } : {}), 'EX', ttlSeconds);
    return ticket;
  }

  /** Takes a ticket (it works once): what it was issued for, or undefined when unknown, used or expired. */
  async redeemTicket(ticket: string): Promise<{ userId?: string } | undefined> {
    const raw = (await this.redis.call('GETDEL', ticketKey(ticket))) as string | null;
    return raw ? (JSON.parse(raw) as { userId?: string }) : undefined;
  }

  /** Records that a connection watches a flight: false when it already watches `limit` others. */
  async addSubscription(connectionId: string, flightId: string, limit: number, leaseMs: number): Promise<boolean> {
    return (await this.addSubscriptionScript([connectionKey(connectionId)], [flightId, limit, leaseMs])) === 1;
  }

  async removeSubscription(connectionId: string, flightId: string): Promise<void> {
    await this.redis.srem(connectionKey(connectionId), flightId);
  }

  /** Forgets a connection; answers the flights it watched. */
  async dropConnection(connectionId: string): Promise<string[]> {
    const flights = await this.redis.smembers(connectionKey(connectionId));
    await this.redis.del(connectionKey(connectionId));
    return flights;
  }

  /**
   * Adds a watcher to a flight until `untilMs` and answers where it starts: the changes since
   * `sinceVersion` when all are kept, else a snapshot. Undefined for a flight that does not exist.
   */
  async watch(flightId: string, connectionId: string, untilMs: number, sinceVersion?: number): Promise<WatchStart | undefined> {
    const result = (await this.subscribeScript(scriptKeys(flightId), [connectionId, untilMs, sinceVersion ?? ''])) as unknown[] | null;
    if (!result) return undefined;
    await this.redis.zadd(WATCHED, 'GT', untilMs, flightId);
    if (result[0] === 'changes') {
      const [, version, entries, kick] = result as [string, number, StreamEntry[], number];
      return { kind: 'changes', version, entries: entries.map(toChangeEntry), kick: kick === 1 };
    }
    return toSnapshot(result);
  }

  /** The flight's seat statuses now, for watchers the stream cannot bring up to date; undefined for a flight that is gone. */
  async snapshot(flightId: string): Promise<Snapshot | undefined> {
    const result = (await this.snapshotScript(scriptKeys(flightId), [])) as unknown[] | null;
    return result ? toSnapshot(result) : undefined;
  }

  /**
   * The first version the flight's current primary made after it took over from another (a failover,
   * a restart): from there on a version may be one the previous primary sent with other changes.
   */
  async reusedFrom(flightId: string): Promise<number | undefined> {
    const from = await this.redis.hget(flightKeys(flightId).meta, 'primaryFrom');
    return from === null ? undefined : Number(from);
  }

  /** The connections a failed post left behind, and the version each surely has. */
  async owed(flightId: string): Promise<Map<string, number>> {
    return new Map(pairs(await this.redis.zrange(owedKey(flightId), 0, -1, 'WITHSCORES')).map(([id, version]) => [id, Number(version)]));
  }

  /**
   * Records connections a failed post left behind with the version each surely has (an earlier debt
   * keeps its lower version), and forgets those caught up.
   */
  async settleOwed(flightId: string, behind: Map<string, number>, settled: string[]): Promise<void> {
    const key = owedKey(flightId);
    const pipeline = this.redis.pipeline();
    if (settled.length > 0) pipeline.zrem(key, ...settled);
    if (behind.size > 0) pipeline.zadd(key, 'LT', ...[...behind].flatMap(([id, version]) => [version, id])).pexpire(key, OWED_MS);
    if (pipeline.length > 0) await pipeline.exec();
  }

  /** Asks for a broadcast of a flight whose connections a failed post left behind (the sweep): true when it should be started. */
  async askIfOwed(flightId: string): Promise<boolean> {
    return (await this.askIfOwedScript([owedKey(flightId), flightKeys(flightId).liveKick], [this.leaseMs])) === 1;
  }

  async unwatch(flightId: string, connectionIds: string[]): Promise<void> {
    if (connectionIds.length > 0) await this.redis.zrem(flightKeys(flightId).watchers, ...connectionIds);
  }

  /** The connections watching a flight now; lapsed subscriptions are dropped on the way. */
  async watchers(flightId: string, nowMs: number): Promise<string[]> {
    const key = flightKeys(flightId).watchers;
    await this.redis.zremrangebyscore(key, '-inf', nowMs);
    return this.redis.zrangebyscore(key, nowMs, '+inf');
  }

  /** Up to `count` changes after `version`, oldest first. */
  async changesSince(flightId: string, version: number, count: number): Promise<ChangeEntry[]> {
    const entries = (await this.redis.xrange(flightKeys(flightId).changes, `${version + 1}-0`, '+', 'COUNT', count)) as StreamEntry[];
    return entries.map(toChangeEntry);
  }

  /** The last version broadcast to the flight's watchers (0 before the first). */
  async lastSent(flightId: string): Promise<number> {
    return Number((await this.redis.get(flightKeys(flightId).liveSent)) ?? 0);
  }

  /**
   * Starts a broadcaster's turn on a flight: true when the flag was asked for (or has lapsed) and now
   * holds this run's token. False when another run holds it (a duplicate invoke, a change that asked
   * while a hand-over was under way): that run looks for new changes before it lets go, so this one
   * has nothing to do. Two runs never send for one flight at once, which is what keeps the order.
   */
  async takeTurn(flightId: string, runToken: string): Promise<boolean> {
    return (await this.takeTurnScript([flightKeys(flightId).liveKick], [runToken, this.leaseMs])) === 1;
  }

  /** Records a broadcast up to `version` (never backwards) and renews the turn; false when the turn is no longer this run's. */
  async markSent(flightId: string, runToken: string, version: number): Promise<boolean> {
    const keys = flightKeys(flightId);
    return (await this.markSentScript([keys.liveKick, keys.liveSent], [runToken, version, this.leaseMs])) === 1;
  }

  /** Renews the turn without moving the cursor; false when the turn is no longer this run's. */
  renewTurn(flightId: string, runToken: string): Promise<boolean> {
    return this.markSent(flightId, runToken, 0);
  }

  /**
   * Hands the turn to the next run (a broadcaster near its time limit): the flag goes back to asked,
   * so the run invoked next takes it and no change asks for a second one meanwhile. False when the
   * turn was no longer this run's.
   */
  async passTurn(flightId: string, runToken: string): Promise<boolean> {
    return (await this.letGoScript([flightKeys(flightId).liveKick], [runToken, ASKED, this.leaseMs])) === 1;
  }

  /**
   * Ends a broadcaster's turn: lets the next change ask for a broadcast again, then looks whether a
   * change came in meanwhile; if so and nobody else has taken the flight, takes it again (true: go on).
   * A change that came while the flag was still set asked for nothing, so this look, after the flag is
   * gone, is what guarantees it is sent.
   */
  async endTurn(flightId: string, runToken: string): Promise<boolean> {
    const keys = flightKeys(flightId);
    await this.letGoScript([keys.liveKick], [runToken, '', this.leaseMs]);
    const [next] = await this.changesSince(flightId, await this.lastSent(flightId), 1);
    if (!next) return false;
    return (await this.redis.set(keys.liveKick, runToken, 'PX', this.leaseMs, 'NX')) === 'OK';
  }

  /** The flights someone may still be watching. */
  async watchedFlights(nowMs: number): Promise<string[]> {
    await this.redis.zremrangebyscore(WATCHED, '-inf', nowMs);
    return this.redis.zrangebyscore(WATCHED, nowMs, '+inf');
  }

  /** Reclaims a watched flight's expired holds; true when a broadcast should be asked for. */
  async sweep(flightId: string): Promise<boolean> {
    return (await this.sweepScript(scriptKeys(flightId), [])) === 1;
  }
}
