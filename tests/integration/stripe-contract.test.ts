import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { StripeProvider } from '../../functions/payments/provider';
import { PROJECT_ROOT, freePort } from '../../scripts/stack';

/**
 * The contract: every request StripeProvider makes, checked against Stripe's own API description by
 * stripe-mock (built by scripts/bootstrap.sh). stripe-mock validates each request's parameters and
 * answers canned objects (a declined card "succeeds", any id is found), so this asserts that the
 * requests are accepted and the answers read, never business outcomes: stripe-local.test.ts does that.
 */
const STRIPE_MOCK = path.join(PROJECT_ROOT, '.tools', 'bin', 'stripe-mock');
const haveMock = existsSync(STRIPE_MOCK);
const haveGo = !spawnSync('go', ['version']).error;
if (!haveMock && !haveGo) {
  console.warn(`Skipping the Stripe contract test: Go is not installed, so scripts/bootstrap.sh could not build ${STRIPE_MOCK}`);
}

(haveMock || haveGo ? describe : describe.skip)('StripeProvider against stripe-mock (Stripe API 2026-08-26.dahlia)', () => {
  let mock: ChildProcess | undefined;
  let provider: StripeProvider;

  beforeAll(async () => {
    if (!haveMock) throw new Error(`stripe-mock is missing at ${STRIPE_MOCK} although Go is installed: run 'bash scripts/bootstrap.sh true' to build it`);
    const httpPort = await freePort();
    let httpsPort = await freePort();
    while (httpsPort === httpPort) httpsPort = await freePort();
    // Both addresses: with -http-addr alone stripe-mock still opens HTTPS on every interface.
    mock = spawn(STRIPE_MOCK, ['-http-addr', `127.0.0.1:${httpPort}`, '-https-addr', `127.0.0.1:${httpsPort}`], { stdio: 'ignore' });
    const url = `http://127.0.0.1:${httpPort}`;
    for (let ready = false; !ready; await sleep(100)) {
      if (mock.exitCode !== null) throw new Error(`stripe-mock exited with code ${mock.exitCode}`);
      ready = await fetch(`${url}/v1/refunds/re_probe`, { headers: { authorization: 'Bearer sk_test_contract' } }).then((r) => r.ok, () => false);
    }
    provider = new StripeProvider({ secretKey: 'sk_test_contract', webhookSecret: 'whsec_contract', apiUrl: url });
  });
  afterAll(async () => {
    if (!mock || mock.exitCode !== null) return;
    const exited = new Promise((resolve) => mock!.once('exit', resolve));
    mock.kill('SIGTERM');
    await exited;
  });

  it('accepts a charge: create and confirm in one call, with metadata and an idempotency key', async () => {
    const result = await provider.charge({
      idempotencyKey: randomUUID(),
      amount: 12_345,
      currency: 'EUR',
      paymentMethod: 'pm_card_visa',
      description: 'Flight booking',
      metadata: { holdId: 'hold-1', userId: 'user-1' },
    });
    // The canned PaymentIntent is in requires_payment_method, which the adapter reads as a decline;
    // a request the schema refused would have thrown instead.
    expect(result).toMatchObject({ paymentId: expect.stringMatching(/^pi_/) });
    expect(result).not.toMatchObject({ declineCode: 'invalid_payment_method' });
  });

  it('refuses a request that breaks the schema (the check is live)', async () => {
    await expect(
      provider.charge({ idempotencyKey: randomUUID(), amount: 12.5, currency: 'eur', paymentMethod: 'pm_card_visa' }),
    ).rejects.toMatchObject({ type: 'StripeInvalidRequestError', statusCode: 400, message: expect.stringContaining('validation') });
  });

  it('accepts a retrieve and reads its answer', async () => {
    const charge = await provider.findCharge('pi_contract');
    expect(charge).toEqual({
      paymentId: 'pi_contract',
      status: expect.any(String),
      amount: expect.any(Number),
      amountReceived: expect.any(Number),
      currency: expect.stringMatching(/^[a-z]{3}$/),
      metadata: expect.any(Object),
    });
  });

  it('accepts a full and a partial refund, and a refund retrieve', async () => {
    const full = await provider.refund({ paymentId: 'pi_contract', idempotencyKey: randomUUID() });
    const part = await provider.refund({ paymentId: 'pi_contract', idempotencyKey: randomUUID(), amount: 100 });
    for (const refund of [full, part]) {
      expect(refund).toEqual({ refundId: expect.stringMatching(/^re_/), status: expect.stringMatching(/^(succeeded|pending|failed)$/), amount: expect.any(Number), paymentId: 'pi_contract' });
    }
    expect(await provider.getRefund(full.refundId)).toMatchObject({ refundId: full.refundId, amount: expect.any(Number) });
  });
});
