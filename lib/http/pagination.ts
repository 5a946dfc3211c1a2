import { createHmac, timingSafeEqual } from 'node:crypto';
import * as z from '../validation';
import { config } from '../config';
import { AppError } from './errors';

/**
 * List paging as API.md defines it: `?limit=` 1..100 (default 20) and an opaque `?cursor=`. Cursors
 * are signed, so a forged or edited one is refused with INVALID_CURSOR instead of reaching a store
 * as a position it never produced.
 */
export const pageQuery = z.strictObject({
  limit: z._default(z.coerce.number().check(z.int(), z.gte(1), z.lte(100)), 20),
  cursor: z.optional(z.string().check(z.minLength(1), z.maxLength(1024))),
});

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

function cursorKey(): Buffer {
  return createHmac('sha256', config('jwtKeys').JWT_KEYS).update('list-cursor').digest();
}

function sign(payload: string): string {
  return createHmac('sha256', cursorKey()).update(payload).digest('base64url').slice(0, 22);
}

export function encodeCursor(position: unknown): string {
  const payload = Buffer.from(JSON.stringify(position)).toString('base64url');
  return `${payload}.${sign(payload)}`;
}

export function decodeCursor<T>(cursor: string | undefined, shape: z.ZodMiniType<T>): T | undefined {
  if (cursor === undefined) return undefined;
  const [payload, signature, extra] = cursor.split('.');
  const expected = payload ? sign(payload) : '';
  const valid =
    payload && signature && extra === undefined && signature.length === expected.length &&
    timingSafeEqual(Buffer.from(signature), Buffer.from(expected));
  if (!valid) throw new AppError('INVALID_CURSOR');
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw new AppError('INVALID_CURSOR');
  }
  const result = shape.safeParse(decoded);
  if (!result.success) throw new AppError('INVALID_CURSOR');
  return result.data;
}
