import { z } from 'zod';

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

const seconds = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const httpUrl = z.string().url().refine((u) => /^https?:\/\//.test(u), 'must be an http(s) URL');
const commaList = z
  .string()
  .transform((s) => s.split(',').map((part) => part.trim()).filter(Boolean));

const sections = {
  service: z.object({
    STAGE: z.string().min(1).default('dev'),
    AWS_REGION: z.string().min(1).default('us-east-1'),
    SERVICE_VERSION: z.string().min(1).default('0.1.0'),
    /** The API's own base URL, registered in the registry so that other services can reach this one. */
    PUBLIC_API_URL: httpUrl,
    LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  }),
  mongo: z.object({
    MONGODB_URI: z.string().regex(/^mongodb(\+srv)?:\/\//, 'must be a mongodb:// or mongodb+srv:// URI'),
    MONGODB_DB: z.string().min(1).default('flight_booking'),
  }),
  redis: z.object({
    REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL'),
  }),
  redlock: z.object({
    REDLOCK_URLS: commaList.optional(),
    REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL'),
  }),
  dynamo: z.object({
    DYNAMODB_ENDPOINT: z.preprocess((v) => (v === '' ? undefined : v), httpUrl.optional()),
    AWS_REGION: z.string().min(1).default('us-east-1'),
    FLIGHTS_TABLE: z.string().min(3),
    REGISTRY_TABLE: z.string().min(3),
  }),
  tokens: z.object({
    /** `kid:secret` pairs, comma separated; the first signs, all verify (key rotation). */
    JWT_KEYS: z.string().min(1),
    JWT_ISSUER: z.string().min(1).default('flight-booking'),
    JWT_AUDIENCE: z.string().min(1).default('flight-booking-api'),
    ACCESS_TOKEN_TTL_SECONDS: seconds(900),
    REFRESH_TOKEN_TTL_SECONDS: seconds(30 * 24 * 3600),
    SERVICE_TOKEN_TTL_SECONDS: seconds(300),
    /** How long the authorizer's answer for a token is reused (API Gateway's cache and the container's). */
    AUTHORIZER_CACHE_SECONDS: z.coerce.number().int().min(0).max(3600).default(30),
  }),
  users: z.object({
    LOGIN_MAX_ATTEMPTS: z.coerce.number().int().min(1).default(5),
    LOGIN_LOCKOUT_SECONDS: seconds(900),
  }),
  seats: z.object({
    HOLD_TTL_SECONDS: seconds(600),
    IDEMPOTENCY_TTL_SECONDS: seconds(24 * 3600),
  }),
  migrations: z.object({
    /** The worker a migration request starts right away (an async invoke); its schedule is the fallback. */
    MIGRATION_WORKER_FUNCTION: z.string().min(1),
    /** Only under `sls offline`: its Lambda invoke endpoint. Unset on AWS. */
    LAMBDA_ENDPOINT: z.preprocess((v) => (v === '' ? undefined : v), httpUrl.optional()),
    AWS_REGION: z.string().min(1).default('us-east-1'),
  }),
  registry: z.object({
    REGISTRY_HEARTBEAT_SECONDS: seconds(30),
    REGISTRY_INSTANCE_TTL_SECONDS: seconds(90),
    REGISTRY_CACHE_SECONDS: seconds(10),
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
        const name = issue.path.join('.');
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
