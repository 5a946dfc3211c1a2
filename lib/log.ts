import { Logger } from '@aws-lambda-powertools/logger';

/**
 * Logging through Powertools for AWS Lambda: JSON lines with the Lambda context (function name and
 * version, request id, cold start), the service, the API request id as correlation id, `LOG_LEVEL`,
 * and sampling of debug logs (`POWERTOOLS_LOGGER_SAMPLE_RATE`, e.g. 0.01 logs 1 % of invocations at
 * debug). Fields whose names look like secrets are redacted at any depth, so a careless
 * `log.info('x', { body })` cannot leak a password or a token.
 *
 * `log` is what code logs with. A function bundle serves one service, named once at load
 * (lib/observability.ts `observeAs`); Powertools fixes a logger's `service` at construction, so naming
 * it swaps the logger behind `log`.
 */
const SECRET_FIELD = /pass(word)?|secret|token|authorization|cookie|hash/i;

const loggerFor = (serviceName: string) =>
  new Logger({
    serviceName,
    logLevel: (process.env.LOG_LEVEL ?? 'info').toUpperCase() as 'INFO',
    jsonReplacerFn: (key, value) => (key !== '' && SECRET_FIELD.test(key) ? '[redacted]' : value),
  });

let current = loggerFor('flight-booking');

type Fields = Record<string, unknown>;
export const log = {
  debug: (message: string, fields: Fields = {}) => current.debug(message, fields),
  info: (message: string, fields: Fields = {}) => current.info(message, fields),
  warn: (message: string, fields: Fields = {}) => current.warn(message, fields),
  error: (message: string, fields: Fields = {}) => current.error(message, fields),
};

export function logAs(serviceName: string): Logger {
  current = loggerFor(serviceName);
  return current;
}

export function currentLogger(): Logger {
  return current;
}
