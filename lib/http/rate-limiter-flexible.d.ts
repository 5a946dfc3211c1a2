/**
 * rate-limiter-flexible's package entry loads every limiter it has (MySQL, etcd, Prisma, …); the
 * functions import the two they use from their own files, which the package types only at its root.
 */
declare module 'rate-limiter-flexible/lib/RateLimiterRedis' {
  import { RateLimiterRedis } from 'rate-limiter-flexible';
  export = RateLimiterRedis;
}
declare module 'rate-limiter-flexible/lib/RateLimiterMemory' {
  import { RateLimiterMemory } from 'rate-limiter-flexible';
  export = RateLimiterMemory;
}
declare module 'rate-limiter-flexible/lib/RateLimiterRes' {
  import { RateLimiterRes } from 'rate-limiter-flexible';
  export = RateLimiterRes;
}
