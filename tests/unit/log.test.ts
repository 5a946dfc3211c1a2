import { createLogger } from '../../lib/log';

describe('logger', () => {
  afterEach(() => jest.restoreAllMocks());

  it('writes one JSON line and redacts secret-looking fields at any depth', () => {
    const write = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    createLogger({ requestId: 'r1' }).info('login', { body: { email: 'a@b.c', password: 'hunter22' }, authorization: 'Bearer x' });
    const line = JSON.parse(String(write.mock.calls[0]?.[0]));
    expect(line).toMatchObject({ level: 'info', msg: 'login', requestId: 'r1', body: { email: 'a@b.c', password: '[redacted]' }, authorization: '[redacted]' });
  });
});
