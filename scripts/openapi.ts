import { writeFileSync } from 'node:fs';
import path from 'node:path';
import * as z from '../lib/validation';
import { stringify } from 'yaml';
import { errorCatalog, statusesOf, type ErrorCode } from '../lib/http/errors';
import { notFoundCodeOf, PATH_PARAMS } from '../lib/http/path-params';
import { IDEMPOTENCY_KEY_FORMAT } from '../functions/seats/idempotency';
import { pageQuery } from '../lib/http/pagination';
import { routePolicy, type RoutePolicy } from '../lib/http/route-policy';
import { REFERENCE_PATTERN } from '../functions/seats/references';
import { changePasswordBody, createUserBody, forgotPasswordBody, loginBody, refreshBody, registerBody, resetPasswordBody, updateUserBody } from '../functions/users/schemas';
import { intakeBody } from '../functions/notifications/model';
import { createFlightBody, migrationBatchBody, searchQuery, seatMapMigrationBody, updateFlightBody } from '../functions/flights/model';
import { applySeatMapBody, checkoutBody, holdBody, lookupQuery, provisionSeatsBody, retimeBody, scheduleBody, settleCheckoutBody } from '../functions/seats/model';
import { chargeBody, markBookedBody } from '../functions/payments/model';
import { instancesQuery, registerInstanceBody } from '../registry/model';

/**
 * The OpenAPI 3.1 document, built from the code that enforces it: paths and security from the route
 * policy, request bodies and query parameters from the handlers' zod schemas, response shapes from
 * the components below (API.md's objects). `npm run openapi` writes docs/openapi.yaml (for people) and
 * functions/gateway/openapi.json (served at GET /openapi.json); a unit test fails when either is stale.
 */

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const money = { type: 'object', required: ['amount', 'currency'], properties: { amount: { type: 'integer' }, currency: { type: 'string' } } };
const time = { type: 'string', format: 'date-time' };
const list = (item: string) => ({
  type: 'object',
  required: ['items', 'nextCursor'],
  properties: { items: { type: 'array', items: ref(item) }, nextCursor: { type: ['string', 'null'] } },
});

