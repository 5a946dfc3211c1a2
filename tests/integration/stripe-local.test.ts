import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { appendFileSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidSignatureError, PaymentProviderUnavailableError, StripeProvider, type ChargeRequest } from '../../functions/payments/provider';
import { isDependencyUnavailable } from '../../lib/http/unavailable';
import { PROJECT_ROOT, freePort } from '../../scripts/stack';
import { startStripeLocal } from '../../stripe-local/server';

/**
 * stripe-local driven only through StripeProvider, i.e. the real stripe SDK: the flow the payments
 * service relies on (declines, idempotency, refunds, signed webhooks, a restart).
 */
const SECRET_KEY = 'sk_test_local';
const WEBHOOK_SECRET = 'whsec_local_test';

interface Delivery {
  body: string;
  signature: string;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function waitFor<T>(what: string, find: () => T | undefined, timeoutMs = 15_000): Promise<T> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(50)) {
    const found = find();
    if (found !== undefined) return found;
  }
  throw new Error(`${what}: not within ${timeoutMs} ms`);
}

describe('stripe-local through StripeProvider', () => {
  const deliveries: Delivery[] = [];
  /** Event ids the receiver refuses once (with a 500), to see Stripe-style redelivery. */
  let refuseNextEvent = false;
  const refusedOnce = new Set<string>();
  const receiver = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    request.on('end', () => {
      const id = (JSON.parse(body) as { id: string }).id;
      if (refuseNextEvent && !refusedOnce.has(id)) {
        refuseNextEvent = false;
        refusedOnce.add(id);
        response.writeHead(500).end();
        return;
      }
      deliveries.push({ body, signature: String(request.headers['stripe-signature']) });
      response.writeHead(200).end();
    });
  });
  let stripeLocal: Awaited<ReturnType<typeof startStripeLocal>>;
  let provider: StripeProvider;
  let marker: string;

  const charge = (overrides: Partial<ChargeRequest> = {}) =>
    provider.charge({ idempotencyKey: randomUUID(), amount: 12_345, currency: 'EUR', paymentMethod: 'pm_card_visa', metadata: { holdId: marker }, ...overrides });
  const events = async () => {
    const response = await fetch(`${stripeLocal.url}/_stripe_local/events`);
    return ((await response.json()) as { data: { event: { id: string; type: string; data: { object: Record<string, any> } }; delivery: string; attempts: number }[] }).data;
  };
  const createdFor = async (holdId: string) =>
    (await events()).filter(({ event }) => event.type === 'payment_intent.created' && event.data.object.metadata.holdId === holdId).length;

  beforeAll(async () => {
    const webhookUrl = await listen(receiver);
    stripeLocal = await startStripeLocal({ port: 0, host: '127.0.0.1', webhookUrl, webhookSecret: WEBHOOK_SECRET });
    provider = new StripeProvider({ secretKey: SECRET_KEY, webhookSecret: WEBHOOK_SECRET, apiUrl: stripeLocal.url });
  });
  beforeEach(() => {
    marker = `hold-${randomUUID()}`;
  });
  afterAll(async () => {
    await stripeLocal?.close();
    receiver.closeAllConnections();
    await new Promise((resolve) => receiver.close(resolve));
  });

  it('charges a test card, and the charge reads back as created', async () => {
    const result = await charge({ paymentMethod: 'pm_card_mastercard', description: 'Booking' });
    expect(result).toEqual({ status: 'succeeded', paymentId: expect.stringMatching(/^pi_/) });
    if (result.status !== 'succeeded') return;
    expect(await provider.findCharge(result.paymentId)).toEqual({
      paymentId: result.paymentId,
      status: 'succeeded',
      amount: 12_345,
      amountReceived: 12_345,
      currency: 'eur',
      metadata: { holdId: marker },
    });
  });

  // StripeProvider tells Stripe's generic_decline as its error code, card_declined (declineCodeOf).
  it.each([
    ['pm_card_chargeDeclined', 'card_declined'],
    ['pm_card_chargeDeclinedInsufficientFunds', 'insufficient_funds'],
    ['pm_card_chargeDeclinedExpiredCard', 'expired_card'],
    ['pm_card_authenticationRequired', 'authentication_required'],
  ])('declines %s with %s, and nothing is received', async (paymentMethod, declineCode) => {
    const result = await charge({ paymentMethod });
    expect(result).toEqual({ status: 'declined', declineCode, paymentId: expect.stringMatching(/^pi_/) });
    const found = await provider.findCharge(result.status === 'declined' ? result.paymentId! : '');
    expect(found).toMatchObject({ amountReceived: 0 });
    expect(found?.status).not.toBe('succeeded');
  });

  it('declines a payment method the provider does not know', async () => {
    expect(await charge({ paymentMethod: 'pm_nobody_knows' })).toEqual({ status: 'declined', declineCode: 'invalid_payment_method' });
    expect(await createdFor(marker)).toBe(0);
  });

  it('replays a charge for a repeated key, a decline too, and refuses the key with another amount', async () => {
    const idempotencyKey = randomUUID();
    const first = await charge({ idempotencyKey });
    expect(await charge({ idempotencyKey })).toEqual(first);
    await expect(charge({ idempotencyKey, amount: 1 })).rejects.toMatchObject({ type: 'StripeIdempotencyError' });

    const declineKey = randomUUID();
    const declined = await charge({ idempotencyKey: declineKey, paymentMethod: 'pm_card_chargeDeclined' });
    expect(await charge({ idempotencyKey: declineKey, paymentMethod: 'pm_card_chargeDeclined' })).toEqual(declined);
    expect(await createdFor(marker)).toBe(2);
  });

  it('creates one PaymentIntent for 20 concurrent charges with one key', async () => {
    const idempotencyKey = randomUUID();
    const results = await Promise.all(Array.from({ length: 20 }, () => charge({ idempotencyKey })));
    expect(new Set(results.map((r) => (r.status === 'succeeded' ? r.paymentId : r.status))).size).toBe(1);
    expect(await createdFor(marker)).toBe(1);
  });

  it('refunds once: in part, the rest, then no more; a repeated refund key replays', async () => {
    const paid = await charge({ amount: 5_000 });
    if (paid.status !== 'succeeded') throw new Error(`charge ${paid.status}`);
    const refundKey = randomUUID();
    const part = await provider.refund({ paymentId: paid.paymentId, idempotencyKey: refundKey, amount: 2_000 });
    expect(part).toEqual({ refundId: expect.stringMatching(/^re_/), status: 'succeeded', amount: 2_000, paymentId: paid.paymentId });
    expect(await provider.refund({ paymentId: paid.paymentId, idempotencyKey: refundKey, amount: 2_000 })).toEqual(part);
    await expect(provider.refund({ paymentId: paid.paymentId, idempotencyKey: randomUUID(), amount: 3_001 })).rejects.toMatchObject({ code: 'amount_too_large' });
    const rest = await provider.refund({ paymentId: paid.paymentId, idempotencyKey: randomUUID() });
    expect(rest).toMatchObject({ status: 'succeeded', amount: 3_000 });
    await expect(provider.refund({ paymentId: paid.paymentId, idempotencyKey: randomUUID() })).rejects.toMatchObject({ code: 'charge_already_refunded' });
    expect(await provider.getRefund(rest.refundId)).toEqual(rest);
  });

  it('refuses to refund a declined payment', async () => {
    const declined = await charge({ paymentMethod: 'pm_card_chargeDeclined' });
    const paymentId = declined.status === 'declined' ? declined.paymentId! : '';
    await expect(provider.refund({ paymentId, idempotencyKey: randomUUID() })).rejects.toMatchObject({ type: 'StripeInvalidRequestError' });
  });

  it('answers undefined for a payment or refund it does not have', async () => {
    expect(await provider.findCharge('pi_missing')).toBeUndefined();
    expect(await provider.getRefund('re_missing')).toBeUndefined();
  });

  it('posts signed webhooks that verifyWebhook accepts, and a tampered body fails', async () => {
    const paid = await charge();
    if (paid.status !== 'succeeded') throw new Error(`charge ${paid.status}`);
    const declined = await charge({ paymentMethod: 'pm_card_chargeDeclinedInsufficientFunds' });
    await provider.refund({ paymentId: paid.paymentId, idempotencyKey: randomUUID() });

    const received = (type: string, paymentId: string) =>
      waitFor(type, () =>
        deliveries.map((d) => ({ d, event: provider.verifyWebhook(d.body, d.signature) })).find(({ event }) => {
          const object = event.data.object as { id: string; payment_intent?: string };
          return event.type === type && (object.id === paymentId || object.payment_intent === paymentId);
        }),
      );
    const succeeded = await received('payment_intent.succeeded', paid.paymentId);
    expect(succeeded.event).toMatchObject({ id: expect.stringMatching(/^evt_/), object: 'event', livemode: false, api_version: '2026-08-26.dahlia' });
    expect(succeeded.event.data.object).toMatchObject({ status: 'succeeded', amount: 12_345, metadata: { holdId: marker } });
    const failed = await received('payment_intent.payment_failed', declined.status === 'declined' ? declined.paymentId! : '');
    expect(failed.event.data.object).toMatchObject({ last_payment_error: { decline_code: 'insufficient_funds' } });
    await received('refund.created', paid.paymentId);
    await received('charge.refunded', paid.paymentId);

    const tampered = succeeded.d.body.replace('"amount": 12345', '"amount": 1');
    expect(tampered).not.toBe(succeeded.d.body);
    expect(() => provider.verifyWebhook(tampered, succeeded.d.signature)).toThrow(InvalidSignatureError);
    expect(() => provider.verifyWebhook(succeeded.d.body, 't=1,v1=00')).toThrow(InvalidSignatureError);
  });

  it('delivers a webhook again after the receiver refused it', async () => {
    refuseNextEvent = true;
    expect(await charge()).toMatchObject({ status: 'succeeded' });
    const refused = await waitFor('a refused delivery', () => (refusedOnce.size > 0 ? [...refusedOnce][0] : undefined));
    const delivered = await waitFor('the refused event, delivered', () => deliveries.find((d) => (JSON.parse(d.body) as { id: string }).id === refused));
    expect(provider.verifyWebhook(delivered.body, delivered.signature).id).toBe(refused);
    const listed = (await events()).find(({ event }) => event.id === refused);
    expect(listed).toMatchObject({ delivery: 'delivered', attempts: 2 });
  });

  it('says unavailable (a 503) when the provider refuses connections or hangs, and keeps its own mistakes', async () => {
    const closedPort = await freePort();
    const refused = new StripeProvider({ secretKey: SECRET_KEY, webhookSecret: WEBHOOK_SECRET, apiUrl: `http://127.0.0.1:${closedPort}` });
    const refusedError = await refused.charge({ idempotencyKey: randomUUID(), amount: 100, currency: 'eur', paymentMethod: 'pm_card_visa' }).catch((e: unknown) => e);
    expect(refusedError).toBeInstanceOf(PaymentProviderUnavailableError);
    expect(isDependencyUnavailable(refusedError)).toBe(true);

    const hanging = createServer(() => undefined);
    const slow = new StripeProvider({ secretKey: SECRET_KEY, webhookSecret: WEBHOOK_SECRET, apiUrl: await listen(hanging), timeoutMs: 300 });
    try {
      const slowError = await slow.findCharge('pi_any').catch((e: unknown) => e);
      expect(slowError).toBeInstanceOf(PaymentProviderUnavailableError);
      expect(isDependencyUnavailable(slowError)).toBe(true);
    } finally {
      hanging.closeAllConnections();
      hanging.close();
    }

    const wrongKey = new StripeProvider({ secretKey: 'sk_live_nope', webhookSecret: WEBHOOK_SECRET, apiUrl: stripeLocal.url });
    const keyError = await wrongKey.findCharge('pi_any').catch((e: unknown) => e);
    expect(keyError).toMatchObject({ type: 'StripeAuthenticationError', statusCode: 401 });
    expect(isDependencyUnavailable(keyError)).toBe(false);
  });
});

