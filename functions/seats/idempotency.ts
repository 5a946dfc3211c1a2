import { createHash } from 'node:crypto';
import type Redis from 'ioredis';
import { AppError, problemOf, validationFailed } from '../../lib/http/errors';
import type { HttpResponse } from '../../lib/http/stack';
import { idempotencyKey } from './keys';

/**
 * Idempotency-Key (API.md): a retry with the same key and the same request gets the first answer
 * (status and body); the same key with another request is 422 IDEMPOTENCY_KEY_REUSED; a retry while
 * the first is still running is 409 IDEMPOTENCY_KEY_IN_USE. Answers are kept for the TTL (24 h).
 * Client errors are kept like successes (the answer to that request was that error); a server error
 * is not, so the client's retry runs the request again.
 */

export const IDEMPOTENCY_KEY_FORMAT = /^[\x20-\x7E]{1,128}$/;

interface Stored {
  state: 'pending' | 'done';
  fingerprint: string;
  status?: number;
  body?: unknown;
  problem?: boolean;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('base64url');

export interface IdempotentRequest {
  userId: string;
  key: string | undefined;
  method: string;
  path: string;
  body: unknown;
}

export async function idempotent(redis: Redis, ttlSeconds: number, request: IdempotentRequest, run: () => Promise<HttpResponse>): Promise<HttpResponse> {
  if (request.key === undefined) return run();
  if (!IDEMPOTENCY_KEY_FORMAT.test(request.key)) throw validationFailed([{ field: 'Idempotency-Key', message: 'must be 1-128 printable characters' }]);

  const storeKey = idempotencyKey(request.userId, sha256(request.key));
  const fingerprint = sha256(JSON.stringify([request.method, request.path, request.body ?? null]));
  const claimed = await redis.set(storeKey, JSON.stringify({ state: 'pending', fingerprint } satisfies Stored), 'EX', ttlSeconds, 'NX');
  if (!claimed) {
    const raw = await redis.get(storeKey);
    const stored = raw ? (JSON.parse(raw) as Stored) : undefined;
    if (!stored || stored.state === 'pending') {
      if (stored && stored.fingerprint !== fingerprint) throw new AppError('IDEMPOTENCY_KEY_REUSED');
      throw new AppError('IDEMPOTENCY_KEY_IN_USE');
    }
    if (stored.fingerprint !== fingerprint) throw new AppError('IDEMPOTENCY_KEY_REUSED');
    return {
      status: stored.status!,
      body: stored.body,
      headers: { 'idempotent-replayed': 'true', ...(stored.problem ? { 'content-type': 'application/problem+json' } : {}) },
    };
  }

  const remember = (answer: Omit<Stored, 'state' | 'fingerprint'>) =>
    redis.set(storeKey, JSON.stringify({ state: 'done', fingerprint, ...answer } satisfies Stored), 'EX', ttlSeconds);
  try {
    const response = await run();
    await remember({ status: response.status, body: response.body });
    return response;
  } catch (error) {
    if (error instanceof AppError && error.status < 500) {
      await remember({ status: error.status, body: problemOf(error), problem: true });
    } else {
      await redis.del(storeKey);
    }
    throw error;
  }
}
