import * as z from './validation';

/**
 * The one place that reads the environment. Each section is parsed and validated the first time
 * a function asks for it (at cold start, since stores are created at module load), so a function
 * only needs the variables of the parts it uses, and a missing or malformed one fails with its name.
 */

export class ConfigError extends Error {
  constructor(problems: string[]) {
    super(`Invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

const positiveInt = (fallback: number) => z._default(z.coerce.number().check(z.int(), z.positive()), fallback);
const text = (fallback?: string) => (fallback === undefined ? z.string().check(z.minLength(1)) : z._default(z.string().check(z.minLength(1)), fallback));
const httpUrl = z.string().check(z.regex(/^https?:\/\/[^\s/]+/, 'must be an http(s) URL'));
const redisUrl = z.string().check(z.regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL'));
const flag = z._default(z.pipe(z.enum(['true', 'false']), z.transform((value) => value === 'true')), false);
const commaList = z.pipe(
  z.string(),
  z.transform((s) => s.split(',').map((part) => part.trim()).filter(Boolean)),
);

const sections = {
  service: z.object({
    STAGE: text('dev'),
    AWS_REGION: text('us-east-1'),
    SERVICE_VERSION: text('0.1.0'),
    /** The API's own base URL, registered in the registry so that other services can reach this one. */
    PUBLIC_API_URL: httpUrl,
    LOG_LEVEL: z._default(z.enum(['debug', 'info', 'warn', 'error']), 'info'),
  }),
  mongo: z.object({
    MONGODB_URI: z.string().check(z.regex(/^mongodb(\+srv)?:\/\//, 'must be a mongodb:// or mongodb+srv:// URI')),
    MONGODB_DB: text('flight_booking'),
  }),
  /** The seats store: one server (REDIS_URL) or a Redis Cluster (REDIS_CLUSTER_NODES, which wins when both are set). */
  redis: z
    .object({
      REDIS_URL: z.optional(redisUrl),
      /** `host:port` seeds of a Redis Cluster (MemoryDB's cluster endpoint is one seed). */
      REDIS_CLUSTER_NODES: z.optional(z.pipe(commaList, z.array(z.string().check(z.regex(/^[^\s:/]+:\d{1,5}$/, 'must be host:port seeds, comma separated'))))),
      /** TLS to the cluster's nodes (MemoryDB requires it). A single server takes rediss:// instead. */
      REDIS_TLS: flag,
      REDIS_USERNAME: z.optional(text()),
      REDIS_PASSWORD: z.optional(text()),
      /** Replicas that must hold a booking before it is acknowledged (lib/clients/redis.ts has the default). */
      REDIS_MIN_REPLICA_ACKS: z.optional(z.coerce.number().check(z.int(), z.gte(0), z.lte(5))),
      REDIS_REPLICA_ACK_TIMEOUT_MS: positiveInt(500),
    })
    .check(z.refine((c) => Boolean(c.REDIS_URL || c.REDIS_CLUSTER_NODES?.length), { path: ['REDIS_URL'], message: 'or REDIS_CLUSTER_NODES must be set' })),
  /** Redlock's servers for the migration lock: three independent ones in production; else the seats store alone. */
  redlock: z.object({
    REDLOCK_URLS: z.optional(z.pipe(commaList, z.array(redisUrl))),
  }),
  /** The region of the AWS clients; credentials are the SDK's business (its default chain: on Lambda, the function's role). */
  aws: z.object({
    AWS_REGION: text('us-east-1'),
  }),
  dynamo: z.object({
    DYNAMODB_ENDPOINT: z.optional(httpUrl),
    FLIGHTS_TABLE: z.string().check(z.minLength(3)),
    REGISTRY_TABLE: z.string().check(z.minLength(3)),
  }),
  /** A secret (lib/secrets.ts: from SSM on deployed stages), so a section of its own: the token settings below can be read before it arrives. */
  jwtKeys: z.object({
    /** `kid:secret` pairs, comma separated; the first signs, all verify (key rotation). */
    JWT_KEYS: text(),
  }),
  tokens: z.object({
    JWT_ISSUER: text('flight-booking'),
    JWT_AUDIENCE: text('flight-booking-api'),
    ACCESS_TOKEN_TTL_SECONDS: positiveInt(900),
    REFRESH_TOKEN_TTL_SECONDS: positiveInt(30 * 24 * 3600),
    SERVICE_TOKEN_TTL_SECONDS: positiveInt(300),
    /** How long the authorizer's answer for a token is reused (API Gateway's cache and the container's). */
    AUTHORIZER_CACHE_SECONDS: z._default(z.coerce.number().check(z.int(), z.gte(0), z.lte(3600)), 30),
  }),
  users: z.object({
    LOGIN_MAX_ATTEMPTS: z._default(z.coerce.number().check(z.int(), z.gte(1)), 5),
    LOGIN_LOCKOUT_SECONDS: positiveInt(900),
  }),
  seats: z.object({
    HOLD_TTL_SECONDS: positiveInt(600),
    IDEMPOTENCY_TTL_SECONDS: positiveInt(24 * 3600),
    /**
     * How long a hold whose payment is in flight is kept from expiring. Longer than a charge can take
     * (the provider's time-outs and retries); after it the payments sweep settles the charge
     * (functions/payments/sweep.ts): a booking if the hold is still there, a refund if not.
     */
    PAYMENT_GUARD_SECONDS: positiveInt(120),
  }),
  refunds: z.object({
    /** The refund sweep a cancelled flight starts right away (an async invoke); its schedule is the fallback. */
    REFUND_SWEEP_FUNCTION: text(),
  }),
  /** A flight is on sale until this many minutes before it departs (API.md, Checkout). */
  sales: z.object({
    SALES_CLOSE_MINUTES: z._default(z.coerce.number().check(z.int(), z.gte(0), z.lte(7 * 24 * 60)), 60),
  }),
  /** The payments service (functions/payments): its table and the provider (Stripe, or a local stand-in). */
  payments: z.object({
    PAYMENTS_TABLE: z.string().check(z.minLength(3)),
    /** A Stripe-compatible server instead of Stripe (stripe-local/ under npm start and the tests). */
    STRIPE_API_URL: z.optional(httpUrl),
  }),
  /** The payment provider's secrets (lib/secrets.ts: from SSM on deployed stages), read when a call needs them. */
  paymentKeys: z.object({
    STRIPE_SECRET_KEY: z.string().check(z.regex(/^(sk|rk)_(test|live)_\w+$/, 'must be a Stripe secret key (sk_test_… or sk_live_…)')),
    /** One webhook signing secret, or two (comma separated) while one is rotated: both are accepted. */
    STRIPE_WEBHOOK_SECRET: z.string().check(z.regex(/^whsec_\w+(,\s*whsec_\w+)*$/, 'must be Stripe webhook signing secrets (whsec_…, comma separated)')),
  }),
  /** The notifications service (functions/notifications): its table and the sender a hand-over starts. */
  notifications: z.object({
    NOTIFICATIONS_TABLE: z.string().check(z.minLength(3)),
    NOTIFICATIONS_SENDER_FUNCTION: text(),
  }),
  /** The seats service's relay of recorded booking emails (functions/seats/notices-relay.ts). */
  notices: z.object({
    NOTICES_RELAY_FUNCTION: text(),
  }),
  /** Sending email (SES): the verified sender address, and under npm start and the tests a local SES emulator. */
  email: z.object({
    AWS_REGION: text('us-east-1'),
    EMAIL_FROM: z.string().check(z.regex(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, 'must be an email address')),
    SES_ENDPOINT: z.optional(httpUrl),
  }),
  /** Where links in emails lead: the web app, served at the API's root unless WEB_APP_URL says otherwise. */
  webApp: z.object({
    WEB_APP_URL: z.optional(httpUrl),
    PUBLIC_API_URL: httpUrl,
  }),
  /** Per-caller limits (lib/http/rate-limit.ts): requests per minute per IP (anonymous) or per user. */
  rateLimits: z.object({
    RATE_LIMIT_AUTH_PER_MINUTE: positiveInt(30),
    RATE_LIMIT_PUBLIC_PER_MINUTE: positiveInt(600),
    RATE_LIMIT_USER_PER_MINUTE: positiveInt(600),
  }),
  /** The edges of every HTTP answer (lib/http/stack.ts, docs/architecture.md "Edges"). */
  http: z.object({
    /**
     * Exact browser origins whose pages may read the API's answers (CORS); none by default. serverless.yml
     * reads the same variable for the preflights (custom.cors) and refuses a malformed origin there, before
     * any function runs; here an origin only ever matches a request's `Origin` exactly.
     */
    CORS_ORIGINS: z._default(commaList, []),
    /** Set by serverless-offline for the functions it runs, on http://localhost: no HSTS there. */
    IS_OFFLINE: flag,
  }),
  migrations: z.object({
    /** The worker a migration request starts right away (an async invoke); its schedule is the fallback. */
    MIGRATION_WORKER_FUNCTION: text(),
  }),
  /** Functions invoking functions (lib/clients/lambda.ts). */
  lambda: z.object({
    AWS_REGION: text('us-east-1'),
    /** Only under `sls offline`: its Lambda invoke endpoint. Unset on AWS. */
    LAMBDA_ENDPOINT: z.optional(httpUrl),
  }),
  /** Live seat maps (functions/seats/live). */
  live: z.object({
    /** The broadcaster a change of a watched flight starts (an async invoke). */
    LIVE_BROADCASTER_FUNCTION: text(),
    /** Where clients connect: the WebSocket API's stage URL (wss://…; ws://127.0.0.1:… under sls offline). */
    WEBSOCKET_URL: z.string().check(z.regex(/^wss?:\/\/[^\s/]+/, 'must be a ws(s):// URL')),
    /** The WebSocket API's @connections endpoint (https://…/stage; http://127.0.0.1:… under sls offline). */
    WEBSOCKET_MANAGEMENT_ENDPOINT: httpUrl,
    LIVE_TICKET_TTL_SECONDS: positiveInt(60),
  }),
  registry: z.object({
    REGISTRY_HEARTBEAT_SECONDS: positiveInt(30),
    REGISTRY_INSTANCE_TTL_SECONDS: positiveInt(90),
    REGISTRY_CACHE_SECONDS: positiveInt(10),
  }),
};

export type ConfigSection = keyof typeof sections;
export type Config<S extends ConfigSection> = z.output<(typeof sections)[S]>;

const cache = new Map<ConfigSection, unknown>();

export function parseConfig<S extends ConfigSection>(section: S, env: NodeJS.ProcessEnv): Config<S> {
  // serverless.yml passes unset variables as '', which must mean "not set" (defaults apply).
  const given = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const result = sections[section].safeParse(given);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => {
        // The variable's name: a list variable's issue points at one of its items (path [name, index]).
        const name = String(issue.path[0]);
        return env[name] === undefined || env[name] === '' ? `${name} is missing` : `${name} ${issue.message}`;
      }),
    );
  }
  return result.data as Config<S>;
}

export function config<S extends ConfigSection>(section: S): Config<S> {
  if (!cache.has(section)) cache.set(section, parseConfig(section, process.env));
  return cache.get(section) as Config<S>;
}

/** Tests change the environment between cases; production never calls this. */
export function resetConfigCache(): void {
  cache.clear();
}
