import aws4 from 'aws4';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

/**
 * SSM Parameter Store's GetParameters, the one SSM call the functions make (lib/secrets.ts), as a
 * signed HTTPS request: Signature Version 4 (by the `aws4` library) over the JSON protocol, with the
 * function's credentials from its environment (on Lambda, its role's, which the runtime always puts there).
 *
 * Not the AWS SDK's SSM client: loading it (the client, its schemas for every SSM operation and the
 * SDK's credential chain; Powertools' parameters utility adds little to it) cost about 55 ms of CPU
 * at every function's cold start, more than any other part of a first call but the bundle itself
 * (docs/benchmarks.md, section 10). This module costs about 1 ms. Like the SDK client it was
 * configured as, it makes two attempts (a throttled, failed or timed-out first one is retried) with a
 * deadline each, and its errors carry the SDK's names and `$metadata`, so lib/http/unavailable.ts
 * tells an outage from a mistake as before.
 */

export interface SsmCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface SsmOptions {
  region: string;
  credentials: SsmCredentials;
  /** Another endpoint than the region's (LocalStack's). */
  endpoint?: string;
  /** Per attempt. */
  timeoutMs?: number;
  /** When the request is signed (tests). */
  now?: () => Date;
}

export interface Parameters {
  /** The values found, by name. */
  values: Record<string, string>;
  /** Names SSM does not have (or this role may not read: SSM answers those as invalid too). */
  invalid: string[];
}

const ATTEMPTS = 2;
const RETRYABLE = /^(ThrottlingException|Throttling|TooManyUpdates|InternalServerError|ServiceUnavailable|TimeoutError|RequestTimeout)$/;

/** The function's credentials and region, as the Lambda runtime (and LocalStack's) sets them. */
export function credentialsFromEnv(env: NodeJS.ProcessEnv): SsmCredentials {
  const { AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN } = env;
  if (!AWS_ACCESS_KEY_ID || !AWS_SECRET_ACCESS_KEY) throw new Error('no AWS credentials in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) to read SSM parameters with');
  return { accessKeyId: AWS_ACCESS_KEY_ID, secretAccessKey: AWS_SECRET_ACCESS_KEY, ...(AWS_SESSION_TOKEN ? { sessionToken: AWS_SESSION_TOKEN } : {}) };
}

/** The regional endpoint: `ssm.<region>.amazonaws.com`, `.amazonaws.com.cn` in the China regions. */
export function regionalEndpoint(region: string): string {
  return `https://ssm.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}`;
}

/** The request's headers, signed (Signature Version 4) by aws4, the small signer without the SDK around it. */
export function signedHeaders(url: URL, target: string, body: string, options: Pick<SsmOptions, 'region' | 'credentials' | 'now'>): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': target };
  if (options.now) headers['x-amz-date'] = options.now().toISOString().replace(/[-:]|\.\d{3}/g, '');
  const signed = aws4.sign({ host: url.host, path: url.pathname || '/', method: 'POST', service: 'ssm', region: options.region, headers, body }, options.credentials);
  return Object.fromEntries(Object.entries(signed.headers ?? {}).map(([name, value]) => [name.toLowerCase(), String(value)]));
}

interface AwsError extends Error {
  $metadata: { httpStatusCode?: number };
}

function awsError(name: string, message: string, httpStatusCode?: number): AwsError {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode } });
}

/** One signed POST; an answer that is not a 200 is thrown as the error SSM named (`__type`). */
function call(url: URL, target: string, body: string, options: SsmOptions): Promise<unknown> {
  const timeoutMs = options.timeoutMs ?? 1_500;
  const request = url.protocol === 'http:' ? httpRequest : httpsRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { ...signedHeaders(url, target, body, options), 'content-length': String(Buffer.byteLength(body)) } }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        clearTimeout(deadline);
        const text = Buffer.concat(chunks).toString('utf8');
        let answer: { __type?: string; message?: string; Message?: string } = {};
        try {
          answer = text ? JSON.parse(text) : {};
        } catch {
          // never the body itself: a 200 of GetParameters holds decrypted secrets
          if (res.statusCode === 200) return reject(awsError('SerializationException', `SSM answered ${text.length} characters that are not JSON (${res.headers['content-type'] ?? 'no content-type'})`, res.statusCode));
        }
        if (res.statusCode === 200) return resolve(answer);
        // `__type` is `ThrottlingException` or `com.amazonaws.ssm#ThrottlingException`.
        const name = answer.__type?.split('#').pop() || (res.statusCode && res.statusCode >= 500 ? 'InternalServerError' : 'UnknownError');
        reject(awsError(name, answer.message ?? answer.Message ?? `SSM answered ${res.statusCode}`, res.statusCode));
      });
    });
    // a deadline for the whole attempt (a socket timeout would let an answer that trickles in run on)
    const deadline = setTimeout(() => req.destroy(awsError('TimeoutError', `SSM did not answer within ${timeoutMs} ms`)), timeoutMs);
    req.on('close', () => clearTimeout(deadline));
    req.on('error', reject);
    req.end(body);
  });
}

/** GetParameters (at most 10 names, decrypted): what SSM has of them, and which it does not. */
export async function getParameters(names: string[], options: SsmOptions): Promise<Parameters> {
  if (names.length === 0) return { values: {}, invalid: [] };
  if (names.length > 10) throw new Error('GetParameters takes at most 10 names');
  const url = new URL(options.endpoint || regionalEndpoint(options.region));
  const body = JSON.stringify({ Names: names, WithDecryption: true });
  for (let attempt = 1; ; attempt++) {
    try {
      const answer = (await call(url, 'AmazonSSM.GetParameters', body, options)) as { Parameters?: { Name: string; Value: string }[]; InvalidParameters?: string[] };
      const values = Object.fromEntries((answer.Parameters ?? []).map(({ Name, Value }) => [Name, Value]));
      return { values, invalid: answer.InvalidParameters ?? [] };
    } catch (error) {
      const { name, code } = error as { name?: string; code?: unknown };
      const retryable = RETRYABLE.test(name ?? '') || typeof code === 'string' || ((error as AwsError).$metadata?.httpStatusCode ?? 0) >= 500;
      if (attempt >= ATTEMPTS || !retryable) throw error;
    }
  }
}
