import { log, logAs } from '../../lib/log';

describe('logger', () => {
  const level = process.env.LOG_LEVEL;
  afterEach(() => {
    jest.restoreAllMocks();
    process.env.LOG_LEVEL = level;
  });

  it('writes one JSON line with the service and redacts secret-looking fields at any depth', () => {
    const write = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    // The unit tests log errors only (tests/support/quiet-output.ts); this line is info.
    process.env.LOG_LEVEL = 'info';
    logAs('users');
    log.info('login', { body: { email: 'a@b.c', password: 'hunter22', refreshToken: 'rt_x' }, authorization: 'Bearer x', tokens: ['a'] });
    const line = JSON.parse(String(write.mock.calls.at(-1)?.[0]));
    expect(line).toMatchObject({ level: 'INFO', message: 'login', service: 'users', body: { email: 'a@b.c', password: '[redacted]', refreshToken: '[redacted]' }, authorization: '[redacted]', tokens: '[redacted]' });
    expect(JSON.stringify(line)).not.toMatch(/hunter22|rt_x|Bearer/);
  });
});
