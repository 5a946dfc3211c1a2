import * as z from '../../lib/validation';
import { AppError } from '../../lib/http/errors';
import { httpHandler } from '../../lib/http/stack';
import { apiEvent, invoke } from '../support/events';

const echo = httpHandler(
  { body: z.strictObject({ name: z.string().check(z.minLength(1)), seats: z.array(z.string()).check(z.maxLength(2)) }), maxBodyBytes: 1024 },
  async ({ body, caller }) => ({ status: 201, body: { ...body, caller: caller?.userId ?? null } }),
);

describe('the shared HTTP stack', () => {
  let stderr: jest.SpyInstance;
  beforeEach(() => {
    stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
  });
  afterEach(() => jest.restoreAllMocks());

  it('parses JSON, validates it and passes the authorizer context', async () => {
    const res = await invoke(echo, apiEvent({ method: 'POST', body: { name: 'x', seats: ['1A'] }, caller: { userId: 'u1', role: 'user', email: 'a@b.c' } }));
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ name: 'x', seats: ['1A'], caller: 'u1' });
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.headers['access-control-allow-origin']).toBe('*');
  });

  it('answers field errors for missing, extra and wrong-typed fields', async () => {
    const res = await invoke(echo, apiEvent({ method: 'POST', body: { seats: 'no', extra: 1 } }));
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(res.body.code).toBe('VALIDATION_FAILED');
    expect(res.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['extra', 'name', 'seats']);
  });

  it('answers INVALID_JSON for a body that is not JSON', async () => {
    const res = await invoke(echo, apiEvent({ method: 'POST', rawBody: '{"name":' }));
    expect(res).toMatchObject({ status: 400, body: { code: 'INVALID_JSON', status: 400 } });
  });

  it('answers 413 for a body over the limit, before parsing it', async () => {
    const res = await invoke(echo, apiEvent({ method: 'POST', rawBody: JSON.stringify({ name: 'x'.repeat(2000) }) }));
    expect(res).toMatchObject({ status: 413, body: { code: 'PAYLOAD_TOO_LARGE' } });
  });

  it('answers 415 for a body that is declared as something else', async () => {
    const res = await invoke(echo, apiEvent({ method: 'POST', rawBody: 'name=x', headers: { 'content-type': 'text/plain' } }));
    expect(res).toMatchObject({ status: 415, body: { code: 'UNSUPPORTED_MEDIA_TYPE' } });
  });

  it('renders an AppError with its status, code and extra members', async () => {
    const handler = httpHandler({}, async () => {
      throw new AppError('SEAT_UNAVAILABLE', 'taken', { unavailable: ['1A'] });
    });
    const res = await invoke(handler, apiEvent({}));
    expect(res).toMatchObject({ status: 409, body: { code: 'SEAT_UNAVAILABLE', detail: 'taken', unavailable: ['1A'], title: expect.any(String), type: expect.any(String) } });
  });

  it('turns a thrown error into a 500 problem without the message or stack, and logs it', async () => {
    const handler = httpHandler({}, async () => {
      throw new Error('connection to mongodb://secret@db failed');
    });
    const res = await invoke(handler, apiEvent({}));
    expect(res.status).toBe(500);
    expect(res.body.code).toBe('INTERNAL');
    const text = JSON.stringify(res.body);
    expect(text).not.toMatch(/mongodb|secret|stack|at .*\.ts/);
    expect(stderr).toHaveBeenCalledWith(expect.stringContaining('unhandled error'));
  });
});
