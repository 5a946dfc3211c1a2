import * as z from '../../lib/validation';
import { decodeCursor, encodeCursor, pageQuery } from '../../lib/http/pagination';

const shape = z.object({ after: z.string() });

describe('pagination', () => {
  it('round-trips a signed cursor', () => {
    expect(decodeCursor(encodeCursor({ after: 'abc' }), shape)).toEqual({ after: 'abc' });
  });

  it.each([
    ['garbage', 'not-a-cursor'],
    ['an edited payload', () => encodeCursor({ after: 'abc' }).replace(/^[^.]+/, Buffer.from('{"after":"zzz"}').toString('base64url'))],
    ['a signed cursor of another shape', () => encodeCursor({ other: 1 })],
  ])('refuses %s with INVALID_CURSOR', (_, cursor) => {
    const value = typeof cursor === 'function' ? cursor() : cursor;
    expect(() => decodeCursor(value, shape)).toThrow(expect.objectContaining({ code: 'INVALID_CURSOR' }));
  });

  it('limits page sizes to 1..100, default 20', () => {
    expect(pageQuery.parse({})).toEqual({ limit: 20 });
    expect(pageQuery.safeParse({ limit: '0' }).success).toBe(false);
    expect(pageQuery.safeParse({ limit: '1000' }).success).toBe(false);
    expect(pageQuery.parse({ limit: '100' }).limit).toBe(100);
  });
});
