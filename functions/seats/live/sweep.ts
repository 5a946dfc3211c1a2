import { redis } from '../../../lib/clients/redis';
import { observeAs } from '../../../lib/observability';
import { scheduled, triggeredFunction } from '../../../lib/triggers';
import { kickBroadcast } from './kick';
import { LiveStore } from './store';

/**
 * Every minute: for each flight someone watches, reclaim its expired holds (their seats' `available`
 * reaches the watchers even when nobody else touches the flight) and start a broadcast where changes
 * wait unsent or connections are owed a snapshot (a post to them failed). Holds expire lazily
 * otherwise, on the next script that touches the flight.
 */
observeAs('seats');
const store = new LiveStore(redis());

export async function sweepWatchedFlights(live: LiveStore, kick: (flightId: string) => Promise<void>): Promise<{ flights: number; kicked: number }> {
  const flights = await live.watchedFlights(Date.now());
  let kicked = 0;
  for (const flightId of flights) {
    if ((await live.sweep(flightId)) || (await live.askIfOwed(flightId))) {
      kicked += 1;
      await kick(flightId);
    }
  }
  return { flights: flights.length, kicked };
}

export const handler = triggeredFunction(scheduled, () => sweepWatchedFlights(store, kickBroadcast));
