import path from 'node:path';
import { PROJECT_ROOT, freePort, inProcessService, ServerProcess, serverService, type Started } from './process';

/** stripe-local accepts any `sk_test_` key: this one is a name, not a secret. */
export const LOCAL_STRIPE_SECRET_KEY = 'sk_test_local';

/**
 * The local payment provider (stripe-local/): speaks Stripe's API to the payments service's Stripe SDK,
 * keeps its state in a file (so a restart keeps payments and idempotency keys), and posts signed
 * webhooks to the API as Stripe does.
 */
export async function startStripeLocal(dataDir: string, webhookUrl: string | undefined, webhookSecret: string, signal?: AbortSignal, inProcess = false): Promise<Started> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  if (inProcess) {
    const { startStripeLocal: startServer } = await import('../../stripe-local/server');
    const server = await startServer({ host: '127.0.0.1', port, dataFile: path.join(dataDir, 'stripe-local.json'), webhookUrl, webhookSecret: webhookUrl ? webhookSecret : undefined });
    return inProcessService('payments', url, 'stripe-local', server.close);
  }
  const server = new ServerProcess(
    'stripe-local',
    process.execPath,
    [
      // tsx's require hook, by its path: `--import tsx` would also run tsx's ES module loader, a thread
      // with a JavaScript engine of its own (about 20 MB) kept for the server's life to compile one file.
      '--require',
      require.resolve('tsx/cjs'),
      path.join(PROJECT_ROOT, 'stripe-local', 'server.ts'),
      ...['--host', '127.0.0.1', '--port', String(port), '--data', path.join(dataDir, 'stripe-local.json')],
      ...(webhookUrl ? ['--webhook-url', webhookUrl, '--webhook-secret', webhookSecret] : []),
    ],
    path.join(dataDir, 'stripe-local.log'),
    () => pingStripe(url),
  );
  await server.start(signal);
  return serverService('payments', url, port, server, (pid) => `stripe-local (pid ${pid})`);
}

/** A Stripe-compatible server answers an unknown PaymentIntent with its 404 (asked with the key the functions will use). */
export async function pingStripe(url: string, secretKey = LOCAL_STRIPE_SECRET_KEY): Promise<void> {
  const response = await fetch(`${url}/v1/payment_intents/pi_probe`, { headers: { authorization: `Bearer ${secretKey}` }, signal: AbortSignal.timeout(2_000) });
  if (response.status !== 404) throw new Error(`HTTP ${response.status}`);
}