const components: Record<string, object> = {
  Problem: {
    type: 'object',
    required: ['type', 'title', 'status', 'detail', 'code'],
    properties: {
      type: { type: 'string' },
      title: { type: 'string' },
      status: { type: 'integer' },
      detail: { type: 'string' },
      code: { type: 'string', enum: Object.keys(errorCatalog) },
      errors: { type: 'array', items: { type: 'object', required: ['field', 'message'], properties: { field: { type: 'string' }, message: { type: 'string' } } } },
    },
  },
  Health: {
    type: 'object',
    required: ['status', 'checks'],
    properties: { status: { const: 'ok' }, checks: { type: 'object', properties: { mongo: { type: 'string' }, redis: { type: 'string' }, dynamodb: { type: 'string' } } } },
  },
  User: {
    type: 'object',
    required: ['id', 'email', 'name', 'role', 'disabled', 'createdAt'],
    additionalProperties: false,
    properties: { id: { type: 'string' }, email: { type: 'string' }, name: { type: 'string' }, role: { enum: ['user', 'admin'] }, disabled: { type: 'boolean' }, createdAt: time },
  },
  Session: {
    type: 'object',
    required: ['user', 'accessToken', 'refreshToken', 'expiresIn', 'tokenType'],
    properties: { user: ref('User'), accessToken: { type: 'string' }, refreshToken: { type: 'string' }, expiresIn: { type: 'integer' }, tokenType: { const: 'Bearer' } },
  },
  UserList: list('User'),
  ForgotPasswordAccepted: {
    type: 'object',
    required: ['message'],
    additionalProperties: false,
    properties: { message: { type: 'string', description: 'The same for every address, known or not' } },
  },
  NotificationsAccepted: {
    type: 'object',
    required: ['accepted'],
    additionalProperties: false,
    properties: { accepted: { type: 'integer', minimum: 0, description: 'Events new to the service (one handed over before is taken but not counted: same id, one email)' } },
  },
  LiveTicket: {
    type: 'object',
    required: ['ticket', 'url', 'expiresAt'],
    additionalProperties: false,
    properties: {
      ticket: { type: 'string', description: 'Single use, valid 60 s: connect to `url` with `?ticket=`' },
      url: { type: 'string', pattern: '^wss?://', description: 'The WebSocket API to connect to (messages: docs/asyncapi.yaml)' },
      expiresAt: time,
    },
  },
  Flight: {
    type: 'object',
    required: ['id', 'flightNumber', 'origin', 'destination', 'departureTime', 'arrivalTime', 'status', 'seatMapVersion', 'createdAt', 'updatedAt'],
    properties: {
      id: { type: 'string' },
      flightNumber: { type: 'string' },
      origin: { type: 'string' },
      destination: { type: 'string' },
      departureTime: time,
      arrivalTime: time,
      status: { enum: ['scheduled', 'cancelled'] },
      seatMapVersion: { type: 'integer' },
      createdAt: time,
      updatedAt: time,
    },
  },
  FlightList: list('Flight'),
  AirportList: {
    type: 'object',
    required: ['items'],
    additionalProperties: false,
    properties: {
      items: {
        type: 'array',
        items: {
          type: 'object',
          required: ['code', 'city', 'name', 'timeZone'],
          additionalProperties: false,
          properties: {
            code: { type: 'string' },
            city: { type: 'string' },
            name: { type: 'string' },
            timeZone: { type: ['string', 'null'], description: 'IANA time zone; null (and the code as city and name) for a code the airport dataset lacks' },
          },
        },
      },
    },
  },
  SeatMap: {
    type: 'object',
    required: ['flightId', 'version', 'seats', 'counts'],
    properties: {
      flightId: { type: 'string' },
      version: { type: 'integer' },
      seatMapVersion: { type: 'integer' },
      status: { enum: ['scheduled', 'cancelled'] },
      seats: {
        type: 'array',
        items: {
          type: 'object',
          required: ['id', 'class', 'price', 'status'],
          additionalProperties: false,
          properties: { id: { type: 'string' }, class: { type: 'string' }, price: money, status: { enum: ['available', 'held', 'booked'] } },
        },
      },
      counts: { type: 'object', required: ['available', 'held', 'booked', 'total'], properties: { available: { type: 'integer' }, held: { type: 'integer' }, booked: { type: 'integer' }, total: { type: 'integer' } } },
    },
  },
  Hold: {
    type: 'object',
    required: ['holdId', 'flightId', 'seats', 'expiresAt'],
    properties: {
      holdId: { type: 'string' },
      flightId: { type: 'string' },
      seats: { type: 'array', items: { type: 'string' } },
      total: money,
      expiresAt: time,
      status: { enum: ['active', 'confirmed', 'released', 'expired', 'voided'] },
      bookingId: { type: 'string' },
    },
  },
  Booking: {
    type: 'object',
    required: ['bookingId', 'reference', 'flightId', 'userId', 'seats', 'passengers', 'contact', 'total', 'payment', 'status', 'createdAt'],
    properties: {
      bookingId: { type: 'string' },
      reference: { type: 'string', pattern: REFERENCE_PATTERN.source, description: 'The record locator travellers quote' },
      flightId: { type: 'string' },
      userId: { type: 'string' },
      seats: { type: 'array', items: { type: 'object', required: ['id', 'class', 'price'], properties: { id: { type: 'string' }, class: { type: 'string' }, price: money } } },
      passengers: {
        type: 'array',
        items: {
          type: 'object',
          required: ['seat', 'firstName', 'lastName', 'ticketNumber'],
          properties: { seat: { type: 'string' }, firstName: { type: 'string' }, lastName: { type: 'string' }, ticketNumber: { type: 'string', pattern: '^[0-9]{13}$' } },
        },
      },
      contact: { type: 'object', required: ['email'], properties: { email: { type: 'string' }, phone: { type: 'string' } } },
      total: money,
      payment: {
        type: 'object',
        required: ['provider', 'paymentId', 'status'],
        properties: { provider: { type: 'string' }, paymentId: { type: 'string' }, status: { enum: ['succeeded', 'refund_pending', 'refunded'] }, refundedAt: time },
      },
      status: { enum: ['confirmed', 'cancelled', 'flight_cancelled'] },
      createdAt: time,
      cancelledAt: time,
    },
  },
  BookingList: list('Booking'),
  /** Manage my booking: the booking without the account and contact details. */
  LookedUpBooking: {
    type: 'object',
    required: ['bookingId', 'reference', 'flightId', 'seats', 'passengers', 'total', 'payment', 'status', 'createdAt'],
    not: { anyOf: [{ required: ['userId'] }, { required: ['contact'] }] },
    properties: {
      bookingId: { type: 'string' },
      reference: { type: 'string' },
      flightId: { type: 'string' },
      seats: { type: 'array' },
      passengers: { type: 'array' },
      total: money,
      payment: { type: 'object' },
      status: { enum: ['confirmed', 'cancelled', 'flight_cancelled'] },
      createdAt: time,
      cancelledAt: time,
    },
  },
  Charge: {
    type: 'object',
    required: ['status'],
    properties: { status: { enum: ['succeeded', 'declined'] }, provider: { type: 'string' }, paymentId: { type: 'string' }, declineCode: { type: 'string' } },
  },
  Refund: { type: 'object', required: ['status'], properties: { status: { enum: ['refund_pending', 'refunded'] }, refundedAt: time } },
  Settlement: { type: 'object', required: ['outcome'], properties: { outcome: { enum: ['booked', 'gone'] }, bookingId: { type: 'string' } } },
  WebhookReceived: { type: 'object', required: ['received'], properties: { received: { const: true } } },
  PaymentsAudit: {
    type: 'object',
    required: ['ok', 'counts', 'problems'],
    properties: {
      ok: { type: 'boolean' },
      counts: { type: 'object', required: ['payments', 'bookings', 'refunds'], properties: { payments: { type: 'integer' }, bookings: { type: 'integer' }, refunds: { type: 'integer' }, inFlight: { type: 'integer' } } },
      problems: { type: 'array', items: { type: 'string' } },
    },
  },
  Audit: {
    type: 'object',
    required: ['ok', 'counts', 'problems'],
    properties: { ok: { type: 'boolean' }, counts: { type: 'object' }, problems: { type: 'array', items: { type: 'string' } } },
  },
  MigrationAccepted: { type: 'object', required: ['migrationId', 'status'], properties: { migrationId: { type: 'string' }, status: { enum: ['queued', 'running', 'succeeded', 'failed'] } } },
  MigrationReport: {
    type: 'object',
    required: ['migrationId', 'flightId', 'fromVersion', 'toVersion', 'status', 'added', 'removed', 'changed', 'conflicts', 'startedAt', 'finishedAt'],
    properties: {
      migrationId: { type: 'string' },
      flightId: { type: 'string' },
      batchId: { type: 'string' },
      fromVersion: { type: ['integer', 'null'] },
      toVersion: { type: ['integer', 'null'] },
      status: { enum: ['queued', 'running', 'succeeded', 'failed'] },
      policy: { enum: ['reject', 'keep'] },
      added: { type: 'integer' },
      removed: { type: 'integer' },
      changed: { type: 'integer' },
      conflicts: { type: 'array', items: { type: 'object', required: ['seat', 'status', 'resolution'], properties: { seat: { type: 'string' }, status: { enum: ['held', 'booked'] }, resolution: { type: 'string' } } } },
      attempts: { type: 'integer' },
      createdAt: time,
      startedAt: { type: ['string', 'null'] },
      finishedAt: { type: ['string', 'null'] },
      error: { type: 'string' },
    },
  },
  BatchAccepted: {
    type: 'object',
    required: ['batchId', 'migrations'],
    properties: { batchId: { type: 'string' }, migrations: { type: 'array', items: { type: 'object', required: ['flightId', 'migrationId'] } } },
  },
  BatchReport: {
    type: 'object',
    required: ['batchId', 'total', 'counts', 'migrations'],
    properties: { batchId: { type: 'string' }, total: { type: 'integer' }, done: { type: 'boolean' }, counts: { type: 'object' }, migrations: { type: 'array', items: ref('MigrationReport') } },
  },
  ServiceList: {
    type: 'object',
    required: ['items'],
    properties: { items: { type: 'array', items: { type: 'object', required: ['name', 'instances', 'healthy'], properties: { name: { type: 'string' }, instances: { type: 'integer' }, healthy: { type: 'integer' } } } } },
  },
  Instance: {
    type: 'object',
    required: ['instanceId', 'service', 'attributes', 'health', 'lastHeartbeatAt'],
    properties: {
      instanceId: { type: 'string' },
      service: { type: 'string' },
      attributes: { type: 'object', required: ['url'], additionalProperties: { type: 'string' } },
      health: { enum: ['HEALTHY', 'UNHEALTHY'] },
      lastHeartbeatAt: time,
    },
  },
  InstanceList: { type: 'object', required: ['items'], properties: { items: { type: 'array', items: ref('Instance') } } },
  Empty: {},
};

