import { specViolation } from './openapi-validator';

/**
 * A tiny HTTP client for the end-to-end tests, against the API that e2e-setup started. Every answer,
 * our handlers' and the gateway's own (its 401/403/503, from serverless.yml's gateway responses), is
 * checked against the OpenAPI document, and a mismatch fails the test that made the call.
 */
export interface ApiResponse {
  status: number;
  headers: Headers;
  body: any;
}

export function apiUrl(): string {
  const url = process.env.API_URL;
  if (!url) throw new Error('API_URL is not set: the e2e global setup did not run');
  return url;
}

export async function api(
  method: string,
  path: string,
  options: { body?: unknown; rawBody?: string; token?: string; headers?: Record<string, string> } = {},
): Promise<ApiResponse> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.body !== undefined || options.rawBody !== undefined) headers['content-type'] ??= 'application/json';
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const response = await fetch(`${apiUrl()}${path}`, {
    method,
    headers,
    body: options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text so the assertion shows it
  }
  const violation = specViolation(method, response.url, response.status, response.headers.get('content-type'), body);
  if (violation) throw new Error(`OpenAPI: ${violation}`);
  return { status: response.status, headers: response.headers, body };
}

/**
 * Whether API Gateway answered by itself (refused the token, denied the route) rather than a handler:
 * every handler's answer carries x-request-id, the gateway's never do.
 */
export function answeredByGateway(response: ApiResponse): boolean {
  return response.headers.get('x-request-id') === null;
}

let counter = 0;
export function uniqueEmail(prefix = 'user'): string {
  counter += 1;
  return `${prefix}-${Date.now().toString(36)}-${process.pid}-${counter}@example.com`;
}

export async function registerUser(prefix = 'user') {
  const email = uniqueEmail(prefix);
  const password = 'correct horse battery';
  const response = await api('POST', '/auth/register', { body: { email, password, name: 'Test User' } });
  if (response.status !== 201) throw new Error(`register failed: ${response.status} ${JSON.stringify(response.body)}`);
  return { email, password, ...(response.body as { user: { id: string }; accessToken: string; refreshToken: string }) };
}

export async function loginAdmin() {
  const response = await api('POST', '/auth/login', {
    body: { email: process.env.ADMIN_EMAIL, password: process.env.ADMIN_PASSWORD },
  });
  if (response.status !== 200) throw new Error(`admin login failed: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body as { accessToken: string; refreshToken: string; user: { id: string } };
}
