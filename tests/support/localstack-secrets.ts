import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { GetFunctionConfigurationCommand, LambdaClient, ListFunctionsCommand } from '@aws-sdk/client-lambda';
import Stripe from 'stripe';
import { SECRET_NAMES } from '../../lib/secrets';
import { StageSecrets } from '../../scripts/secrets';

/**
 * The secrets on the stack LocalStack runs (lib/secrets.ts, scripts/secrets.ts): no function's
 * configuration holds one, the functions read them from LocalStack's SSM, and rotating the JWT signing
 * key and the webhook secret there takes effect without a deploy or a restart (the local stage's
 * functions cache them 5 s), the old key and secret still accepted meanwhile.
 */

const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
const region = 'us-east-1';
/** Longer than the stage's SECRETS_MAX_AGE_SECONDS (5) and the authorizer's cache of a token's answer. */
const PICKED_UP_WITHIN_MS = 40_000;

export interface SecretObservations {
  /** Functions whose configuration has a secret's name among its variables. */
  functionsWithSecrets: string[];
  functionsChecked: number;
  jwt: { kidBefore: string; newKid: string; kidAfter: string; oldTokenStillWorks: number; newTokenWorks: number };
  webhook: { before: Record<'current' | 'next' | 'foreign', number>; during: Record<'current' | 'next' | 'foreign', number> };
}

const kidOf = (token: string) => (JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as { kid: string }).kid;

async function call(url: string, init: RequestInit = {}): Promise<{ status: number; body: any }> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

export async function checkSecrets(endpoint: string, apiUrl: string, admin: { email: string; password: string }): Promise<SecretObservations> {
  const lambda = new LambdaClient({ endpoint, region, credentials });
  const secrets = new StageSecrets('local', { endpoint, region, credentials });
  try {
    const names = ((await lambda.send(new ListFunctionsCommand({ MaxItems: 200 }))).Functions ?? []).map((f) => f.FunctionName!).filter((name) => name.startsWith('flight-booking-local-'));
    const functionsWithSecrets: string[] = [];
    for (const name of names) {
      const variables = (await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: name }))).Environment?.Variables ?? {};
      if (SECRET_NAMES.some((secret) => secret in variables)) functionsWithSecrets.push(name);
    }

    const login = async () => (await call(`${apiUrl}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(admin) })).body.accessToken as string;
    const me = async (token: string) => (await call(`${apiUrl}/users/me`, { headers: { authorization: `Bearer ${token}` } })).status;
    const before = await login();
    const newKid = await secrets.rotateJwt();
    let after = before;
    for (const until = Date.now() + PICKED_UP_WITHIN_MS; kidOf(after) !== newKid && Date.now() < until; ) {
      await sleep(1_000);
      after = await login();
    }
    const jwt = { kidBefore: kidOf(before), newKid, kidAfter: kidOf(after), oldTokenStillWorks: await me(before), newTokenWorks: await me(after) };

    const current = (await secrets.get('STRIPE_WEBHOOK_SECRET'))!;
    const next = `whsec_${randomBytes(24).toString('hex')}`;
    const foreign = `whsec_${randomBytes(24).toString('hex')}`;
    const stripe = new Stripe('sk_test_unused');
    const postSignedBy = async (secret: string) => {
      const payload = JSON.stringify({ id: `evt_${randomBytes(8).toString('hex')}`, object: 'event', type: 'customer.created', data: { object: {} } });
      const signature = stripe.webhooks.generateTestHeaderString({ payload, secret });
      return (await call(`${apiUrl}/payments/webhook`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': signature }, body: payload })).status;
    };
    const webhookAnswers = async () => ({ current: await postSignedBy(current), next: await postSignedBy(next), foreign: await postSignedBy(foreign) });
    const webhookBefore = await webhookAnswers();
    await secrets.rotateWebhook(next);
    let during = await webhookAnswers();
    for (const until = Date.now() + PICKED_UP_WITHIN_MS; during.next !== 200 && Date.now() < until; ) {
      await sleep(1_000);
      during = await webhookAnswers();
    }
    return { functionsWithSecrets, functionsChecked: names.length, jwt, webhook: { before: webhookBefore, during } };
  } finally {
    lambda.destroy();
    secrets.destroy();
  }
}
