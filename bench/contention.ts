import { randomUUID } from 'node:crypto';
import { fmt, median, say } from './measure';
import { section, type Section } from './report';
import { seatModules } from './fixtures';

/* ---------- 3. contention ---------- */
export async function contention(): Promise<Section> {
  const { rows, notes, row } = section();
  say('contention');
  const { redis, RedisSeatStore, SeatService, seatMap, ON_SALE_DEPARTURE, newFlightId } = await seatModules();
  const store = new RedisSeatStore(redis());
  const seats = new SeatService(store, 600_000);

  /** 1,000 users reach for one seat at the same moment. */
  const race = async () => {
    const flightId = newFlightId();
    await seats.provision(flightId, 1, ON_SALE_DEPARTURE, seatMap(1, 'A'));
    const started = performance.now();
    const answers = await Promise.allSettled(Array.from({ length: 1000 }, () => seats.hold({ userId: randomUUID(), role: 'user', email: '' }, flightId, ['1A'])));
    return { ms: performance.now() - started, winners: answers.filter((a) => a.status === 'fulfilled').length };
  };
  await race();
  const races = [];
  for (let i = 0; i < 5; i += 1) races.push(await race());
  const raceMs = median(races.map((r) => r.ms));
  const winners = [...new Set(races.map((r) => r.winners))];
  row('3. contention', '1,000 concurrent holds on one seat (median of 5 races)', fmt(1000 / (raceMs / 1000)), '', fmt(raceMs, 1), 0, `winners per race: ${winners.join(', ')} (must be 1); all answered in ${fmt(raceMs, 1)} ms`);

  /** 10,000 holds of 1-3 random seats over one 180-seat flight, with holds that expire in 50 ms. */
  const shortHolds = new SeatService(store, 50);
  const ids = seatMap(30).seats.map((s) => s.id);
  const storm = async () => {
    const flightId = newFlightId();
    await shortHolds.provision(flightId, 1, ON_SALE_DEPARTURE, seatMap(30));
    let issued = 0;
    let held = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (issued < 10_000) {
          issued += 1;
          const pick = [...new Set(Array.from({ length: 1 + (issued % 3) }, () => ids[Math.floor(Math.random() * ids.length)]!))];
          try {
            await shortHolds.hold({ userId: randomUUID(), role: 'user', email: '' }, flightId, pick);
            held += 1;
          } catch {
            // taken: the storm is about contention
          }
        }
      }),
    );
    return { perSecond: 10_000 / ((performance.now() - started) / 1000), held, audit: await shortHolds.audit(flightId) };
  };
  const storms = [];
  for (let i = 0; i < 3; i += 1) storms.push(await storm());
  const typical = storms.sort((a, b) => a.perSecond - b.perSecond)[1]!;
  const failing = storms.find((s) => !s.audit.ok)?.audit;
  row('3. contention', '10,000 holds over a 180-seat flight (50 ms holds, concurrency 64; median of 3)', fmt(typical.perSecond), '', '', 0, `${typical.held} won; audit ok in every run: ${!failing}`);
  const audit = failing ?? typical.audit;
  notes.push(`Contention: ${winners.join(' or ')} winner of 1,000 racers for one seat in every race; the 10,000-hold storms left the audit ${audit.ok ? 'ok' : `failing: ${audit.problems.slice(0, 3).join('; ')}`}.`);
  return { rows, notes };
}
