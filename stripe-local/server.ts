import { createHmac, randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A small Stripe-compatible server for development and tests: the PaymentIntents and Refunds that the
 * payments service uses, with state, Stripe's idempotency and signed webhooks. stripe-mock checks the
 * shape of our requests but is stateless; this server follows the life cycle. See README.md.
 */

/** The API version our objects follow: the one npm stripe 22.6.x pins and stripe-mock v0.203.0 serves. */
const API_VERSION = '2026-08-26.dahlia';
/** Stripe keeps an idempotency key's result for 24 hours; settled events are kept as long here. */
const DAY_MS = 24 * 60 * 60 * 1000;
/** Delays before each webhook delivery attempt: Stripe retries failed deliveries with backoff too. */
const WEBHOOK_DELAYS_MS = [0, 500, 1_000, 2_000, 4_000];

interface Params {
  [key: string]: string | Params;
}
type StripeObject = Record<string, unknown>;
interface EventRecord {
  event: StripeObject;
  delivery: 'none' | 'pending' | 'delivered' | 'failed';
  attempts: number;
  lastError?: string;
}
/** The tables, each a Map by id (idempotency by key; events in the order they were emitted). */
interface State {
  paymentIntents: Map<string, StripeObject>;
  charges: Map<string, StripeObject & { amount: number; amount_refunded: number }>;
  refunds: Map<string, StripeObject>;
  idempotency: Map<string, { fingerprint: string; status: number; body: string; at: number }>;
  events: Map<string, EventRecord>;
}
type Table = keyof State;
const TABLES: Table[] = ['paymentIntents', 'charges', 'refunds', 'idempotency', 'events'];
/** One line of the journal: one record's whole new value. `end` marks the last line of one change. */
interface JournalLine {
  table: Table;
  id: string;
  value: unknown;
  end?: true;
}

export interface StripeLocalOptions {
  port?: number;
  host?: string;
  /** A journal of the state: a line per changed record appended before each answer, replayed at start (survives kill -9). */
  dataFile?: string;
  webhookUrl?: string;
  webhookSecret?: string;
}

type Decline = { code: string; decline_code?: string; message: string };
type TestMethod = { brand: string; last4: string; decline?: Decline; authentication?: true };
const declined = (code: string, decline_code: string | undefined, message: string): Decline => ({ code, decline_code, message });
/** Stripe's documented test PaymentMethods and what confirming with each does. */
const TEST_METHODS: Record<string, TestMethod> = {
  pm_card_visa: { brand: 'visa', last4: '4242' },
  pm_card_mastercard: { brand: 'mastercard', last4: '4444' },
  pm_card_chargeDeclined: { brand: 'visa', last4: '0002', decline: declined('card_declined', 'generic_decline', 'Your card was declined.') },
  pm_card_chargeDeclinedInsufficientFunds: { brand: 'visa', last4: '9995', decline: declined('card_declined', 'insufficient_funds', 'Your card has insufficient funds.') },
  // Stripe answers an expired card with the error code expired_card and no decline_code.
  pm_card_chargeDeclinedExpiredCard: { brand: 'visa', last4: '0069', decline: declined('expired_card', undefined, 'Your card has expired.') },
  pm_card_authenticationRequired: { brand: 'visa', last4: '3184', authentication: true },
};
/** What Stripe answers when a card needs 3-D Secure but nobody can authenticate (off_session). */
const AUTHENTICATION_DECLINE = declined('authentication_required', 'authentication_required', 'Your card was declined. This transaction requires authentication.');
const CONFIRMABLE = ['requires_payment_method', 'requires_confirmation', 'requires_action'];
const CANCELABLE = [...CONFIRMABLE, 'requires_capture', 'processing'];

/** An answer in Stripe's error shape, thrown by the routes. */
class ApiError extends Error {
  constructor(readonly status: number, readonly error: StripeObject) {
    super(String(error.message));
  }
}
const errorBody = (type: string, message: string) => ({ error: { type, message } });
const invalid = (message: string, code?: string, param?: string) => new ApiError(400, { type: 'invalid_request_error', code, param, message });
const noSuch = (status: 400 | 404, what: string, id: string, param?: string) =>
  new ApiError(status, { type: 'invalid_request_error', code: 'resource_missing', param, message: `No such ${what}: '${id}'` });

const newId = (prefix: string) => `${prefix}_${randomBytes(12).toString('base64url').replace(/[-_]/g, 'x')}`;
const now = () => Math.floor(Date.now() / 1000);

/** Stripe's form encoding: `metadata[holdId]=h1`, `payment_method_types[0]=card`; lists become objects keyed 0, 1…. */
function parseForm(body: string): Params {
  const root: Params = {};
  for (const [key, value] of new URLSearchParams(body)) {
    const path = key.replace(/\]/g, '').split('[');
    let node = root;
    for (const [i, part] of path.entries()) {
      const segment = part === '' ? String(Object.keys(node).length) : part;
      if (i === path.length - 1) node[segment] = value;
      else {
        const next = (node[segment] ??= {});
        if (typeof next === 'string') throw invalid(`Invalid object: ${key}`, 'parameter_invalid_empty', key);
        node = next;
      }
    }
  }
  return root;
}

