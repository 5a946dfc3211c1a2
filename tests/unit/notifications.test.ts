import type { NotificationEvent } from '../../functions/notifications/model';
import { NotificationService, retryDelayMs, type Mailer } from '../../functions/notifications/service';
import type { DeliveryRecord, DeliveryStore } from '../../functions/notifications/store';

/**
 * The sender's rules with an in-memory store and made-up SES answers: a refusal parks the event after
 * a few tries, a dependency outage never does, backoff grows and is capped.
 */

class MemoryStore implements DeliveryStore {
  readonly records = new Map<string, DeliveryRecord>();
  async add(events: readonly NotificationEvent[], now: number) {
    let added = 0;
    for (const event of events) {
      if (this.records.has(event.id)) continue;
      this.records.set(event.id, { eventId: event.id, kind: event.kind, status: 'pending', event, attempts: 0, refusals: 0, dueAt: now, createdAt: new Date(now).toISOString() });
      added += 1;
    }
    return added;
  }
  async get(id: string) {
    return this.records.get(id);
  }
  async due(now: number, limit: number) {
    return [...this.records.values()].filter((r) => (r.status === 'pending' || r.status === 'sending') && r.dueAt <= now).slice(0, limit).map((r) => r.eventId);
  }
  async claim(id: string, now: number, leaseUntil: number) {
    const record = this.records.get(id)!;
    if (!['pending', 'sending'].includes(record.status) || record.dueAt > now) return undefined;
    Object.assign(record, { status: 'sending', leaseUntil, dueAt: leaseUntil });
    return { ...record };
  }
  async sent(id: string, messageId: string) {
    Object.assign(this.records.get(id)!, { status: 'sent', messageId, event: undefined });
  }
  async parked(id: string, reason: string, counts: Pick<DeliveryRecord, 'attempts' | 'refusals'>) {
    Object.assign(this.records.get(id)!, { status: 'parked', reason, ...counts });
  }
  async retryAt(id: string, dueAt: number, counts: Pick<DeliveryRecord, 'attempts' | 'refusals'>) {
    Object.assign(this.records.get(id)!, { status: 'pending', dueAt, ...counts });
  }
}

const event = (to: string): NotificationEvent => ({ id: `password-changed:${to}`, kind: 'password-changed', to, name: 'Ada', how: 'reset', at: '2026-12-07T10:00:00Z' });
const sesError = (name: string, status: number) => Object.assign(new Error(`${name} from SES`), { name, $metadata: { httpStatusCode: status } });

function setup(send: Mailer['send']) {
  const store = new MemoryStore();
  let clock = 1_000_000;
  const service = new NotificationService(store, { send }, { flight: async () => undefined }, { webAppUrl: 'https://app.example/', now: () => clock, maxRefusals: 3 });
  return { store, service, advance: (ms: number) => (clock += ms), run: () => service.sendDue(clock + 1) };
}

it('parks an event SES refuses, after three refusals, with the reason', async () => {
  const { store, advance, run } = setup(async (email) => {
    if (email.to === 'refused@example.com') throw sesError('MessageRejected', 400);
    return { messageId: `m-${email.to}` };
  });
  await store.add([event('refused@example.com'), event('fine@example.com')], 1_000_000);
  expect(await run()).toMatchObject({ sent: 1, retried: 1, parked: 0 });
  advance(3_600_000);
  expect(await run()).toMatchObject({ retried: 1, parked: 0 });
  advance(3_600_000);
  expect(await run()).toMatchObject({ parked: 1 });
  expect(store.records.get('password-changed:refused@example.com')).toMatchObject({ status: 'parked', refusals: 3, attempts: 3, reason: 'MessageRejected: MessageRejected from SES' });
  // A parked event keeps what it would have said, to be looked at; it is not tried again.
  expect(store.records.get('password-changed:refused@example.com')?.event).toBeDefined();
  advance(3_600_000);
  expect(await run()).toMatchObject({ sent: 0, retried: 0, parked: 0 });
});

it('never parks an event for an outage or throttling: it retries until SES answers', async () => {
  let answers = 0;
  const { store, advance, run } = setup(async () => {
    answers += 1;
    if (answers <= 6) throw answers % 2 ? sesError('Throttling', 400) : sesError('ServiceUnavailable', 503);
    return { messageId: 'm-1' };
  });
  await store.add([event('a@example.com')], 1_000_000);
  for (let i = 0; i < 6; i += 1) {
    expect(await run()).toMatchObject({ retried: 1, parked: 0 });
    advance(3_600_000);
  }
  expect(await run()).toMatchObject({ sent: 1 });
  expect(store.records.get('password-changed:a@example.com')).toMatchObject({ status: 'sent', attempts: 6, refusals: 0 });
});

it('backs off from 5 s, doubling, to at most 15 minutes, with jitter', () => {
  expect(retryDelayMs(1, () => 0.5)).toBe(5_000);
  expect(retryDelayMs(2, () => 0.5)).toBe(10_000);
  expect(retryDelayMs(4, () => 0.5)).toBe(40_000);
  expect(retryDelayMs(40, () => 0.5)).toBe(15 * 60_000);
  expect(retryDelayMs(1, () => 0)).toBe(4_000);
  expect(retryDelayMs(1, () => 1)).toBe(6_000);
});

it('renders the email from the event and the flight, and sends it to the event\'s address only', async () => {
  const sent: { to: string; subject: string; text: string }[] = [];
  const { store, run } = setup(async (email) => {
    sent.push(email);
    return { messageId: 'm' };
  });
  await store.add([event('ada@example.com')], 1_000_000);
  await run();
  expect(sent).toEqual([expect.objectContaining({ to: 'ada@example.com', subject: expect.stringMatching(/password/i) })]);
});
