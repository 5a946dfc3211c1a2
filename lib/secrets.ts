import type middy from '@middy/core';
import { credentialsFromEnv, getParameters } from './clients/ssm';
import { resetConfigCache } from './config';
import { log } from './log';

/**
 * The secrets: the JWT signing keys, the MongoDB URI (with its credentials), the Redis cluster's
 * password, the payment provider's key and webhook secret. No template or function configuration holds
 * one: on a deployed stage each lives in SSM Parameter Store as a SecureString under `SECRETS_PATH`
 * (`/flight-booking/<stage>/<NAME>`), and a function reads the ones its `SECRETS` variable names (names,
 * never values; scripts/secrets-plugin.js sets it from the function's role, and scopes the role's IAM
 * to those parameters) with one GetParameters call (lib/clients/ssm.ts: a signed request, not the
 * SDK's client, whose load was a quarter of a function's first call), and keeps what it read for
 * SECRETS_MAX_AGE_SECONDS. Locally (npm start, the tests) the secrets are ordinary environment
 * variables, set before the function starts, and nothing is fetched.
 *
 * Before every invocation (`secrets()`, in every function's middy stack) the fetched values are
 * refreshed from the cache, or from SSM once their age is up, and put into the process's environment,
 * where lib/config.ts reads every setting; a changed value clears config's parsed sections. So a
 * rotated secret (a new JWT signing key, a second webhook secret) is in use within the max age,
 * without a deploy or a restart (docs/security.md, "Rotating secrets").
 */

export const SECRET_NAMES = ['JWT_KEYS', 'MONGODB_URI', 'REDIS_PASSWORD', 'STRIPE_SECRET_KEY', 'STRIPE_WEBHOOK_SECRET'] as const;
export type SecretName = (typeof SECRET_NAMES)[number];
/** Secrets a deployment may not have: a Redis without a password (LocalStack's, one without AUTH). */
const OPTIONAL: ReadonlySet<SecretName> = new Set(['REDIS_PASSWORD']);

/** Names this process fetched from SSM: a refresh that fails keeps them. */
const fetched = new Set<SecretName>();
/** The last answer of SSM, reused until it is SECRETS_MAX_AGE_SECONDS old. */
let cached: { names: string; at: number; values: Record<string, string> } | undefined;

/** The secrets to fetch: on a deployed stage the ones SECRETS names; under sls offline (IS_OFFLINE) and in tests none. */
function wanted(env: NodeJS.ProcessEnv): SecretName[] {
  if (!env.SECRETS_PATH || env.IS_OFFLINE === 'true') return [];
  const names = (env.SECRETS ?? '').split(',').map((name) => name.trim()).filter(Boolean);
  const unknown = names.filter((name) => !(SECRET_NAMES as readonly string[]).includes(name));
  if (unknown.length > 0) throw new Error(`SECRETS names what is not a secret: ${unknown.join(', ')}`);
  return names as SecretName[];
}

/** Whether a secret is still to be fetched (before the first invocation of a deployed function). */
export function secretPending(name: SecretName, env: NodeJS.ProcessEnv = process.env): boolean {
  return !fetched.has(name) && wanted(env).includes(name);
}

/** The fetch started at cold start (`secrets()`), until the first invocation has waited for it. */
let prefetch: Promise<unknown> | undefined;

/** Fetches (or takes from the last answer, while it is fresh) the secrets this function may read, into the environment. */
export async function refreshSecrets(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  if (prefetch) {
    // Its answer is the fresh one now (or it failed, and this fetch tries again and fails the invocation).
    const started = prefetch;
    prefetch = undefined;
    await started;
  }
  await fetchSecrets(env);
}

async function fetchSecrets(env: NodeJS.ProcessEnv): Promise<void> {
  const path = env.SECRETS_PATH;
  const names = wanted(env);
  if (!path || names.length === 0) return;
  let values: Record<string, string>;
  try {
    values = await readParameters(names.map((name) => `${path}${name}`), env);
  } catch (error) {
    // SSM down or throttling once the values are known: the ones in use stay until a refresh succeeds.
    if (names.every((name) => fetched.has(name))) {
      log.warn('secrets not refreshed; the values in use stay', { error: (error as Error).message });
      return;
    }
    throw error;
  }
  let changed = false;
  for (const name of names) {
    const value = values[`${path}${name}`] ?? '';
    if (typeof value !== 'string' || (value === '' && !OPTIONAL.has(name))) throw new Error(`the secret ${path}${name} could not be read from SSM Parameter Store`);
    fetched.add(name);
    if (env[name] !== value) {
      env[name] = value;
      changed = true;
    }
  }
  // Sections parsed from the old values are parsed again; caches built from a secret (the JWT key
  // ring, the Stripe client) compare the value they were built from.
  if (changed) resetConfigCache();
}

/** The parameters' values, from the last answer while it is younger than SECRETS_MAX_AGE_SECONDS, else from SSM. */
async function readParameters(parameters: string[], env: NodeJS.ProcessEnv): Promise<Record<string, string>> {
  const maxAgeMs = Number(env.SECRETS_MAX_AGE_SECONDS ?? 300) * 1000;
  const key = parameters.join(',');
  if (cached?.names === key && Date.now() - cached.at < maxAgeMs) return cached.values;
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION;
  if (!region) throw new Error('no AWS_REGION to read SSM parameters in');
  const endpoint = env.SSM_ENDPOINT || env.AWS_ENDPOINT_URL_SSM || env.AWS_ENDPOINT_URL;
  const { values } = await getParameters(parameters, { region, credentials: credentialsFromEnv(env), ...(endpoint ? { endpoint } : {}) });
  cached = { names: key, at: Date.now(), values };
  return values;
}

/**
 * The middleware every function's stack runs first: its secrets are in place before any of its code
 * needs them. Made at cold start, when the stack is built: the first fetch starts then, so that SSM
 * answers while the rest of the code loads and the runtime asks for the first invocation, rather than
 * after that invocation arrived (a function's first call waited for the whole round trip).
 */
export function secrets(): middy.MiddlewareObj {
  // Caught here: an unhandled rejection would end the process; the invocation's own fetch reports the failure.
  prefetch ??= fetchSecrets(process.env).catch(() => undefined);
  return { before: () => refreshSecrets() };
}

/** Tests start each case from a process that fetched nothing. */
export function resetSecrets(): void {
  fetched.clear();
  cached = undefined;
  prefetch = undefined;
}