/** Parameters in a canonical order, so that an idempotent retry matches whatever order it sends them in. */
function canonical(params: Params): string {
  const sort = (value: string | Params): unknown =>
    typeof value === 'string' ? value : Object.fromEntries(Object.keys(value).sort().map((key) => [key, sort(value[key]!)]));
  return JSON.stringify(sort(params));
}

function allowOnly(params: Params, allowed: string[]): void {
  const unknown = Object.keys(params).find((key) => !allowed.includes(key));
  if (unknown) throw invalid(`Received unknown parameter: ${unknown}`, 'parameter_unknown', unknown);
}
function text<R extends boolean = false>(params: Params, name: string, required?: R): R extends true ? string : string | undefined;
function text(params: Params, name: string, required = false): string | undefined {
  const value = params[name];
  if (value !== undefined && typeof value !== 'string') throw invalid(`Invalid string: ${JSON.stringify(value)}`, 'parameter_invalid_string', name);
  if (!value && required) throw invalid(`Missing required param: ${name}.`, 'parameter_missing', name);
  return value || undefined;
}
function integer(params: Params, name: string, required: boolean): number | undefined {
  const value = text(params, name, required);
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw invalid(`Invalid positive integer: ${value}`, 'parameter_invalid_integer', name);
  return Number(value);
}
function metadata(params: Params): Record<string, string> {
  const value = params.metadata ?? {};
  if (typeof value === 'string') {
    if (value === '') return {};
    throw invalid('Invalid object', 'parameter_invalid_empty', 'metadata');
  }
  const entries = Object.entries(value);
  if (entries.length > 50) throw invalid('Metadata can have at most 50 keys.', 'parameter_invalid_empty', 'metadata');
  for (const [key, item] of entries) {
    if (typeof item !== 'string' || key.length > 40 || item.length > 500)
      throw invalid(`Invalid metadata[${key}]: keys up to 40 characters, string values up to 500`, undefined, `metadata[${key}]`);
  }
  return Object.fromEntries(entries) as Record<string, string>;
}

/*
 * Persistence is a journal (JSON lines) rather than the whole state rewritten after each change, which
 * cost more with every payment ever made. Each change appends the records it touched; a start replays
 * the lines (later ones win) and compacts them into a fresh journal of the live state.
 */

const put = (state: State, table: Table, id: string, value: unknown) => (state[table] as Map<string, unknown>).set(id, value);

/** Replays a journal into `state`. */
function readJournal(file: string, state: State): void {
  const text = readFileSync(file, 'utf8');
  // The format before the journal: the whole state as one JSON object. Read once; the compaction that
  // follows every start rewrites it as a journal.
  if (text.startsWith('{"paymentIntents"')) {
    const old = JSON.parse(text) as Record<Exclude<Table, 'events'>, Record<string, unknown>> & { events: EventRecord[] };
    for (const table of ['paymentIntents', 'charges', 'refunds', 'idempotency'] as const) for (const [id, value] of Object.entries(old[table])) put(state, table, id, value);
    for (const record of old.events) put(state, 'events', String(record.event.id), record);
    return;
  }
  const lines = text.split('\n');
  let change: JournalLine[] = [];
  for (const [i, raw] of lines.entries()) {
    if (raw === '') continue;
    let line: JournalLine;
    try {
      line = JSON.parse(raw) as JournalLine;
    } catch (error) {
      // Only the last line can be cut short (a crash or a full disk mid-write); anywhere else it is damage.
      if (i === lines.length - 1) break;
      throw new Error(`${file}:${i + 1} is not a journal line: ${error instanceof Error ? error.message : String(error)}`);
    }
    change.push(line);
    if (!line.end) continue;
    for (const { table, id, value } of change) put(state, table, id, value);
    change = [];
  }
  // Lines of a change that lost its last line were never acknowledged: left out whole, never half a refund.
}

