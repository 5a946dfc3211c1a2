import middy from '@middy/core';
import type { APIGatewayProxyResult, Context } from 'aws-lambda';
import { invokeAsync } from './clients/lambda';
import { AppError } from './http/errors';
import { problemResult } from './http/stack';
import { log } from './log';
import { observability } from './observability';
import { secrets } from './secrets';
import * as z from './validation';

/**
 * Functions that no route reaches (workers, schedules, the broadcaster) run only for the events meant
 * for them: EventBridge's scheduled event, or an invoke payload of our own, each described by a schema.
 * Anything else is refused before any work: a misrouted gateway event, a direct invoke with a made-up
 * payload. An HTTP event gets a 403 problem (a route wired to such a function by mistake answers like
 * any refused route); any other event is logged and answered `{ refused: true }`, without throwing, so
 * that Lambda does not retry it.
 */

/** What a `schedule` event of serverless.yml delivers. */
export const scheduled = z.looseObject({ source: z.literal('aws.events'), 'detail-type': z.literal('Scheduled Event') });

/** The payload one of our functions sends to start another now rather than at its next scheduled run. */
export const kick = (name: string) => z.strictObject({ kick: z.literal(name) });
export const kickPayload = (name: string) => ({ kick: name });

/** Starts a function now (an async invoke with its kick) rather than at its next scheduled run; a failure leaves the work to that run. */
export async function kickNow(functionName: string, name: string): Promise<void> {
  await invokeAsync(functionName, kickPayload(name)).catch((error: Error) => log.warn('could not start a function; its schedule will', { function: functionName, error: error.message }));
}

export interface Refusal {
  refused: true;
}

function looksLikeHttp(event: unknown): boolean {
  return typeof event === 'object' && event !== null && ('httpMethod' in event || 'routeKey' in event || 'requestContext' in event);
}

export function triggeredFunction<T, R>(accepts: z.ZodMiniType<T>, run: (event: T, context: Context) => Promise<R>) {
  return middy(async (event: unknown, context: Context): Promise<R | Refusal | APIGatewayProxyResult> => {
    const parsed = accepts.safeParse(event);
    if (parsed.success) return run(parsed.data, context);
    log.warn('refused an event that is not for this function', { function: context.functionName, http: looksLikeHttp(event) });
    if (looksLikeHttp(event)) return problemResult(new AppError('FORBIDDEN', 'This function serves no route'), context.awsRequestId ?? 'local');
    return { refused: true };
  })
    .use(observability())
    .use(secrets());
}
