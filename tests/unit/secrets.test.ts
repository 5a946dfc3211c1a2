import { config, resetConfigCache } from '../../lib/config';
import { refreshSecrets, resetSecrets, secretPending } from '../../lib/secrets';

/**
 * lib/secrets.ts with its SSM call (lib/clients/ssm.ts) replaced by a table of parameters (the real SSM is
 * LocalStack's, in tests/deploy/localstack.test.ts): which secrets a function fetches, and how a
 * rotated or unreadable one is handled.
 */

const parameters = new Map<string, string>();
let fail: Error | undefined;
const asked: string[][] = [];

jest.mock('../../lib/clients/ssm', () => ({
  credentialsFromEnv: () => ({ accessKeyId: 'test', secretAccessKey: 'test' }),
  async getParameters(names: string[]) {
    asked.push(names);
    if (fail) throw fail;
    return { values: Object.fromEntries(names.filter((name) => parameters.has(name)).map((name) => [name, parameters.get(name)])), invalid: names.filter((name) => !parameters.has(name)) };
  },
}));

const KEY_A = `a:${'x'.repeat(40)}`;
const KEY_B = `b:${'y'.repeat(40)}`;
// No max age: every refresh asks (tests/unit/ssm-client.test.ts covers the answer kept for the max age).
const deployed = (): NodeJS.ProcessEnv => ({ SECRETS_PATH: '/flight-booking/prod/', SECRETS: 'JWT_KEYS,REDIS_PASSWORD', AWS_REGION: 'us-east-1', SECRETS_MAX_AGE_SECONDS: '0' });

beforeEach(() => {
  parameters.clear();
  asked.length = 0;
  fail = undefined;
  resetSecrets();
  resetConfigCache();
});

it('fetches the secrets SECRETS names on a deployed stage, into the environment', async () => {
  parameters.set('/flight-booking/prod/JWT_KEYS', KEY_A);
  const env = deployed();
  expect(secretPending('JWT_KEYS', env)).toBe(true);
  await refreshSecrets(env);
  expect(asked).toEqual([['/flight-booking/prod/JWT_KEYS', '/flight-booking/prod/REDIS_PASSWORD']]);
  expect(env.JWT_KEYS).toBe(KEY_A);
  // A Redis without a password: an optional secret may be missing.
  expect(env.REDIS_PASSWORD).toBe('');
  expect(secretPending('JWT_KEYS', env)).toBe(false);
});

it('fetches nothing under sls offline or without SECRETS_PATH: the secrets are environment variables there', async () => {
  for (const env of [{ ...deployed(), IS_OFFLINE: 'true' }, { SECRETS: 'JWT_KEYS' }]) {
    await refreshSecrets(env);
    expect(secretPending('JWT_KEYS', env)).toBe(false);
  }
  expect(asked).toEqual([]);
});

it('a rotated value replaces the one in use, and the settings parsed from it are parsed again', async () => {
  parameters.set('/flight-booking/prod/JWT_KEYS', KEY_A);
  await refreshSecrets(Object.assign(process.env, deployed()));
  try {
    expect(config('jwtKeys').JWT_KEYS).toBe(KEY_A);
    parameters.set('/flight-booking/prod/JWT_KEYS', `${KEY_B},${KEY_A}`);
    await refreshSecrets();
    expect(config('jwtKeys').JWT_KEYS).toBe(`${KEY_B},${KEY_A}`);
  } finally {
    for (const name of ['SECRETS_PATH', 'SECRETS', 'JWT_KEYS', 'REDIS_PASSWORD', 'SECRETS_MAX_AGE_SECONDS']) delete process.env[name];
    resetConfigCache();
  }
});

it('a required secret that cannot be read fails the invocation; a failed refresh keeps the values in use', async () => {
  await expect(refreshSecrets(deployed())).rejects.toThrow('/flight-booking/prod/JWT_KEYS could not be read');
  parameters.set('/flight-booking/prod/JWT_KEYS', KEY_A);
  const env = deployed();
  await refreshSecrets(env);
  fail = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
  await refreshSecrets(env);
  expect(env.JWT_KEYS).toBe(KEY_A);
  resetSecrets();
  await expect(refreshSecrets(deployed())).rejects.toThrow('Rate exceeded');
});

it('refuses a SECRETS list naming something that is not a secret', async () => {
  await expect(refreshSecrets({ SECRETS_PATH: '/x/', SECRETS: 'JWT_KEYS,AWS_SECRET_ACCESS_KEY' })).rejects.toThrow('SECRETS names what is not a secret: AWS_SECRET_ACCESS_KEY');
});
