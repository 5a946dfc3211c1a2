import { isDependencyUnavailable } from '../../lib/http/unavailable';
import { log } from '../../lib/log';
import { count } from '../../lib/observability';
import type { FlightSummary, RenderedEmail } from './model';
import type { DeliveryRecord, DeliveryStore } from './store';
import { renderEmail } from './templates';

/** The email provider (SES in production; the local emulator speaks its API). */
export interface Mailer {
  send(email: RenderedEmail & { to: string }): Promise<{ messageId: string }>;
}

/** The flight a booking email shows; undefined when the flights service does not know it. */
export interface FlightDirectory {
  flight(flightId: string): Promise<FlightSummary | undefined>;
}

export interface NotificationServiceOptions {
  /** Where the emails' links lead: the web app (ends with `/`). */
  webAppUrl: string;
  now?: () => number;
  /** How long a claimed delivery is a sender's: longer than one send can take (SES answers in well under a second). */
  leaseMs?: number;
  /** SES refusals before an event is parked: a refusal can be passing (a misconfigured identity fixed minutes later). */
  maxRefusals?: number;
  /** Deliveries read per query, and sent at once. */
  batchSize?: number;
  concurrency?: number;
}

export interface SendReport {
  sent: number;
  retried: number;
  parked: number;
  /** Deliveries were still due when the run stopped: another run should follow at once. */
  more: boolean;
}

/** 5 s, 10 s, 20 s… up to 15 minutes, with jitter, so a recovering SES is not hit by every retry at once. */
export function retryDelayMs(attempts: number, random = Math.random): number {
  const base = Math.min(5_000 * 2 ** Math.max(0, attempts - 1), 15 * 60_000);
  return Math.round(base * (0.8 + 0.4 * random()));
}

/**
 * The notifications service's sending rules. Events come in from the other services (handlers.ts: one
 * delivery record each, a repeat changes nothing) and go out as emails (`sendDue`): a sender claims each due
 * record with a lease, renders it, asks SES, and records the outcome. At least once, and exactly one
 * email in practice: a record is claimed by one sender at a time and leaves the to-do list when SES
 * accepts it; only a sender dying between SES's answer and that record gets the event sent again.
 */
export class NotificationService {
  private readonly now: () => number;
  private readonly leaseMs: number;
  private readonly maxRefusals: number;
  private readonly batchSize: number;
  private readonly concurrency: number;

  constructor(
    private readonly store: DeliveryStore,
    private readonly mailer: Mailer,
    private readonly flights: FlightDirectory,
    private readonly options: NotificationServiceOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.leaseMs = options.leaseMs ?? 60_000;
    this.maxRefusals = options.maxRefusals ?? 3;
    this.batchSize = options.batchSize ?? 25;
    this.concurrency = options.concurrency ?? 5;
  }

  /** Sends due deliveries, batch after batch, until none is due or `stopAt` (ms) comes. */
  async sendDue(stopAt: number): Promise<SendReport> {
    const report: SendReport = { sent: 0, retried: 0, parked: 0, more: false };
    // One lookup per flight per run: a cancelled flight's hundreds of emails show the same flight.
    const flights = new Map<string, Promise<FlightSummary | undefined>>();
    while (this.now() < stopAt) {
      const ids = await this.store.due(this.now(), this.batchSize);
      if (ids.length === 0) return report;
      let claimed = 0;
      for (let i = 0; i < ids.length; i += this.concurrency) {
        const outcomes = await Promise.all(ids.slice(i, i + this.concurrency).map((id) => this.deliver(id, flights)));
        for (const outcome of outcomes.filter((claimedOne) => claimedOne !== undefined)) {
          report[outcome] += 1;
          claimed += 1;
        }
      }
      // Every one was taken by another sender: it is working through the same list.
      if (claimed === 0) return report;
    }
    report.more = (await this.store.due(this.now(), 1)).length > 0;
    return report;
  }

  private async deliver(eventId: string, flights: Map<string, Promise<FlightSummary | undefined>>): Promise<keyof Omit<SendReport, 'more'> | undefined> {
    const now = this.now();
    const record = await this.store.claim(eventId, now, now + this.leaseMs);
    if (!record?.event) return undefined;
    const event = record.event;
    try {
      const flight = 'booking' in event ? await this.flightOf(event.booking.flightId, flights) : undefined;
      const email = renderEmail({ ...event, ...(flight ? { flight } : {}), webAppUrl: this.options.webAppUrl });
      const { messageId } = await this.mailer.send({ ...email, to: event.to });
      await this.store.sent(eventId, messageId, this.now());
      count('NotificationsSent');
      return 'sent';
    } catch (error) {
      return this.failed(record, error);
    }
  }

  private flightOf(flightId: string, flights: Map<string, Promise<FlightSummary | undefined>>): Promise<FlightSummary | undefined> {
    if (!flights.has(flightId)) {
      const lookup = this.flights.flight(flightId);
      // A failed lookup is not kept: the next email of the flight asks again.
      lookup.catch(() => flights.delete(flightId));
      flights.set(flightId, lookup);
    }
    return flights.get(flightId)!;
  }

  /**
   * A dependency that is down or slow (SES throttling or failing, the flights service unreachable) is
   * retried with backoff for as long as it takes; a refusal (SES will not take this email: a bad
   * address, an unverified sender) is retried a few times, then the event is parked with the reason.
   */
  private async failed(record: DeliveryRecord, error: unknown): Promise<'retried' | 'parked'> {
    const transient = isDependencyUnavailable(error);
    const counts = { attempts: record.attempts + 1, refusals: record.refusals + (transient ? 0 : 1) };
    const reason = `${(error as Error).name ?? 'Error'}: ${(error as Error).message ?? String(error)}`.slice(0, 500);
    if (!transient && counts.refusals >= this.maxRefusals) {
      await this.store.parked(record.eventId, reason, counts, this.now());
      count('NotificationsParked');
      log.error('notification parked', { eventId: record.eventId, kind: record.kind, reason });
      return 'parked';
    }
    await this.store.retryAt(record.eventId, this.now() + retryDelayMs(counts.attempts), counts);
    count('NotificationsFailed');
    log.warn('notification will be retried', { eventId: record.eventId, kind: record.kind, attempts: counts.attempts, transient, reason });
    return 'retried';
  }
}
