import { createHash } from 'node:crypto';
import { validationFailed } from '../../lib/http/errors';

/**
 * Idempotency-Key (API.md): a retry with the same key and the same request gets the first answer
 * (status and body, success or client error); the same key with another request is 422
 * IDEMPOTENCY_KEY_REUSED. Answers are kept IDEMPOTENCY_TTL_SECONDS (24 h).
 *
 * The answer is stored by the very Lua script that makes the change, in the flight's slot
 * (`seats:{flight:ID}:idem:<user>:<key digest>`, functions/seats/lua.ts `idempotent`): the change and
 * its answer are one atomic step, so no crash, timeout or failover between them can leave a change
 * without its answer, and a concurrent duplicate simply waits its turn and replays. A script that
 * fails does not store anything, so the client's retry runs again. Before the script, the key is tied
 * to its flight in the user's slot (atomically), so reusing a key for another flight is refused too.
 */

export const IDEMPOTENCY_KEY_FORMAT = /^[\x20-\x7E]{1,128}$/;

/** What the scripts need to know about a request that carries an Idempotency-Key. */
export interface IdempotencyClaim {
  /** sha256 of the key: keys are the client's text and never stored as given. */
  keyDigest: string;
  /** sha256 of method, path and body: what "the same request" means. */
  fingerprint: string;
  ttlSeconds: number;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('base64url');

/** The claim of a request, or undefined when it carries no key; a malformed key is 400. */
export function idempotencyClaim(
  request: { key: string | undefined; method: string; path: string; body: unknown },
  ttlSeconds: number,
): IdempotencyClaim | undefined {
  if (request.key === undefined) return undefined;
  if (!IDEMPOTENCY_KEY_FORMAT.test(request.key)) throw validationFailed([{ field: 'Idempotency-Key', message: 'must be 1-128 printable characters' }]);
  return { keyDigest: sha256(request.key), fingerprint: sha256(JSON.stringify([request.method, request.path, request.body ?? null])), ttlSeconds };
}