interface Operation {
  summary: string;
  status: number;
  response?: string;
  body?: z.ZodMiniType;
  query?: z.ZodMiniType;
  /**
   * The problems this route answers besides the ones every route of its kind can (see `errorsOf`); a
   * code this route answers with another status than the catalog's (lib/http/errors.ts, otherStatuses) names it.
   */
  errors?: (ErrorCode | RouteError)[];
  /** Takes an Idempotency-Key (API.md, Conventions). */
  idempotent?: true;
  /** Answers 304 to If-None-Match. */
  etag?: true;
  /** A success that is not JSON: its media types (the web app's page and files). */
  media?: string[];
  /** Answers 308 to the same path with a trailing slash (the web app's page). */
  slashRedirect?: true;
  /** Takes any body, checked as it is (a signed webhook): JSON, but no schema. */
  rawBody?: true;
}

interface RouteError {
  code: ErrorCode;
  status: number;
}

const IDEMPOTENCY_ERRORS: ErrorCode[] = ['IDEMPOTENCY_KEY_REUSED'];

/** What each route takes and answers; the route policy says who may call it. */
export const operations: Record<string, Operation> = {
  'GET /health': { summary: 'Health of every dependency (503 names the failing one)', status: 200, response: 'Health', errors: ['DEPENDENCY_DOWN'] },
  'GET /openapi.json': { summary: 'This document', status: 200, response: 'Empty' },
  'GET /': { summary: 'The web app (search, live seat map, booking, admin pages)', status: 200, media: ['text/html'], slashRedirect: true },
  'GET /app/{file}': { summary: "One of the web app's files (scripts, styles, icon)", status: 200, media: ['text/javascript', 'text/css', 'image/svg+xml'], errors: ['NOT_FOUND'] },
  'POST /realtime/tickets': { summary: 'A ticket to connect to the live seat maps (WebSocket); with a bearer token it carries the user', status: 201, response: 'LiveTicket', errors: ['UNAUTHORIZED'] },
  'POST /auth/register': { summary: 'Register a user', status: 201, response: 'Session', body: registerBody, errors: ['EMAIL_TAKEN'] },
  'POST /auth/login': { summary: 'Log in', status: 200, response: 'Session', body: loginBody, errors: ['INVALID_CREDENTIALS', 'TOO_MANY_ATTEMPTS'] },
  'POST /auth/refresh': { summary: 'Rotate a refresh token', status: 200, response: 'Session', body: refreshBody, errors: ['INVALID_TOKEN'] },
  'POST /auth/logout': { summary: "End the refresh token's session", status: 204, body: refreshBody },
  'GET /users/me': { summary: 'The caller', status: 200, response: 'User', errors: ['USER_NOT_FOUND'] },
  'POST /auth/password/change': {
    summary: "Change the caller's password; every other session of the account ends (a wrong current password counts towards the login lockout)",
    status: 204,
    body: changePasswordBody,
    errors: ['INVALID_CREDENTIALS', 'TOO_MANY_ATTEMPTS'],
  },
  'POST /auth/password/forgot': { summary: 'Ask for a password reset link by email; the same answer for every address', status: 202, response: 'ForgotPasswordAccepted', body: forgotPasswordBody },
  'POST /auth/password/reset': {
    summary: "Set a new password with a reset link's token (single use, 30 minutes); every session of the account ends",
    status: 204,
    body: resetPasswordBody,
    errors: [{ code: 'INVALID_TOKEN', status: 400 }],
  },
  'POST /admin/users': { summary: 'Create a user or admin', status: 201, response: 'User', body: createUserBody, errors: ['EMAIL_TAKEN'] },
  'GET /admin/users': { summary: 'List users', status: 200, response: 'UserList', query: pageQuery, errors: ['INVALID_CURSOR'] },
  'PATCH /admin/users/{userId}': { summary: 'Change role or disable (never oneself, never the last admin)', status: 200, response: 'User', body: updateUserBody, errors: ['CANNOT_CHANGE_SELF', 'LAST_ADMIN'] },
  'GET /flights': { summary: 'Search flights by route and day (flexDays widens it to that many days either side)', status: 200, response: 'FlightList', query: searchQuery, errors: ['INVALID_CURSOR'] },
  'GET /airports': { summary: 'The airports flights are scheduled from or to, with city, name and time zone', status: 200, response: 'AirportList' },
  'GET /flights/{flightId}': { summary: 'A flight', status: 200, response: 'Flight' },
  'POST /flights': { summary: 'Create a flight with its seat map', status: 201, response: 'Flight', body: createFlightBody, errors: ['FLIGHT_EXISTS'] },
  'PATCH /flights/{flightId}': { summary: 'Change a flight', status: 200, response: 'Flight', body: updateFlightBody, errors: ['FLIGHT_CANCELLED', 'FLIGHT_EXISTS', 'FLIGHT_CHANGED'] },
  'DELETE /flights/{flightId}': { summary: 'Cancel a flight', status: 200, response: 'Flight' },
  'PUT /flights/{flightId}/seatmap': { summary: 'Migrate to a new seat map', status: 202, response: 'MigrationAccepted', body: seatMapMigrationBody, errors: ['FLIGHT_CANCELLED', 'MIGRATION_IN_PROGRESS'] },
  'GET /flights/{flightId}/migrations/{migrationId}': { summary: 'A migration report', status: 200, response: 'MigrationReport' },
  'POST /admin/migrations': { summary: 'Migrate many flights', status: 202, response: 'BatchAccepted', body: migrationBatchBody },
  'GET /admin/migrations/{batchId}': { summary: 'A batch report', status: 200, response: 'BatchReport' },
  'GET /flights/{flightId}/seats': { summary: 'Seat map with live status (ETag)', status: 200, response: 'SeatMap', etag: true },
  'POST /flights/{flightId}/holds': {
    summary: 'Hold 1-9 seats (Idempotency-Key); at most 9 held seats per person per flight',
    status: 201,
    response: 'Hold',
    body: holdBody,
    idempotent: true,
    errors: ['SEAT_NOT_FOUND', 'SEAT_UNAVAILABLE', 'FLIGHT_CANCELLED', 'FLIGHT_CLOSED', 'HOLD_LIMIT_REACHED'],
  },
  'GET /holds/{holdId}': { summary: 'A hold', status: 200, response: 'Hold' },
  'DELETE /holds/{holdId}': { summary: 'Release a hold', status: 204, errors: ['HOLD_ALREADY_CONFIRMED', 'PAYMENT_IN_PROGRESS'] },
  'POST /holds/{holdId}/confirm': {
    summary: 'Checkout: pay for a hold and book it, with a passenger per seat (Idempotency-Key)',
    status: 201,
    response: 'Booking',
    body: checkoutBody,
    idempotent: true,
    errors: ['PAYMENT_DECLINED', 'FORBIDDEN', 'HOLD_ALREADY_CONFIRMED', 'HOLD_EXPIRED', 'FLIGHT_CLOSED', 'FLIGHT_CANCELLED', 'PAYMENT_IN_PROGRESS'],
  },
  'GET /bookings/lookup': { summary: 'Manage my booking: a booking by reference and a passenger’s last name', status: 200, response: 'LookedUpBooking', query: lookupQuery, errors: ['BOOKING_NOT_FOUND'] },
  'GET /bookings': { summary: "The caller's bookings", status: 200, response: 'BookingList', query: pageQuery, errors: ['INVALID_CURSOR'] },
  'GET /bookings/{bookingId}': { summary: 'A booking', status: 200, response: 'Booking' },
  'DELETE /bookings/{bookingId}': { summary: 'Cancel a booking and refund it', status: 200, response: 'Booking', errors: ['ALREADY_CANCELLED', 'FLIGHT_CLOSED'] },
  'GET /admin/flights/{flightId}/seats/audit': { summary: 'Check the seat invariants', status: 200, response: 'Audit' },
  'PUT /internal/flights/{flightId}/seats': { summary: 'Service only: provision a seat map', status: 201, body: provisionSeatsBody, errors: ['SEAT_MAP_EXISTS'] },
  'POST /internal/flights/{flightId}/cancel': { summary: "Service only: cancel a flight's seats", status: 200 },
  'POST /internal/flights/{flightId}/seatmap-migrations': { summary: 'Service only: apply a seat map, fenced', status: 200, body: applySeatMapBody, errors: ['FLIGHT_CANCELLED', 'MIGRATION_FENCED', 'MIGRATION_CONFLICTS'] },
  'PUT /internal/flights/{flightId}/schedule': { summary: "Service only: a flight's new departure (sales close from it)", status: 204, body: scheduleBody },
  'POST /internal/flights/{flightId}/retimes': { summary: "Service only: a flight's times changed; each confirmed booking gets its email (once per change id)", status: 204, body: retimeBody },
  'POST /internal/holds/{holdId}/checkout': { summary: 'Service only: book the hold a settled charge paid for, or say it is gone', status: 200, response: 'Settlement', body: settleCheckoutBody },
  'GET /internal/bookings': { summary: 'Service only: every booking with its payment (the payments audit)', status: 200, response: 'BookingList', query: pageQuery, errors: ['INVALID_CURSOR'] },
  'POST /internal/payments': { summary: 'Service only: charge a checkout once per payment key', status: 200, response: 'Charge', body: chargeBody, errors: ['PAYMENT_IN_PROGRESS'] },
  'PUT /internal/payments/{paymentKey}/booking': { summary: 'Service only: the booking a charge paid for', status: 204, body: markBookedBody, errors: ['PAYMENT_IN_PROGRESS'] },
  'POST /internal/payments/{paymentKey}/refund': { summary: 'Service only: refund a charge in full', status: 200, response: 'Refund' },
  'POST /payments/webhook': { summary: "The payment provider's webhook (Stripe-Signature over the raw body; no token)", status: 200, response: 'WebhookReceived', rawBody: true, errors: ['INVALID_SIGNATURE', 'PAYLOAD_TOO_LARGE'] },
  'POST /internal/notifications': { summary: 'Service only: hand over notification events, one email each (idempotent by event id)', status: 202, response: 'NotificationsAccepted', body: intakeBody },
  'GET /admin/payments/audit': { summary: 'Check that every charge is a booking or a refund, and every booking has its charge', status: 200, response: 'PaymentsAudit' },
  'GET /registry/services': { summary: 'Registered services', status: 200, response: 'ServiceList' },
  'GET /registry/services/{service}/instances': { summary: "A service's instances", status: 200, response: 'InstanceList', query: instancesQuery },
  'POST /registry/services/{service}/instances': { summary: 'Register an instance', status: 201, response: 'Instance', body: registerInstanceBody, errors: ['INSTANCE_ALIVE'] },
  'PUT /registry/services/{service}/instances/{instanceId}/heartbeat': { summary: 'Heartbeat', status: 204 },
  'DELETE /registry/services/{service}/instances/{instanceId}': { summary: 'Deregister (not an instance its service keeps alive)', status: 204, errors: ['INSTANCE_ALIVE'] },
};

