import type { Context } from 'aws-lambda';
import { kick, scheduled, triggeredFunction } from '../../lib/triggers';
import * as z from '../../lib/validation';
import { apiEvent, lambdaContext } from '../support/events';

/** Functions without a route run only for their own events (lib/triggers.ts). */
describe('triggered functions', () => {
  const work = jest.fn(async () => ({ done: true }));
  const worker = triggeredFunction(z.union([scheduled, kick('test-worker')]), work);
  const call = (event: unknown) => worker(event as never, { ...lambdaContext } as Context);
  beforeEach(() => {
    work.mockClear();
    jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
  });
  afterEach(() => jest.restoreAllMocks());

  it('runs for its schedule and for its own kick', async () => {
    expect(await call({ source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {}, time: '2026-12-07T00:00:00Z' })).toEqual({ done: true });
    expect(await call({ kick: 'test-worker' })).toEqual({ done: true });
    expect(work).toHaveBeenCalledTimes(2);
  });

  it('answers an API Gateway event with a 403 problem and does no work', async () => {
    const answer = (await call(apiEvent({ method: 'POST', path: '/admin/users', caller: { userId: 'a', role: 'admin', email: '' } }))) as { statusCode: number; body: string; headers: Record<string, string> };
    expect(answer.statusCode).toBe(403);
    expect(answer.headers['content-type']).toBe('application/problem+json');
    expect(JSON.parse(answer.body)).toMatchObject({ code: 'FORBIDDEN' });
    expect(work).not.toHaveBeenCalled();
  });

  it.each([
    ['an empty payload', {}],
    ['another function’s kick', { kick: 'other-worker' }],
    ['a kick with extra fields', { kick: 'test-worker', flightId: 'fl-0123456789abcdef' }],
    ['a forged source', { source: 'someone', 'detail-type': 'Scheduled Event' }],
    ['null', null],
    ['a string', 'run'],
  ])('refuses %s without throwing (no retry) and does no work', async (_, event) => {
    expect(await call(event)).toEqual({ refused: true });
    expect(work).not.toHaveBeenCalled();
  });
});
