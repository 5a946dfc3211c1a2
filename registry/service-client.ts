import { config } from '../lib/config';
import { serviceToken } from '../lib/auth/tokens';
import { AppError, errorCatalog, type ErrorCode } from '../lib/http/errors';
import { DiscoveryClient, InstanceUnreachableError } from './discovery';
import { registryStore } from './registry';
import type { ServiceName } from './self-registration';

/**
 * HTTP calls from one of our services to another: the target is found through the registry, the call
 * carries a short-lived `service` token, and connection failures (and 502/503/504 from a gateway in
 * front of a dead instance) fail over to the next instance. The callee's problem answers come back as
 * AppErrors with the callee's code, so they read the same to the caller's client.
 */

/** The callee answers a dead dependency with a 503 within 3 s; longer than that, the callee itself is hung. */
const CALL_TIMEOUT_MS = 2_500;
const RETRYABLE_STATUSES = new Set([502, 503, 504]);

let discovery: DiscoveryClient | undefined;
export function discoveryClient(): DiscoveryClient {
  discovery ??= new DiscoveryClient(registryStore(), {
    cacheMs: config('registry').REGISTRY_CACHE_SECONDS * 1000,
    suspectMs: 30_000,
  });
  return discovery;
}

export interface ServiceCall {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  body?: unknown;
  /** For a call whose callee waits on something slower than a database (a payment provider). */
  timeoutMs?: number;
}

export async function callService<T>(caller: ServiceName, target: ServiceName, call: ServiceCall, client = discoveryClient()): Promise<T> {
  return client.call(target, async (instance) => {
    let response: Response;
    try {
      response = await fetch(`${instance.attributes.url.replace(/\/$/, '')}${call.path}`, {
        method: call.method,
        headers: { authorization: `Bearer ${serviceToken(caller)}`, 'content-type': 'application/json' },
        body: call.body === undefined ? undefined : JSON.stringify(call.body),
        signal: AbortSignal.timeout(call.timeoutMs ?? CALL_TIMEOUT_MS),
      });
    } catch (error) {
      throw new InstanceUnreachableError(instance, error);
    }
    if (RETRYABLE_STATUSES.has(response.status)) throw new InstanceUnreachableError(instance, `HTTP ${response.status}`);
    const text = await response.text();
    let body: Record<string, unknown> | undefined;
    try {
      body = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
    } catch {
      // Not one of our services (a URL registered by mistake): try another instance.
      throw new InstanceUnreachableError(instance, `HTTP ${response.status} with a body that is not JSON`);
    }
    if (!response.ok) {
      // Every answer of our services and their gateway is a problem with one of our codes; anything
      // else comes from a server that is not one of them (a URL registered by mistake): try another.
      if (!(typeof body?.code === 'string' && body.code in errorCatalog)) throw new InstanceUnreachableError(instance, `HTTP ${response.status} that is not one of our problems`);
      throw new AppError(body.code as ErrorCode, typeof body.detail === 'string' ? body.detail : undefined, pickExtensions(body));
    }
    return body as T;
  });
}

function pickExtensions(body: Record<string, unknown> | undefined): Record<string, unknown> {
  const { type: _type, title: _title, status: _status, detail: _detail, code: _code, ...rest } = body ?? {};
  return rest;
}
