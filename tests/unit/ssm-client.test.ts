import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignatureV4 } from '@smithy/signature-v4';
import { getParameters, regionalEndpoint, signedHeaders } from '../../lib/clients/ssm';
import { isDependencyUnavailable } from '../../lib/http/unavailable';
import { refreshSecrets, resetSecrets, secrets } from '../../lib/secrets';
import { resetConfigCache } from '../../lib/config';

/**
 * lib/clients/ssm.ts, the signed GetParameters call lib/secrets.ts reads the secrets with: its
 * signature is the AWS SDK's own signer's, and against an SSM of ours on loopback, what it asks, how it
 * reads answers and errors, and how lib/secrets.ts uses it (the fetch started at cold start, the
 * answer kept for SECRETS_MAX_AGE_SECONDS).
 */

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', sessionToken: 'session/token+example=' };
const at = new Date('2026-12-07T12:34:56.789Z');

const toBytes = (data: string | ArrayBuffer | ArrayBufferView) =>
  typeof data === 'string' ? data : ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);

/** The SDK signer's hash: node:crypto, HMAC when given a secret. */
class Sha256 {
  private readonly hash: Hash | Hmac;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret ? createHmac('sha256', toBytes(secret)) : createHash('sha256');
  }
  update(data: string | ArrayBuffer | ArrayBufferView) {
    this.hash.update(toBytes(data));
  }
  reset() {}
  async digest() {
    return new Uint8Array(this.hash.digest());
  }
}

it('signs as the AWS SDK signs (Signature Version 4), the session token included', async () => {
  for (const endpoint of ['https://ssm.eu-west-1.amazonaws.com', 'http://127.0.0.1:4566']) {
    const url = new URL(endpoint);
    const body = JSON.stringify({ Names: ['/flight-booking/prod/JWT_KEYS'], WithDecryption: true });
    const ours = signedHeaders(url, 'AmazonSSM.GetParameters', body, { region: 'eu-west-1', credentials, now: () => at });
    // Without the optional x-amz-content-sha256 header, which only S3 requires.
    const signer = new SignatureV4({ service: 'ssm', region: 'eu-west-1', credentials, sha256: Sha256, applyChecksum: false });
    const { authorization: _, ...unsigned } = ours;
    const theirs = await signer.sign(
      { method: 'POST', protocol: url.protocol, hostname: url.hostname, port: url.port ? Number(url.port) : undefined, path: '/', headers: unsigned, body, query: {} },
      { signingDate: at },
    );
    expect(ours.authorization).toBe(theirs.headers.authorization);
  }
});

it('names the regional endpoint, in the China partition too', () => {
  expect(regionalEndpoint('eu-west-1')).toBe('https://ssm.eu-west-1.amazonaws.com');
  expect(regionalEndpoint('cn-north-1')).toBe('https://ssm.cn-north-1.amazonaws.com.cn');
});

