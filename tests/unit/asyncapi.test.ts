import * as z from '../../lib/validation';
import { FLIGHT_ID } from '../../lib/ids';
import { seatId } from '../../functions/seats/model';
import { asyncApiDocument as doc, asyncApiViolation, messageNames, resolveRef } from '../support/asyncapi-validator';

/** docs/asyncapi.yaml: an AsyncAPI 3.0 document whose examples fit it and whose schemas refuse what API.md does not allow. */

const flightId = 'fl-0123456789abcdef';
const snapshot = { type: 'snapshot', flightId, version: 3, seatMapVersion: 1, seats: [{ id: '1A', status: 'available' }] };
const seats = { type: 'seats', flightId, fromVersion: 4, version: 5, changes: [{ seat: '1A', status: 'held', expiresAt: '2026-12-01T10:00:00.000Z' }] };

describe('docs/asyncapi.yaml', () => {
  it('is an AsyncAPI 3.0 document: one channel, operations on it, every message in components', () => {
    expect(doc.asyncapi).toBe('3.0.0');
    const channels = Object.keys(doc.channels);
    expect(channels).toHaveLength(1);
    for (const [name, operation] of Object.entries(doc.operations)) {
      expect({ name, action: operation.action, channel: operation.channel.$ref }).toEqual({ name, action: expect.stringMatching(/^(send|receive)$/), channel: `#/channels/${channels[0]}` });
      for (const ref of [...operation.messages, ...(operation.reply?.messages ?? [])]) {
        expect(ref.$ref).toMatch(new RegExp(`^#/channels/${channels[0]}/messages/`));
        expect(resolveRef(ref)).toBeDefined();
      }
    }
    const inChannel = Object.values(doc.channels[channels[0]!]!.messages).map((ref) => ref.$ref);
    expect(inChannel.sort()).toEqual(Object.keys(doc.components.messages).map((name) => `#/components/messages/${name}`).sort());
  });

  it('has clients send subscribe and unsubscribe, and the API send the rest', () => {
    expect(messageNames('send').sort()).toEqual(['subscribe', 'unsubscribe']);
    expect(messageNames('receive').sort()).toEqual(['error', 'flight', 'seatmap', 'seats', 'snapshot', 'unsubscribed']);
  });

  it('uses the id formats of the code', () => {
    expect(doc.components.schemas.FlightId!.pattern).toBe(FLIGHT_ID.source);
    expect(doc.components.schemas.SeatId!.pattern).toBe((z.toJSONSchema(seatId) as { pattern: string }).pattern);
  });

  it('has an example of every message', () => {
    const without = Object.entries(doc.components.messages).filter(([, message]) => !message.examples?.length);
    expect(without.map(([name]) => name)).toEqual([]);
  });

  const examples = Object.entries(doc.components.messages).flatMap(([name, message]) => (message.examples ?? []).map((example) => [name, example.name, example.payload] as const));
  it.each(examples)('example %s/%s fits its schema', (name, _example, payload) => {
    expect(asyncApiViolation(messageNames('send').includes(name) ? 'send' : 'receive', payload)).toBeUndefined();
  });

  it.each([
    ['an unknown type', 'receive', { type: 'seat', flightId }, 'no message the API sends has type "seat"'],
    ['an unknown action', 'send', { action: 'dance' }, 'no message a client sends has action "dance"'],
    ['a message of the other direction', 'send', snapshot, 'no message a client sends has action undefined'],
    ['not an object', 'receive', ['snapshot'], 'JSON objects only'],
    ['an extra field', 'receive', { ...snapshot, holder: 'someone' }, 'must NOT have additional properties'],
    ['an extra field in a seat', 'receive', { ...snapshot, seats: [{ id: '1A', status: 'booked', userId: 'u' }] }, 'data/seats/0 must NOT have additional properties'],
    ['a bad status', 'receive', { ...seats, changes: [{ seat: '1A', status: 'reserved' }] }, 'data/changes/0/status must be equal to one of the allowed values'],
    ['a missing version', 'receive', { type: 'seats', flightId, fromVersion: 4, changes: [] }, "must have required property 'version'"],
    ['a missing fromVersion', 'receive', { type: 'seats', flightId, version: 5, changes: [] }, "must have required property 'fromVersion'"],
    ['a version that is no integer', 'receive', { ...snapshot, version: 3.5 }, 'data/version must be integer'],
    ['an expiry on a seat that is not held', 'receive', { ...snapshot, seats: [{ id: '1A', status: 'booked', expiresAt: '2026-12-01T10:00:00.000Z' }] }, 'data/seats/0 must match "else" schema'],
    ['an expiry that is no date-time', 'receive', { ...seats, changes: [{ seat: '1A', status: 'held', expiresAt: 'tomorrow' }] }, 'data/changes/0/expiresAt must match format "date-time"'],
    ['a bad seat id', 'receive', { ...seats, changes: [{ seat: '0A', status: 'held' }] }, 'data/changes/0/seat must match pattern'],
    ['a bad flight id', 'send', { action: 'subscribe', flightId: 'nope' }, 'data/flightId must match pattern'],
    ['a negative sinceVersion', 'send', { action: 'subscribe', flightId, sinceVersion: -1 }, 'data/sinceVersion must be >= 0'],
    ['an unknown error code', 'receive', { type: 'error', code: 'TEAPOT', detail: 'no' }, 'data/code must be equal to one of the allowed values'],
    ['an error without detail', 'receive', { type: 'error', code: 'INVALID_JSON' }, "must have required property 'detail'"],
    ['a flight status other than cancelled', 'receive', { type: 'flight', flightId, status: 'scheduled' }, 'data/status must be equal to constant'],
  ] as const)('refuses %s', (_case, direction, message, reason) => {
    expect(asyncApiViolation(direction, message)).toContain(reason);
  });

  it('accepts the messages API.md describes', () => {
    expect(asyncApiViolation('receive', snapshot)).toBeUndefined();
    expect(asyncApiViolation('receive', seats)).toBeUndefined();
    expect(asyncApiViolation('receive', { ...snapshot, seats: [{ id: '12K', status: 'held', expiresAt: '2026-12-01T10:00:00Z' }] })).toBeUndefined();
    expect(asyncApiViolation('send', { action: 'subscribe', flightId, sinceVersion: 0 })).toBeUndefined();
    expect(asyncApiViolation('receive', { type: 'error', code: 'MESSAGE_TOO_LARGE', detail: 'at most 4 KB' })).toBeUndefined();
  });
});
