import { log } from '../../lib/log';
import type { NotificationEvent } from '../notifications/model';
import type { Notifier } from '../notifications/client';
import type { SeatStore } from './store';

/**
 * The seats service's relay of booking emails. The scripts that confirm or cancel a booking, cancel a
 * flight or record its time change write each email's event into the flight's notices stream in the
 * same atomic step (lua.ts `notice`), and mark the flight on a to-do list just before. The relay reads
 * the marked flights, hands their events to the notifications service in batches, and deletes them
 * once it has acknowledged them: at least once (a hand-over repeated after a crash is recognised by the
 * event's id there), and nothing recorded is lost.
 */

/** Events per hand-over: the notifications service's limit (model.ts MAX_EVENTS_PER_INTAKE). */
const BATCH = 100;
/** Flights read per page of the to-do list. */
const FLIGHTS_PER_PAGE = 100;
/**
 * A flight is unmarked only when its last mark is older than this: a mark comes just before the script
 * that may record events, which runs within Redis's 1.2 s deadline, so a relay that found nothing yet
 * leaves a fresh mark for the next run.
 */
const SETTLE_MS = 60_000;

export interface RelayReport {
  flights: number;
  handedOver: number;
}

export class NoticeRelay {
  constructor(
    private readonly store: SeatStore,
    private readonly notifier: Notifier,
    private readonly now: () => number = Date.now,
  ) {}

  /** Hands over every marked flight's events until none is left or `stopAt` (ms) comes. */
  async relay(stopAt: number): Promise<RelayReport> {
    await this.store.relayStarting();
    const report: RelayReport = { flights: 0, handedOver: 0 };
    const seen = new Set<string>();
    while (this.now() < stopAt) {
      const page = (await this.store.noticesDue(seen.size + FLIGHTS_PER_PAGE)).filter((due) => !seen.has(due.flightId));
      if (page.length === 0) return report;
      for (const due of page) {
        if (this.now() >= stopAt) return report;
        seen.add(due.flightId);
        report.handedOver += await this.drain(due.flightId, stopAt);
        report.flights += 1;
        if (due.markedAt < this.now() - SETTLE_MS) await this.store.clearNoticesDue(due.flightId, due.markedAt);
      }
    }
    return report;
  }

  private async drain(flightId: string, stopAt: number): Promise<number> {
    let handedOver = 0;
    while (this.now() < stopAt) {
      const batch = await this.store.notices(flightId, BATCH);
      if (batch.length === 0) break;
      const events: NotificationEvent[] = [];
      for (const { event } of batch) {
        try {
          events.push(JSON.parse(event) as NotificationEvent);
        } catch {
          log.error('dropped a notice that is not JSON', { flightId });
        }
      }
      if (events.length > 0) await this.notifier.handOver(events);
      await this.store.dropNotices(flightId, batch.map((entry) => entry.entryId));
      handedOver += events.length;
    }
    return handedOver;
  }
}