const jsonSchema = (schema: z.ZodMiniType) => {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
};

const pathParamNames = (path: string) => [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);

/**
 * Every problem a route can answer: its own, plus what the stack and the gateway answer for any route of
 * its kind (a body to validate, a path id to find, a token to check), the rate limit and an outage.
 */
export function errorsOf(route: RoutePolicy): RouteError[] {
  const op = operations[`${route.method} ${route.path}`]!;
  const codes: (ErrorCode | RouteError)[] = [
    ...(op.body ? (['VALIDATION_FAILED', 'INVALID_JSON', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE'] as const) : []),
    ...(op.query || op.idempotent ? (['VALIDATION_FAILED'] as const) : []),
    ...(op.idempotent ? IDEMPOTENCY_ERRORS : []),
    ...(route.access === 'public' ? [] : (['UNAUTHORIZED', 'FORBIDDEN'] as const)),
    ...pathParamNames(route.path).map(notFoundCodeOf),
    ...(op.errors ?? []),
    'RATE_LIMITED',
    'SERVICE_UNAVAILABLE',
    'INTERNAL',
  ];
  const errors = new Map<string, RouteError>();
  for (const entry of codes) {
    const error = typeof entry === 'string' ? { code: entry, status: errorCatalog[entry][0] } : entry;
    if (!statusesOf(error.code).includes(error.status)) throw new Error(`${route.method} ${route.path}: ${error.code} is never answered with ${error.status}`);
    errors.set(`${error.code} ${error.status}`, error);
  }
  return [...errors.values()];
}

const header = (description: string, schema: object = { type: 'string' }) => ({ description, schema });
const RETRY_AFTER = header('Seconds to wait before retrying', { type: 'string', pattern: '^[0-9]+$' });
const RATE_LIMIT_HEADERS = {
  'RateLimit-Policy': header('The caller\'s budget (IETF httpapi draft), e.g. "user";q=600;w=60'),
  RateLimit: header('What is left of it, e.g. "user";r=599;t=42'),
};

function problemResponses(route: RoutePolicy): Record<string, object> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const { code, status } of errorsOf(route)) byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  return Object.fromEntries(
    [...byStatus.entries()]
      .sort(([a], [b]) => a - b)
      .map(([status, codes]) => [
        String(status),
        {
          description: codes.join(', '),
          ...(status === 429 ? { headers: { 'Retry-After': RETRY_AFTER, ...RATE_LIMIT_HEADERS } } : status === 503 ? { headers: { 'Retry-After': RETRY_AFTER } } : {}),
          content: { 'application/problem+json': { schema: { allOf: [ref('Problem'), { properties: { code: { enum: codes } } }] } } },
        },
      ]),
  );
}

function operation(route: RoutePolicy) {
  const key = `${route.method} ${route.path}`;
  const op = operations[key];
  if (!op) throw new Error(`no OpenAPI operation for ${key}`);
  const pathParams = pathParamNames(route.path).map((name) => {
    const known = (PATH_PARAMS as Record<string, { pattern: RegExp }>)[name];
    if (!known) throw new Error(`${key}: path parameter ${name} is not in lib/http/path-params.ts`);
    return { name, in: 'path', required: true, schema: { type: 'string', pattern: known.pattern.source } };
  });
  const query = op.query ? Object.entries((jsonSchema(op.query).properties ?? {}) as Record<string, object>).map(([name, schema]) => ({ name, in: 'query', schema })) : [];
  const requiredQuery = new Set(op.query ? ((jsonSchema(op.query).required as string[]) ?? []) : []);
  const headers = [
    ...(op.idempotent ? [{ name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', pattern: IDEMPOTENCY_KEY_FORMAT.source } }] : []),
    ...(op.etag ? [{ name: 'If-None-Match', in: 'header', required: false, schema: { type: 'string' } }] : []),
  ];
  const success = op.media
    ? { description: 'Success', content: Object.fromEntries(op.media.map((media) => [media, { schema: { type: 'string' } }])) }
    : op.response
      ? { description: 'Success', content: { 'application/json': { schema: ref(op.response) } } }
      : { description: 'Success' };
  return {
    summary: op.summary,
    operationId: key.replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ? c.toUpperCase() : '')),
    ...(route.access === 'public' ? { security: [] } : { 'x-roles': route.access }),
    parameters: [...pathParams, ...query.map((q) => ({ ...q, required: requiredQuery.has(q.name) })), ...headers],
    ...(op.body ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(op.body) } } } } : {}),
    ...(op.rawBody ? { requestBody: { required: true, content: { 'application/json': { schema: {} } } }, parameters: [...pathParams, { name: 'Stripe-Signature', in: 'header', required: true, schema: { type: 'string' } }] } : {}),
    responses: {
      [op.status]: { ...success, headers: RATE_LIMIT_HEADERS },
      ...(op.etag ? { 304: { description: 'Not modified since the ETag given in If-None-Match' } } : {}),
      ...(op.slashRedirect ? { 308: { description: 'The same path with a trailing slash (`/dev` → `dev/`, relative)', headers: { Location: { schema: { type: 'string' } } } } } : {}),
      ...problemResponses(route),
    },
  };
}

