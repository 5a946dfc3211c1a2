import { Cluster } from 'ioredis';
import type { RedisClient } from '../lib/clients/redis';
import type { SeatService } from '../functions/seats/service';

/**
 * The seats modules most sections use. Imported when a section runs, not at the top: main() sets the
 * environment first, and some modules read it at load (the logger its level, the authorizer its keys).
 */
export async function seatModules() {
  const [{ redis, closeRedis }, { RedisSeatStore }, { SeatService }, support, { newFlightId }] = await Promise.all([
    import('../lib/clients/redis'),
    import('../functions/seats/store'),
    import('../functions/seats/service'),
    import('../tests/support/seats'),
    import('../lib/ids'),
  ]);
  return { redis, closeRedis, RedisSeatStore, SeatService, newFlightId, ...support };
}

/**
 * Fresh seats for hold runs: `provision(count)` empties the store and provisions `count` flights of
 * 1,000 seats; `nextSeat()` hands each seat out once, nine seats to a traveller (the most one person
 * may hold on a flight).
 */
export async function freshSeats(client: RedisClient, seats: SeatService) {
  const { seatMap, ON_SALE_DEPARTURE, newFlightId } = await seatModules();
  const { HOLD_LIMIT_PER_USER } = await import('../functions/seats/model');
  const SEAT_IDS = seatMap(100, 'ABCDEFGHJK').seats.map((s) => s.id);
  let flights: string[] = [];
  let next = 0;
  return {
    provision: async (count: number) => {
      // FLUSHDB has no key: a cluster client would send it to one node only.
      await (client instanceof Cluster ? Promise.all(client.nodes('master').map((node) => node.flushdb())) : client.flushdb());
      flights = Array.from({ length: count }, newFlightId);
      await Promise.all(flights.map((id) => seats.provision(id, 1, ON_SALE_DEPARTURE, seatMap(100, 'ABCDEFGHJK'))));
      next = 0;
    },
    nextSeat: () => {
      const k = next++;
      const caller = { userId: `bench-${Math.floor(k / HOLD_LIMIT_PER_USER)}`, role: 'user' as const, email: '' };
      return { flightId: flights[Math.floor(k / 1000) % flights.length]!, seat: SEAT_IDS[k % 1000]!, caller };
    },
  };
}