describe('stripe-local as a process with --data', () => {
  const dataFile = path.join(mkdtempSync(path.join(tmpdir(), 'stripe-local-')), 'state.json');
  let child: ChildProcess | undefined;

  /** Starts the CLI the way a launcher does, and reads its URL from the line it prints. */
  async function startCli(): Promise<string> {
    child = spawn(process.execPath, ['--import', 'tsx', 'stripe-local/server.ts', '--port', '0', '--host', '127.0.0.1', '--data', dataFile], {
      cwd: PROJECT_ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    return waitFor('stripe-local listening', () => /stripe-local listening on (http:\/\/\S+)/.exec(output)?.[1], 30_000);
  }
  async function kill9(): Promise<void> {
    const exited = new Promise((resolve) => child!.once('exit', resolve));
    child!.kill('SIGKILL');
    await exited;
  }
  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) await kill9();
  });

  it('keeps payments, refunds and idempotency keys across a kill -9 right after the answers, and a restart', async () => {
    const idempotencyKey = randomUUID();
    const request = { idempotencyKey, amount: 9_900, currency: 'usd', paymentMethod: 'pm_card_visa' };
    const before = new StripeProvider({ secretKey: SECRET_KEY, webhookSecret: WEBHOOK_SECRET, apiUrl: await startCli() });
    const paid = await before.charge(request);
    if (paid.status !== 'succeeded') throw new Error(`charge ${paid.status}`);
    const refundRequest = { paymentId: paid.paymentId, idempotencyKey: randomUUID(), amount: 4_000 };
    const refunded = await before.refund(refundRequest);
    await kill9();

    const after = new StripeProvider({ secretKey: SECRET_KEY, webhookSecret: WEBHOOK_SECRET, apiUrl: await startCli() });
    expect(await after.findCharge(paid.paymentId)).toMatchObject({ status: 'succeeded', amount: 9_900, currency: 'usd' });
    expect(await after.getRefund(refunded.refundId)).toEqual(refunded);
    expect(await after.charge(request)).toEqual(paid);
    expect(await after.refund(refundRequest)).toEqual(refunded);
    // The charge kept what was refunded: only the rest can go.
    await expect(after.refund({ ...refundRequest, idempotencyKey: randomUUID(), amount: 5_901 })).rejects.toMatchObject({ code: 'amount_too_large' });
  });
});

