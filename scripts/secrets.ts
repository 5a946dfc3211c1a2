import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { GetParameterCommand, PutParameterCommand, SSMClient, type SSMClientConfig } from '@aws-sdk/client-ssm';
import { SECRET_NAMES, type SecretName } from '../lib/secrets';

/**
 * `npm run secrets -- <command> --stage <stage>`: the deployed stages' secrets in SSM Parameter Store
 * (SecureString, `/flight-booking/<stage>/<NAME>`), where the functions read them (lib/secrets.ts).
 *
 *   put             every secret set in this shell's environment (JWT_KEYS, MONGODB_URI, REDIS_PASSWORD,
 *                   STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET) into the stage's parameters
 *   rotate-jwt      a new signing key first in JWT_KEYS; the old ones stay to verify the tokens they signed
 *   retire-jwt      keeps only the signing key (once the old keys' tokens have expired)
 *   rotate-webhook  STRIPE_WEBHOOK_SECRET (this shell's, the new one from Stripe) first, the current one after it
 *   retire-webhook  keeps only the first webhook secret
 *
 * The functions pick a change up within SECRETS_MAX_AGE_SECONDS (300), without a deploy or a restart.
 * docs/security.md, "Rotating secrets", has the procedure. AWS credentials and region are the SDK's
 * (AWS_PROFILE, AWS_REGION); `--endpoint` (or AWS_ENDPOINT_URL) points at LocalStack.
 */

export const SERVICE = 'flight-booking';
export const secretsPath = (stage: string) => `/${SERVICE}/${stage}/`;
/** The key id of a new JWT signing key: when it was made, so the ring reads newest first. */
const newKid = () => `k${new Date().toISOString().replace(/\D/g, '').slice(0, 14)}`;

export class StageSecrets {
  private readonly ssm: SSMClient;

  constructor(
    private readonly stage: string,
    clientConfig: SSMClientConfig = {},
  ) {
    this.ssm = new SSMClient(clientConfig);
  }

  async get(name: SecretName): Promise<string | undefined> {
    try {
      const { Parameter } = await this.ssm.send(new GetParameterCommand({ Name: `${secretsPath(this.stage)}${name}`, WithDecryption: true }));
      return Parameter?.Value;
    } catch (error) {
      if ((error as Error).name === 'ParameterNotFound') return undefined;
      throw error;
    }
  }

  async put(name: SecretName, value: string): Promise<void> {
    await this.ssm.send(new PutParameterCommand({ Name: `${secretsPath(this.stage)}${name}`, Value: value, Type: 'SecureString', Overwrite: true }));
  }

  /** Every secret `env` sets, into the stage's parameters; answers their names (never their values). */
  async putAll(env: NodeJS.ProcessEnv): Promise<SecretName[]> {
    const given = SECRET_NAMES.filter((name) => env[name]);
    for (const name of given) await this.put(name, env[name]!);
    return given;
  }

  /** A new signing key goes first; the keys it replaces stay, to verify the tokens they signed until they expire. */
  async rotateJwt(): Promise<string> {
    const current = (await this.get('JWT_KEYS')) ?? '';
    const kid = newKid();
    await this.put('JWT_KEYS', [`${kid}:${randomBytes(32).toString('base64url')}`, ...current.split(',').filter(Boolean)].join(','));
    return kid;
  }

  async retireJwt(): Promise<void> {
    const [signer] = ((await this.get('JWT_KEYS')) ?? '').split(',');
    if (!signer) throw new Error(`${secretsPath(this.stage)}JWT_KEYS is not set`);
    await this.put('JWT_KEYS', signer);
  }

  /** The new webhook secret first, the current one after it: the webhook accepts both while Stripe rolls over. */
  async rotateWebhook(newSecret: string): Promise<void> {
    if (!/^whsec_\w+$/.test(newSecret)) throw new Error('the new webhook secret must be a whsec_… value (STRIPE_WEBHOOK_SECRET)');
    const [currentFirst] = ((await this.get('STRIPE_WEBHOOK_SECRET')) ?? '').split(',');
    await this.put('STRIPE_WEBHOOK_SECRET', [newSecret, ...(currentFirst && currentFirst !== newSecret ? [currentFirst] : [])].join(','));
  }

  async retireWebhook(): Promise<void> {
    const [first] = ((await this.get('STRIPE_WEBHOOK_SECRET')) ?? '').split(',');
    if (!first) throw new Error(`${secretsPath(this.stage)}STRIPE_WEBHOOK_SECRET is not set`);
    await this.put('STRIPE_WEBHOOK_SECRET', first);
  }

  destroy(): void {
    this.ssm.destroy();
  }
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({ allowPositionals: true, options: { stage: { type: 'string' }, endpoint: { type: 'string' } } });
  const [command] = positionals;
  if (!values.stage || !command) throw new Error('usage: npm run secrets -- put|rotate-jwt|retire-jwt|rotate-webhook|retire-webhook --stage <stage> [--endpoint <url>]');
  const endpoint = values.endpoint ?? process.env.AWS_ENDPOINT_URL;
  const secrets = new StageSecrets(values.stage, endpoint ? { endpoint } : {});
  const where = secretsPath(values.stage);
  try {
    switch (command) {
      case 'put':
        console.log(`put into ${where}: ${(await secrets.putAll(process.env)).join(', ') || 'nothing (none of the secrets is set in this shell)'}`);
        break;
      case 'rotate-jwt':
        console.log(`${where}JWT_KEYS: ${await secrets.rotateJwt()} signs from now (within the functions' cache age); the old keys still verify`);
        break;
      case 'retire-jwt':
        await secrets.retireJwt();
        console.log(`${where}JWT_KEYS: only the signing key is left`);
        break;
      case 'rotate-webhook':
        await secrets.rotateWebhook(process.env.STRIPE_WEBHOOK_SECRET ?? '');
        console.log(`${where}STRIPE_WEBHOOK_SECRET: the new secret and the previous one are both accepted`);
        break;
      case 'retire-webhook':
        await secrets.retireWebhook();
        console.log(`${where}STRIPE_WEBHOOK_SECRET: only the new secret is left`);
        break;
      default:
        throw new Error(`unknown command ${command}`);
    }
  } finally {
    secrets.destroy();
  }
}

if (require.main === module) {
  main().catch((error: Error) => {
    console.error(error.message);
    process.exitCode = 1;
  });
}
