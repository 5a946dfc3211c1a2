/**
 * Structured JSON logs, one line per event. Fields whose names look like secrets are redacted so a
 * careless `log.info('x', { body })` cannot leak a password or a token.
 */
type Level = 'debug' | 'info' | 'warn' | 'error';
const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const secretField = /pass(word)?|secret|token|authorization|cookie|hash/i;

export type LogFields = Record<string, unknown>;

function redact(value: unknown, depth = 0): unknown {
  if (depth > 4 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack };
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, secretField.test(k) ? '[redacted]' : redact(v, depth + 1)]),
  );
}

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

export function createLogger(base: LogFields = {}): Logger {
  const threshold = order[(process.env.LOG_LEVEL as Level) ?? 'info'] ?? order.info;
  const write = (level: Level, msg: string, fields?: LogFields) => {
    if (order[level] < threshold) return;
    const line = JSON.stringify({ time: new Date().toISOString(), level, msg, ...base, ...(redact(fields ?? {}) as LogFields) });
    (level === 'error' || level === 'warn' ? process.stderr : process.stdout).write(`${line}\n`);
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    child: (fields) => createLogger({ ...base, ...fields }),
  };
}

export const log = createLogger();