describe("stripe-local's journal (--data)", () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'stripe-local-journal-'));
  let stripeLocal: Awaited<ReturnType<typeof startStripeLocal>> | undefined;
  let provider: StripeProvider;

  async function start(dataFile: string): Promise<void> {
    stripeLocal = await startStripeLocal({ port: 0, host: '127.0.0.1', dataFile });
    provider = new StripeProvider({ secretKey: SECRET_KEY, webhookSecret: WEBHOOK_SECRET, apiUrl: stripeLocal.url });
  }
  async function stop(): Promise<void> {
    await stripeLocal?.close();
    stripeLocal = undefined;
  }
  async function pay(idempotencyKey = randomUUID(), amount = 1_000): Promise<string> {
    const paid = await provider.charge({ idempotencyKey, amount, currency: 'eur', paymentMethod: 'pm_card_visa' });
    if (paid.status !== 'succeeded') throw new Error(`charge ${paid.status}`);
    return paid.paymentId;
  }
  const lines = (file: string) => readFileSync(file, 'utf8').split('\n');
  afterEach(async () => {
    jest.restoreAllMocks();
    await stop();
  });

  it('ignores a torn last line and a change that lost its last line, and appends after them', async () => {
    const file = path.join(dir, 'torn.json');
    await start(file);
    const kept = await pay();
    await stop();
    // A change of two records cut short after its first line, as a full disk or a power cut may leave it.
    const unfinished = { id: 'pi_unfinished', object: 'payment_intent', status: 'succeeded', amount: 1, currency: 'eur', metadata: {} };
    appendFileSync(file, `${JSON.stringify({ table: 'paymentIntents', id: unfinished.id, value: unfinished })}\n{"table":"charges","id":"ch_torn","val`);

    await start(file);
    expect(await provider.findCharge(kept)).toMatchObject({ status: 'succeeded' });
    expect(await provider.findCharge(unfinished.id)).toBeUndefined();
    expect(lines(file).at(-1)).toBe('');
    for (const line of lines(file).slice(0, -1)) expect(() => JSON.parse(line)).not.toThrow();
    const next = await pay();
    await stop();

    await start(file);
    expect(await provider.findCharge(kept)).toMatchObject({ status: 'succeeded' });
    expect(await provider.findCharge(next)).toMatchObject({ status: 'succeeded' });
  });

  it('drops idempotency keys and settled events older than a day when it compacts at start, and keeps payments', async () => {
    const file = path.join(dir, 'expired.json');
    await start(file);
    const idempotencyKey = randomUUID();
    const paid = await pay(idempotencyKey);
    await expect(pay(idempotencyKey, 2_000)).rejects.toMatchObject({ type: 'StripeIdempotencyError' });
    await stop();
    expect(readFileSync(file, 'utf8')).toContain(idempotencyKey);

    const realNow = Date.now.bind(Date);
    jest.spyOn(Date, 'now').mockImplementation(() => realNow() + 25 * 60 * 60 * 1000);
    await start(file);
    expect(readFileSync(file, 'utf8')).not.toContain(idempotencyKey);
    const events = (await (await fetch(`${stripeLocal!.url}/_stripe_local/events`)).json()) as { data: unknown[] };
    expect(events.data).toEqual([]);
    expect(await provider.findCharge(paid)).toMatchObject({ status: 'succeeded', amount: 1_000 });
    // The key is free again, as on Stripe a day later: another request with it runs.
    const again = await pay(idempotencyKey, 2_000);
    expect(again).not.toBe(paid);
  });

  it('reads a state file of the format before the journal (one JSON object) and rewrites it as a journal', async () => {
    const file = path.join(dir, 'old-format.json');
    const intent = { id: 'pi_before', object: 'payment_intent', status: 'succeeded', amount: 700, amount_received: 700, currency: 'eur', metadata: {} };
    writeFileSync(file, JSON.stringify({ paymentIntents: { [intent.id]: intent }, charges: {}, refunds: {}, idempotency: {}, events: [] }));
    await start(file);
    expect(await provider.findCharge(intent.id)).toMatchObject({ status: 'succeeded', amount: 700 });
    expect(lines(file).map((line) => (line ? (JSON.parse(line) as { id: string }).id : line))).toEqual([intent.id, '']);
  });

  it('appends only the records one payment touched, however many payments came before', async () => {
    const file = path.join(dir, 'growth.json');
    await start(file);
    /** What one more payment does to the journal: the bytes and lines it adds, and whether all before stays as it was. */
    const onePayment = async () => {
      const before = { bytes: readFileSync(file), inode: statSync(file).ino };
      await pay();
      const after = readFileSync(file);
      return {
        bytes: after.length - before.bytes.length,
        lines: after.subarray(before.bytes.length).toString('utf8').split('\n').length - 1,
        appended: statSync(file).ino === before.inode && after.subarray(0, before.bytes.length).equals(before.bytes),
      };
    };
    const first = await onePayment();
    // A PaymentIntent, its charge, two events (created, succeeded) and the idempotency key.
    expect(first).toMatchObject({ lines: 5, appended: true });

    for (let done = 0; done < 2_000; done += 20) await Promise.all(Array.from({ length: 20 }, () => pay()));
    const size = statSync(file).size;
    const last = await onePayment();
    expect(size).toBeGreaterThan(2_000 * first.bytes * 0.9);
    expect(last).toMatchObject({ lines: 5, appended: true });
    expect(Math.abs(last.bytes - first.bytes)).toBeLessThan(first.bytes * 0.05);
  });
});