describe('against an SSM on loopback', () => {
  let server: Server;
  let endpoint: string;
  const requests: { headers: IncomingMessage['headers']; body: { Names: string[]; WithDecryption: boolean } }[] = [];
  const parameters = new Map<string, string>();
  /** Answers to give before the parameters: a status and a body, or 'hang'. */
  const failures: ({ status: number; body: unknown } | 'hang')[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let text = '';
      req.on('data', (chunk) => (text += chunk));
      req.on('end', () => {
        const body = JSON.parse(text);
        requests.push({ headers: req.headers, body });
        const failure = failures.shift();
        if (failure === 'hang') return;
        if (failure) return res.writeHead(failure.status, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify(failure.body));
        const found = (body.Names as string[]).filter((name) => parameters.has(name));
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' }).end(
          JSON.stringify({ Parameters: found.map((Name) => ({ Name, Value: parameters.get(Name), Type: 'SecureString' })), InvalidParameters: body.Names.filter((name: string) => !parameters.has(name)) }),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  beforeEach(() => {
    requests.length = 0;
    failures.length = 0;
    parameters.clear();
    resetSecrets();
    resetConfigCache();
  });

  const options = () => ({ region: 'us-east-1', credentials, endpoint, timeoutMs: 200 });

  it('asks for the names, decrypted, with the JSON protocol, and reads values and invalid names', async () => {
    parameters.set('/a', 'one');
    const answer = await getParameters(['/a', '/b'], options());
    expect(answer).toEqual({ values: { '/a': 'one' }, invalid: ['/b'] });
    expect(requests[0]!.body).toEqual({ Names: ['/a', '/b'], WithDecryption: true });
    expect(requests[0]!.headers).toMatchObject({ 'x-amz-target': 'AmazonSSM.GetParameters', 'content-type': 'application/x-amz-json-1.1', 'x-amz-security-token': credentials.sessionToken });
    expect(requests[0]!.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/us-east-1\/ssm\/aws4_request, SignedHeaders=content-length;content-type;host;x-amz-date;x-amz-security-token;x-amz-target, Signature=[0-9a-f]{64}$/);
  });

  it('retries a throttled or timed-out attempt once; the errors carry the SDK names lib/http/unavailable.ts reads', async () => {
    parameters.set('/a', 'one');
    failures.push({ status: 400, body: { __type: 'ThrottlingException', message: 'Rate exceeded' } });
    await expect(getParameters(['/a'], options())).resolves.toMatchObject({ values: { '/a': 'one' } });
    expect(requests).toHaveLength(2);

    failures.push('hang', 'hang');
    const timedOut = await getParameters(['/a'], options()).catch((error: unknown) => error);
    expect(timedOut).toMatchObject({ name: 'TimeoutError' });
    expect(isDependencyUnavailable(timedOut)).toBe(true);

    failures.push({ status: 500, body: { __type: 'com.amazonaws.ssm#InternalServerError', message: 'oops' } }, { status: 500, body: { __type: 'InternalServerError', message: 'oops' } });
    const failed = await getParameters(['/a'], options()).catch((error: unknown) => error);
    expect(failed).toMatchObject({ name: 'InternalServerError', $metadata: { httpStatusCode: 500 } });
    expect(isDependencyUnavailable(failed)).toBe(true);
  });

  it('does not retry a refusal, which is not an outage', async () => {
    failures.push({ status: 400, body: { __type: 'AccessDeniedException', Message: 'not allowed' } });
    const refused = await getParameters(['/a'], options()).catch((error: unknown) => error);
    expect(refused).toMatchObject({ name: 'AccessDeniedException', message: 'not allowed', $metadata: { httpStatusCode: 400 } });
    expect(isDependencyUnavailable(refused)).toBe(false);
    expect(requests).toHaveLength(1);
  });

  const deployed = (): NodeJS.ProcessEnv => ({
    SECRETS_PATH: '/flight-booking/prod/',
    SECRETS: 'JWT_KEYS,REDIS_PASSWORD',
    SSM_ENDPOINT: endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
  });
  const KEY_A = `a:${'x'.repeat(40)}`;
  const KEY_B = `b:${'y'.repeat(40)}`;

  it('lib/secrets.ts reads the secrets in one call, and asks again only once the answer is SECRETS_MAX_AGE_SECONDS old', async () => {
    parameters.set('/flight-booking/prod/JWT_KEYS', KEY_A);
    const env: NodeJS.ProcessEnv = { ...deployed(), SECRETS_MAX_AGE_SECONDS: '0.2' };
    await refreshSecrets(env);
    expect(env).toMatchObject({ JWT_KEYS: KEY_A, REDIS_PASSWORD: '' });
    expect(requests.map((r) => r.body.Names)).toEqual([['/flight-booking/prod/JWT_KEYS', '/flight-booking/prod/REDIS_PASSWORD']]);
    parameters.set('/flight-booking/prod/JWT_KEYS', KEY_B);
    await refreshSecrets(env);
    expect(env.JWT_KEYS).toBe(KEY_A);
    expect(requests).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 250));
    await refreshSecrets(env);
    expect(env.JWT_KEYS).toBe(KEY_B);
    expect(requests).toHaveLength(2);
  });

  it('lib/secrets.ts: a required secret SSM does not have fails; a failed refresh keeps the values in use', async () => {
    const env: NodeJS.ProcessEnv = { ...deployed(), SECRETS_MAX_AGE_SECONDS: '0' };
    await expect(refreshSecrets(env)).rejects.toThrow('/flight-booking/prod/JWT_KEYS could not be read');
    parameters.set('/flight-booking/prod/JWT_KEYS', KEY_A);
    await refreshSecrets(env);
    failures.push({ status: 400, body: { __type: 'ThrottlingException' } }, { status: 400, body: { __type: 'ThrottlingException' } });
    await refreshSecrets(env);
    expect(env.JWT_KEYS).toBe(KEY_A);
  });

  it('lib/secrets.ts starts the first fetch when the stack is built (cold start); the first invocation uses its answer', async () => {
    parameters.set('/flight-booking/prod/JWT_KEYS', KEY_A);
    const saved = { ...process.env };
    Object.assign(process.env, deployed());
    try {
      const middleware = secrets();
      secrets(); // a second handler of the same bundle: still one fetch
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(requests).toHaveLength(1);
      expect(process.env.JWT_KEYS).toBe(KEY_A);
      await (middleware.before as () => Promise<void>)();
      expect(requests).toHaveLength(1);
    } finally {
      process.env = saved;
      resetConfigCache();
    }
  });

  it('lib/secrets.ts: a fetch at cold start that failed is made again by the first invocation, which fails with its error', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, deployed());
    try {
      failures.push({ status: 400, body: { __type: 'AccessDeniedException' } }, { status: 400, body: { __type: 'AccessDeniedException', message: 'denied' } });
      const middleware = secrets();
      await expect((middleware.before as () => Promise<void>)()).rejects.toThrow('denied');
      expect(requests).toHaveLength(2);
    } finally {
      process.env = saved;
      resetConfigCache();
    }
  });
});
