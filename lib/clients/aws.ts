import http from 'node:http';
import https from 'node:https';
import aws4 from 'aws4';
import { config } from '../config';

/**
 * Signed requests to AWS APIs (DynamoDB, Lambda) without the AWS SDK.
 *
 * Why not the SDK: every function writes its registry heartbeat to DynamoDB, and loading
 * `@aws-sdk/client-dynamodb` costs 40-75 ms of module init on its own (docs/benchmarks.md), as much as
 * the rest of the seats functions together. These APIs are JSON over HTTPS with a SigV4 signature,
 * so a signer (aws4) and node:http cover what this project calls. Credentials come from the
 * environment, which is where Lambda puts them; the retry policy is the SDK's standard one, cut to
 * the two attempts a request-scoped Lambda can afford.
 */

export class AwsError extends Error {
  constructor(
    /** The AWS error type, e.g. ConditionalCheckFailedException (the SDK's `error.name`). */
    name: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = name;
  }
}

export interface AwsRequest {
  service: 'dynamodb' | 'lambda';
  /** Overrides the regional AWS endpoint (dynalite, sls offline, LocalStack). */
  endpoint?: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

const MAX_ATTEMPTS = 2;
/** Two attempts fit in 2.5 s, so a hung endpoint answers 503 within API.md's 3 s. */
const REQUEST_TIMEOUT_MS = 1_200;
const RETRYABLE_TYPES = /Throttl|ProvisionedThroughputExceeded|RequestLimitExceeded|TooManyRequests|TransactionInProgress/;

const agents = { 'http:': new http.Agent({ keepAlive: true }), 'https:': new https.Agent({ keepAlive: true }) };

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function credentials() {
  const { AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN } = config('aws');
  return { accessKeyId: AWS_ACCESS_KEY_ID, secretAccessKey: AWS_SECRET_ACCESS_KEY, ...(AWS_SESSION_TOKEN ? { sessionToken: AWS_SESSION_TOKEN } : {}) };
}

function send(request: AwsRequest): Promise<Reply> {
  const region = config('aws').AWS_REGION;
  const url = new URL(request.endpoint ?? `https://${request.service}.${region}.amazonaws.com`);
  const signed = aws4.sign(
    {
      service: request.service,
      region,
      method: 'POST',
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: url.port } : {}),
      path: request.path,
      // Without one, aws4 signs a form content type, which no JSON API wants.
      headers: { 'Content-Type': 'application/json', ...request.headers },
      body: request.body,
    },
    credentials(),
  );
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise<Reply>((resolve, reject) => {
    const req = transport.request({ ...signed, agent: agents[url.protocol as keyof typeof agents] } as http.RequestOptions, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    const deadline = setTimeout(() => req.destroy(new AwsError('TimeoutError', `${request.service} did not answer in ${REQUEST_TIMEOUT_MS} ms`, 0)), REQUEST_TIMEOUT_MS);
    req.on('error', reject);
    req.on('close', () => clearTimeout(deadline));
    req.end(signed.body);
  });
}

/** The error type of a failed reply: the JSON `__type` (DynamoDB) or the x-amzn-errortype header (Lambda). */
function errorOf(reply: Reply): AwsError {
  let parsed: { __type?: string; message?: string; Message?: string } = {};
  try {
    parsed = JSON.parse(reply.body) as typeof parsed;
  } catch {
    // Not JSON (a proxy's HTML page, say): the status is all there is.
  }
  // "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException"; "ResourceNotFoundException:http://...";
  // and the XML <Code> some endpoints answer authentication failures with.
  const header = reply.headers['x-amzn-errortype'];
  const type =
    parsed.__type?.split('#').pop() ||
    (typeof header === 'string' ? header.split(':')[0] : '') ||
    /<Code>([A-Za-z.]+)<\/Code>/.exec(reply.body)?.[1] ||
    `Http${reply.status}`;
  return new AwsError(type, parsed.message ?? parsed.Message ?? `${reply.status}`, reply.status);
}

const retryable = (error: unknown) => !(error instanceof AwsError) || error.status === 0 || error.status >= 500 || RETRYABLE_TYPES.test(error.name);

/** Sends a signed request; retries once on throttling, 5xx and network errors; throws AwsError on an error reply. */
export async function awsRequest(request: AwsRequest): Promise<Reply> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      const reply = await send(request);
      if (reply.status >= 300) throw errorOf(reply);
      return reply;
    } catch (error) {
      if (attempt >= MAX_ATTEMPTS || !retryable(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 100));
    }
  }
}
