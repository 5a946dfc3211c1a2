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

// How far the browser's clock is from the API's (Date header; whole seconds, so only a gap past 2 s
// counts): hold countdowns run on the API's time, so a fast browser clock cannot expire a fresh hold.
let clockOffsetMs = 0;

function noteServerTime(response: Response): void {
  const date = Date.parse(response.headers.get('date') ?? '');
  if (Number.isNaN(date)) return;
  const offset = date + 500 - Date.now();
  clockOffsetMs = Math.abs(offset) > 2000 ? offset : 0;
}

/** Now, on the API's clock. */
export function serverNow(): number {
  return Date.now() + clockOffsetMs;
}

/**
 * Whether a 401 refuses the access token (the gateway's UNAUTHORIZED) rather than something the person
 * typed: a wrong current password (INVALID_CREDENTIALS, changing the password) is answered as it is,
 * since refreshing would not change it and the repeated request's 401 would end the session.
 */
async function tokenRefused(response: Response): Promise<boolean> {
  const problem = (await response
    .clone()
    .json()
    .catch(() => ({}))) as Partial<Problem>;
  return problem.code !== 'INVALID_CREDENTIALS';
}

export async function api<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  let response = await send(method, path, options);
  // An expired access token: refresh once (the refresh token rotates) and repeat the request. The
  // session ends only when the API refuses the tokens (session.ts); an outage during the refresh
  // leaves it for the next try and answers this request's error.
  if (response.status === 401 && options.auth !== false && session.loggedIn() && (await tokenRefused(response)) && (await session.refresh())) {
    response = await send(method, path, options);
    if (response.status === 401) session.end();
  }
  noteServerTime(response);
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
