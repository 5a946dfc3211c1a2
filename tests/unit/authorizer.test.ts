import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { MongoNetworkError, MongoNetworkTimeoutError } from 'mongodb';
import { signAccessToken } from '../../lib/auth/tokens';
import { log } from '../../lib/log';
import { authorize, clearAuthorizerCache } from '../../functions/gateway/authorizer';

/** The account store the authorizer reads, as a fake whose answer each test sets. */
const mockFindUserById = jest.fn();
jest.mock('../../lib/clients/mongo', () => ({ mongoDb: () => ({}) }));
jest.mock('../../functions/users/store', () => ({
  MongoUserStore: class {
    findUserById(id: string) {
      return mockFindUserById(id);
    }
  },
}));

const USER_ID = '0f0e0d0c-0000-4000-8000-000000000001';
const activeUser = { id: USER_ID, role: 'user', disabled: false };
const storeDown = () => new MongoNetworkError('connect ECONNREFUSED 127.0.0.1:27017');

function requestWith(token: string): APIGatewayRequestAuthorizerEvent {
  return {
    type: 'REQUEST',
    methodArn: 'arn:aws:execute-api:us-east-1:123456789012:api/dev/GET/users/me',
    path: '/users/me',
    headers: { Authorization: `Bearer ${token}` },
  } as unknown as APIGatewayRequestAuthorizerEvent;
}

const allowed = (answer: Awaited<ReturnType<typeof authorize>>) => answer.policyDocument.Statement.every((s) => s.Effect === 'Allow');

describe('the authorizer when the account store fails', () => {
  let loggedErrors: jest.SpyInstance;
  beforeEach(() => {
    clearAuthorizerCache();
    mockFindUserById.mockReset();
    loggedErrors = jest.spyOn(log, 'error').mockImplementation(() => undefined);
  });
  afterEach(() => loggedErrors.mockRestore());

  it.each([
    ['refused', storeDown],
    ['too slow', () => new MongoNetworkTimeoutError('connection timed out')],
  ])('fails, neither refusing nor allowing the token, when MongoDB is %s', async (_, failure) => {
    mockFindUserById.mockRejectedValue(failure());
    const { token } = signAccessToken({ sub: USER_ID, role: 'user' });
    const thrown = await authorize(requestWith(token)).catch((error: Error) => error);
    expect(thrown).toBeInstanceOf(Error);
    // "Unauthorized" is the one message API Gateway answers with 401; any other is an authorizer failure (503 here).
    expect((thrown as Error).message).not.toBe('Unauthorized');
    expect((thrown as Error).message).not.toMatch(/ECONNREFUSED|timed out/);
  });

  it('logs the failure with the user, not the token', async () => {
    mockFindUserById.mockRejectedValue(storeDown());
    const { token } = signAccessToken({ sub: USER_ID, role: 'user' });
    await expect(authorize(requestWith(token))).rejects.toThrow();
    expect(loggedErrors).toHaveBeenCalledWith(expect.any(String), expect.objectContaining({ userId: USER_ID, error: expect.any(MongoNetworkError) }));
    expect(JSON.stringify(loggedErrors.mock.calls)).not.toContain(token);
  });

  it('allows the same token once the store answers again (a failure is not cached)', async () => {
    const { token } = signAccessToken({ sub: USER_ID, role: 'user' });
    mockFindUserById.mockRejectedValueOnce(storeDown()).mockResolvedValue(activeUser);
    await expect(authorize(requestWith(token))).rejects.toThrow();
    expect(allowed(await authorize(requestWith(token)))).toBe(true);
  });

  it('keeps allowing a token it allowed before the outage, from its per-container cache', async () => {
    const { token } = signAccessToken({ sub: USER_ID, role: 'user' });
    mockFindUserById.mockResolvedValueOnce(activeUser).mockRejectedValue(storeDown());
    expect(allowed(await authorize(requestWith(token)))).toBe(true);
    expect(allowed(await authorize(requestWith(token)))).toBe(true);
    expect(mockFindUserById).toHaveBeenCalledTimes(1);
  });

  it('still refuses a disabled account and a bad token with Unauthorized (401)', async () => {
    mockFindUserById.mockResolvedValue({ ...activeUser, disabled: true });
    const { token } = signAccessToken({ sub: USER_ID, role: 'user' });
    await expect(authorize(requestWith(token))).rejects.toThrow(/^Unauthorized$/);
    await expect(authorize(requestWith(`${token}x`))).rejects.toThrow(/^Unauthorized$/);
  });

  it("hands the token's session to the handlers in the context, from the cache too", async () => {
    mockFindUserById.mockResolvedValue(activeUser);
    const { token } = signAccessToken({ sub: USER_ID, role: 'user', email: 'a@b.c', sid: 'family-1' });
    for (let i = 0; i < 2; i += 1) {
      expect((await authorize(requestWith(token))).context).toEqual({ userId: USER_ID, role: 'user', email: 'a@b.c', sessionId: 'family-1' });
    }
    expect(mockFindUserById).toHaveBeenCalledTimes(1);
    const withoutSession = signAccessToken({ sub: USER_ID, role: 'user' }).token;
    expect((await authorize(requestWith(withoutSession))).context).not.toHaveProperty('sessionId');
  });

  it('allows a service token without the account store', async () => {
    mockFindUserById.mockRejectedValue(storeDown());
    const { token } = signAccessToken({ sub: 'service:flights', role: 'service' });
    expect(allowed(await authorize({ ...requestWith(token), methodArn: 'arn:aws:execute-api:us-east-1:1:api/dev/GET/registry/services' }))).toBe(true);
    expect(mockFindUserById).not.toHaveBeenCalled();
  });
});