export function buildOpenApi() {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routePolicy) (paths[route.path] ??= {})[route.method.toLowerCase()] = operation(route);
  return {
    openapi: '3.1.0',
    info: { title: 'Flight booking API', version: '0.1.0', description: 'The contract in shared/API.md, generated from the code (scripts/openapi.ts).' },
    components: { schemas: components, securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    security: [{ bearer: [] }],
    paths,
  };
}

export const OPENAPI_FILES = {
  yaml: path.resolve(__dirname, '..', 'docs', 'openapi.yaml'),
  json: path.resolve(__dirname, '..', 'functions', 'gateway', 'openapi.json'),
};

export function renderOpenApi(): { yaml: string; json: string } {
  const doc = buildOpenApi();
  return { yaml: `# Generated by \`npm run openapi\` from scripts/openapi.ts; do not edit.\n${stringify(doc, { aliasDuplicateObjects: false })}`, json: `${JSON.stringify(doc)}\n` };
}

if (require.main === module) {
  const rendered = renderOpenApi();
  writeFileSync(OPENAPI_FILES.yaml, rendered.yaml);
  writeFileSync(OPENAPI_FILES.json, rendered.json);
  console.log(`wrote ${OPENAPI_FILES.yaml} and ${OPENAPI_FILES.json}`);
}