/**
 * Writes the live state as a fresh journal, through a temporary file and a rename so that a kill -9
 * leaves the old journal or the new one. Drops what has expired first: idempotency keys after 24 hours,
 * as Stripe, and events settled (delivered, failed or never to be sent) a day ago. Answers the line count.
 */
function compactJournal(file: string, state: State): number {
  const dayAgo = Date.now() - DAY_MS;
  for (const [key, saved] of state.idempotency) if (saved.at < dayAgo) state.idempotency.delete(key);
  for (const [id, record] of state.events) if (record.delivery !== 'pending' && Number(record.event.created) * 1000 < dayAgo) state.events.delete(id);
  const lines = TABLES.flatMap((table) => [...(state[table] as Map<string, unknown>)].map(([id, value]) => JSON.stringify({ table, id, value, end: true })));
  writeFileSync(`${file}.tmp`, lines.map((line) => `${line}\n`).join(''));
  renameSync(`${file}.tmp`, file);
  return lines.length;
}

export async function startStripeLocal(options: StripeLocalOptions = {}): Promise<{ url: string; port: number; close(): Promise<void> }> {
  const { dataFile, webhookUrl, webhookSecret } = options;
  if (webhookUrl && !webhookSecret?.startsWith('whsec_')) throw new Error('--webhook-url needs --webhook-secret whsec_…');
  const state: State = { paymentIntents: new Map(), charges: new Map(), refunds: new Map(), idempotency: new Map(), events: new Map() };
  const timers = new Set<NodeJS.Timeout>();
  const aborter = new AbortController();
  let closed = false;
  /** Lines in the journal: with the records' count, tells when most of them are superseded. */
  let journalLines = 0;
  if (dataFile) {
    if (existsSync(dataFile)) readJournal(dataFile, state);
    // At every start, so that expired keys go and a torn last line is gone before anything is appended after it.
    journalLines = compactJournal(dataFile, state);
  }

  /**
   * What the current request or webhook delivery changed, filled by the code that changes it (`save` for
   * a new record, `touch` for one changed in place): `persist` appends exactly those records, so the cost
   * of a change does not grow with the state.
   */
  const touched = new Map<string, [Table, string]>();
  const touch = (table: Table, id: string) => touched.set(`${table} ${id}`, [table, id]);
  const save = (table: Table, id: string, value: unknown) => (put(state, table, id, value), touch(table, id));
  // Synchronous, before the answer is sent: a kill -9 after an answer loses nothing it acknowledged.
  const persist = () => {
    const changed = [...touched.values()];
    touched.clear();
    if (!dataFile || closed || changed.length === 0) return;
    const lines = changed.map(([table, id], i) => JSON.stringify({ table, id, value: state[table].get(id), ...(i === changed.length - 1 && { end: true }) }));
    appendFileSync(dataFile, lines.map((line) => `${line}\n`).join(''));
    journalLines += lines.length;
    // Compacting costs as much as the state, so only once at least half the lines are superseded
    // (e.g. a webhook endpoint long down, its events rewritten at each attempt): constant cost on average.
    const records = TABLES.reduce((sum, table) => sum + state[table].size, 0);
    if (journalLines > 2 * records + 10_000) journalLines = compactJournal(dataFile, state);
  };

  const deliver = (record: EventRecord, attempt: number) => {
    const timer = setTimeout(async () => {
      timers.delete(timer);
      // Stripe signs `<timestamp>.<raw body>` with HMAC-SHA256 (what stripe.webhooks.constructEvent checks).
      const payload = JSON.stringify(record.event, null, 2);
      const t = now();
      const v1 = createHmac('sha256', webhookSecret!).update(`${t}.${payload}`).digest('hex');
      record.attempts += 1;
      try {
        const response = await fetch(webhookUrl!, {
          method: 'POST',
          headers: { 'content-type': 'application/json; charset=utf-8', 'stripe-signature': `t=${t},v1=${v1}` },
          body: payload,
          signal: AbortSignal.any([aborter.signal, AbortSignal.timeout(10_000)]),
        });
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        record.delivery = 'delivered';
        delete record.lastError;
      } catch (error) {
        if (closed) return;
        record.lastError = error instanceof Error ? error.message : String(error);
        if (attempt + 1 < WEBHOOK_DELAYS_MS.length) deliver(record, attempt + 1);
        else record.delivery = 'failed';
      }
      touch('events', String(record.event.id));
      persist();
    }, WEBHOOK_DELAYS_MS[attempt]);
    timers.add(timer);
  };
  // Deliveries cut short by a crash resume at start, as Stripe keeps retrying an endpoint.
  for (const record of state.events.values()) if (record.delivery === 'pending' && webhookUrl) deliver(record, 0);

  const emit = (type: string, object: StripeObject) => {
    const event = { id: newId('evt'), object: 'event', api_version: API_VERSION, created: now(), data: { object: structuredClone(object) }, livemode: false, type };
    const record: EventRecord = { event, delivery: webhookUrl ? 'pending' : 'none', attempts: 0 };
    save('events', event.id, record);
    if (webhookUrl) deliver(record, 0);
  };

  const paymentIntent = (id: string, status: 404 | 400 = 404, param?: string) => state.paymentIntents.get(id) ?? throwError(noSuch(status, 'payment_intent', id, param));

  /**
   * Confirming: a test card succeeds, is declined (402, the intent back to requires_payment_method) or asks
   * for 3-D Secure. Checked first and applied by the returned function, so a refused confirm changes nothing.
   */
  const prepareConfirm = (intent: StripeObject, params: Params): (() => StripeObject) => {
    if (!CONFIRMABLE.includes(String(intent.status)))
      throw invalid(`You cannot confirm this PaymentIntent because it has a status of ${intent.status}.`, 'payment_intent_unexpected_state');
    const methodId = text(params, 'payment_method') ?? (intent.payment_method as string | null);
    if (!methodId) throw invalid("You cannot confirm this PaymentIntent because it's missing a payment method.", 'payment_intent_unexpected_state');
    const method = TEST_METHODS[methodId] ?? throwError(noSuch(400, 'PaymentMethod', methodId, 'payment_method'));
    const automatic = intent.automatic_payment_methods as { enabled?: boolean; allow_redirects?: string } | null;
    if (automatic?.enabled && automatic.allow_redirects !== 'never' && !text(params, 'return_url'))
      throw invalid(
        'This PaymentIntent is configured to accept payment methods that may redirect the customer; provide a `return_url` or set `automatic_payment_methods[allow_redirects]` to `never`.',
      );
    return () => confirm(intent, methodId, method, params.off_session === 'true');
  };
  const confirm = (intent: StripeObject, methodId: string, method: TestMethod, offSession: boolean): StripeObject => {
    touch('paymentIntents', String(intent.id));
    if (method.authentication && !offSession) {
      const next_action = { type: 'use_stripe_sdk', use_stripe_sdk: { type: 'three_d_secure_redirect' } };
      Object.assign(intent, { status: 'requires_action', payment_method: methodId, next_action });
      emit('payment_intent.requires_action', intent);
      return intent;
    }
    const decline = method.decline ?? (method.authentication ? AUTHENTICATION_DECLINE : undefined);
    const charge = {
      id: newId('ch'), object: 'charge', amount: intent.amount as number, amount_captured: decline ? 0 : (intent.amount as number), amount_refunded: 0,
      currency: intent.currency, created: now(), livemode: false, paid: !decline, payment_intent: intent.id, payment_method: methodId,
      payment_method_details: { type: 'card', card: { brand: method.brand, last4: method.last4 } }, refunded: false,
      status: decline ? 'failed' : 'succeeded', failure_code: decline?.code ?? null,
    };
    save('charges', charge.id, charge);
    intent.latest_charge = charge.id;
    intent.next_action = null;
    if (decline) {
      const error = { type: 'card_error', ...decline, charge: charge.id, payment_method: { id: methodId, object: 'payment_method', type: 'card' } };
      Object.assign(intent, { status: 'requires_payment_method', payment_method: null, last_payment_error: error });
      emit('payment_intent.payment_failed', intent);
      throw new ApiError(402, { ...error, payment_intent: structuredClone(intent) });
    }
    Object.assign(intent, { status: 'succeeded', payment_method: methodId, amount_received: intent.amount, last_payment_error: null });
    emit('payment_intent.succeeded', intent);
    return intent;
  };

  const routes: { method: string; path: RegExp; run: (params: Params, id: string) => StripeObject }[] = [
    {
      method: 'POST', path: /^\/v1\/payment_intents$/,
      run: (params) => {
        allowOnly(params, ['amount', 'currency', 'confirm', 'payment_method', 'payment_method_types', 'automatic_payment_methods', 'description', 'metadata', 'off_session', 'return_url', 'expand']);
        const amount = integer(params, 'amount', true)!;
        const currency = text(params, 'currency', true).toLowerCase();
        if (!/^[a-z]{3}$/.test(currency)) throw invalid(`Invalid currency: ${currency}`, 'parameter_invalid_string', 'currency');
        const automatic = params.automatic_payment_methods;
        const types = params.payment_method_types;
        if (typeof automatic === 'object' && typeof types === 'object')
          throw invalid('You may only specify one of these parameters: automatic_payment_methods, payment_method_types.');
        const id = newId('pi');
        const intent: StripeObject = {
          id, object: 'payment_intent', amount, amount_capturable: 0, amount_received: 0,
          automatic_payment_methods: typeof automatic === 'object' ? { enabled: automatic.enabled === 'true', allow_redirects: automatic.allow_redirects ?? 'always' } : null,
          canceled_at: null, cancellation_reason: null, capture_method: 'automatic_async', client_secret: `${id}_secret_${randomBytes(12).toString('hex')}`,
          confirmation_method: 'automatic', created: now(), currency, description: text(params, 'description') ?? null, last_payment_error: null,
          latest_charge: null, livemode: false, metadata: metadata(params), next_action: null, payment_method: text(params, 'payment_method') ?? null,
          payment_method_types: typeof types === 'object' ? Object.values(types) : ['card'], status: 'requires_payment_method',
        };
        if (intent.payment_method && !TEST_METHODS[intent.payment_method as string]) throw noSuch(400, 'PaymentMethod', intent.payment_method as string, 'payment_method');
        if (intent.payment_method) intent.status = 'requires_confirmation';
        const confirmNow = params.confirm === 'true' ? prepareConfirm(intent, params) : () => intent;
        // The intent exists from here on: a declined confirm still leaves it (in requires_payment_method).
        save('paymentIntents', id, intent);
        emit('payment_intent.created', intent);
        return confirmNow();
      },
    },
    { method: 'GET', path: /^\/v1\/payment_intents\/([^/]+)$/, run: (_, id) => paymentIntent(id) },
    {
      method: 'POST', path: /^\/v1\/payment_intents\/([^/]+)\/confirm$/,
      run: (params, id) => (allowOnly(params, ['payment_method', 'off_session', 'return_url', 'expand']), prepareConfirm(paymentIntent(id), params)()),
    },
    {
      method: 'POST', path: /^\/v1\/payment_intents\/([^/]+)\/cancel$/,
      run: (params, id) => {
        allowOnly(params, ['cancellation_reason', 'expand']);
        const intent = paymentIntent(id);
        if (!CANCELABLE.includes(String(intent.status)))
          throw invalid(`You cannot cancel this PaymentIntent because it has a status of ${intent.status}.`, 'payment_intent_unexpected_state');
        touch('paymentIntents', id);
        Object.assign(intent, { status: 'canceled', canceled_at: now(), cancellation_reason: text(params, 'cancellation_reason') ?? null, next_action: null });
        emit('payment_intent.canceled', intent);
        return intent;
      },
    },
    {
      method: 'POST', path: /^\/v1\/refunds$/,
      run: (params) => {
        allowOnly(params, ['payment_intent', 'amount', 'reason', 'metadata', 'expand']);
        const intentId = text(params, 'payment_intent', true);
        const intent = paymentIntent(intentId, 400, 'payment_intent');
        const charge = state.charges.get(String(intent.latest_charge));
        if (intent.status !== 'succeeded' || !charge) throw invalid(`This PaymentIntent (${intentId}) does not have a successful charge to refund.`, undefined, 'payment_intent');
        const left = charge.amount - charge.amount_refunded;
        if (left === 0) throw invalid(`Charge ${charge.id} has already been refunded.`, 'charge_already_refunded');
        const amount = integer(params, 'amount', false) ?? left;
        if (amount > left) throw invalid(`Refund amount (${amount}) is greater than unrefunded amount on charge (${left})`, 'amount_too_large', 'amount');
        const refund = {
          id: newId('re'), object: 'refund', amount, charge: charge.id, created: now(), currency: intent.currency, metadata: metadata(params),
          payment_intent: intentId, reason: text(params, 'reason') ?? null, status: 'succeeded',
        };
        save('refunds', refund.id, refund);
        touch('charges', String(charge.id));
        Object.assign(charge, { amount_refunded: charge.amount_refunded + amount, refunded: charge.amount_refunded + amount === charge.amount });
        emit('refund.created', refund);
        emit('charge.refunded', charge);
        return refund;
      },
    },
    { method: 'GET', path: /^\/v1\/refunds\/([^/]+)$/, run: (_, id) => state.refunds.get(id) ?? throwError(noSuch(404, 'refund', id)) },
    { method: 'GET', path: /^\/v1\/charges\/([^/]+)$/, run: (_, id) => state.charges.get(id) ?? throwError(noSuch(404, 'charge', id)) },
  ];

  /** One request, to [status, body]. Everything after the body is read is synchronous: requests never interleave. */
  const answer = (request: IncomingMessage, body: string, headers: Record<string, string>): [number, StripeObject | string] => {
    const { pathname } = new URL(request.url ?? '/', 'http://localhost');
    // Not Stripe's: what was sent to the webhook endpoint, for tests and curious developers.
    if (request.method === 'GET' && pathname === '/_stripe_local/events') return [200, { object: 'list', data: [...state.events.values()] }];
    const apiKey = /^Bearer (\S+)$/.exec(request.headers.authorization ?? '')?.[1];
    if (!apiKey) return [401, errorBody('invalid_request_error', 'You did not provide an API key. Use the Authorization header: Bearer sk_test_….')];
    if (!/^(sk|rk)_test_\w+$/.test(apiKey)) return [401, errorBody('invalid_request_error', `Invalid API Key provided: ${apiKey.slice(0, 8)}…`)];
    const route = routes.find((r) => r.method === request.method && r.path.test(pathname));
    if (!route) return [404, errorBody('invalid_request_error', `Unrecognized request URL (${request.method}: ${pathname}).`)];
    const id = decodeURIComponent(route.path.exec(pathname)?.[1] ?? '');
    // Stripe's idempotency: POSTs only; the same key with the same parameters replays the first answer.
    const key = request.method === 'POST' ? (request.headers['idempotency-key'] as string | undefined) : undefined;
    try {
      const params = parseForm(body);
      const fingerprint = `${request.method} ${pathname} ${canonical(params)}`;
      if (key) {
        headers['Idempotency-Key'] = key;
        // An expired key counts as new (and is overwritten); compaction drops it from the journal.
        const found = state.idempotency.get(key);
        const saved = found && Date.now() - found.at <= DAY_MS ? found : undefined;
        const reused = `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`;
        if (saved && saved.fingerprint !== fingerprint) return [400, errorBody('idempotency_error', reused)];
        if (saved) {
          headers['Idempotent-Replayed'] = 'true';
          return [saved.status, saved.body];
        }
      }
      let result: [number, StripeObject];
      try {
        result = [200, route.run(params, id)];
      } catch (error) {
        // Only an answer from a request that began executing is kept (Stripe keeps no 400 from validation).
        if (!(error instanceof ApiError) || error.status !== 402) throw error;
        result = [402, { error: error.error }];
      }
      if (key) save('idempotency', key, { fingerprint, status: result[0], body: JSON.stringify(result[1]), at: Date.now() });
      return result;
    } catch (error) {
      if (error instanceof ApiError) return [error.status, { error: error.error }];
      console.error(error);
      return [500, errorBody('api_error', 'stripe-local failed; see its log')];
    } finally {
      persist();
    }
  };

  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const headers: Record<string, string> = { 'Content-Type': 'application/json', 'Request-Id': newId('req'), 'Stripe-Version': API_VERSION };
      const [status, body] = answer(request, Buffer.concat(chunks).toString('utf8'), headers);
      response.writeHead(status, headers).end(typeof body === 'string' ? body : JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}`, port,
    close: async () => {
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      aborter.abort();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function throwError(error: Error): never {
  throw error;
}

if (require.main === module) {
  const arg = (name: string) => (process.argv.includes(`--${name}`) ? process.argv[process.argv.indexOf(`--${name}`) + 1] : undefined);
  const options = { port: Number(arg('port') ?? 12111), host: arg('host'), dataFile: arg('data'), webhookUrl: arg('webhook-url'), webhookSecret: arg('webhook-secret') };
  startStripeLocal(options).then(
    ({ url }) => console.log(`stripe-local listening on ${url}`),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exit(1);
    },
  );
}
