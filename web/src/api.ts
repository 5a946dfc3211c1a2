import { ApiError, type Problem } from './errors';
import { session } from './session';

/**
 * The one way the pages call the API: JSON in and out, the caller's access token, problem JSON turned
 * into ApiError, and one silent refresh (with rotation) when an access token has expired. Paths are
 * relative to the page's URL, so the app works at the API's root and under a stage prefix.
 */
export interface RequestOptions {
  body?: unknown;
  /** Sends the access token (default: whenever someone is logged in). */
  auth?: boolean;
  idempotencyKey?: string;
  /** For conditional GETs: the ETag of what the caller already has; a 304 answers `undefined`. */
  etag?: string;
  onEtag?: (etag: string) => void;
}

export function apiUrl(path: string): string {
  return new URL(path.replace(/^\//, ''), document.baseURI).toString();
}

async function send(method: string, path: string, options: RequestOptions): Promise<Response> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.idempotencyKey) headers['idempotency-key'] = options.idempotencyKey;
  if (options.etag) headers['if-none-match'] = options.etag;
  const token = options.auth === false ? undefined : await session.accessToken();
  if (token) headers.authorization = `Bearer ${token}`;
  return fetch(apiUrl(path), { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
}

async function problemOf(response: Response): Promise<ApiError> {
  let problem: Problem = { status: response.status };
  try {
    problem = { ...(await response.json()), status: response.status };
  } catch {
    // A gateway's own error page or an empty body: the status alone says what happened.
  }
  const retryAfter = Number(response.headers.get('retry-after')) || undefined;
  return new ApiError(problem, retryAfter);
}

export async function api<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  let response = await send(method, path, options);
  // An expired access token: refresh once (the refresh token rotates) and repeat the request.
  if (response.status === 401 && options.auth !== false && session.loggedIn() && (await session.refresh())) {
    response = await send(method, path, options);
  }
  if (response.status === 401 && session.loggedIn() && options.auth !== false) session.end();
  if (response.status === 304) return undefined as T;
  if (!response.ok) throw await problemOf(response);
  const etag = response.headers.get('etag');
  if (etag) options.onEtag?.(etag);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

/** A fresh Idempotency-Key: a retried hold or confirm (same key) never does the work twice. */
export function idempotencyKey(): string {
  return crypto.randomUUID();
}
