import { mongoDb } from '../../lib/clients/mongo';
import { requireCaller, serviceHandler } from '../../lib/http/stack';
import { decodeCursor, encodeCursor, pageQuery } from '../../lib/http/pagination';
import { assertTokenConfig } from '../../lib/auth/keys';
import { pathParams } from '../../lib/http/path-params';
import { accountNotifier } from './notifier';
import { MongoUserStore } from './store';
import { UserService, toPublicUser } from './service';
import { changePasswordBody, createUserBody, forgotPasswordBody, loginBody, refreshBody, registerBody, resetPasswordBody, updateUserBody, userCursor } from './schemas';

assertTokenConfig();
const users = new UserService(new MongoUserStore(mongoDb), undefined, { notifier: accountNotifier });
const httpHandler = serviceHandler('users');

export const register = httpHandler({ route: 'POST /auth/register', body: registerBody }, async ({ body }) => ({
  status: 201,
  body: await users.register(body),
}));

export const login = httpHandler({ route: 'POST /auth/login', body: loginBody }, async ({ body }) => ({ status: 200, body: await users.login(body) }));

export const refresh = httpHandler({ route: 'POST /auth/refresh', body: refreshBody }, async ({ body }) => ({
  status: 200,
  body: await users.refresh(body.refreshToken),
}));

export const logout = httpHandler({ route: 'POST /auth/logout', body: refreshBody }, async (request) => {
  await users.logout(requireCaller(request).userId, request.body.refreshToken);
  return { status: 204 };
});

export const changePassword = httpHandler({ route: 'POST /auth/password/change', body: changePasswordBody }, async (request) => {
  await users.changePassword(requireCaller(request), request.body);
  return { status: 204 };
});

/** The same answer for every address (API.md): whether an email went out is nobody's business here. */
const FORGOT_ANSWER = { message: 'If an account exists for that address, we have sent it a link to reset the password.' };

export const forgotPassword = httpHandler({ route: 'POST /auth/password/forgot', body: forgotPasswordBody }, async ({ body }) => {
  await users.forgotPassword(body.email);
  return { status: 202, body: FORGOT_ANSWER };
});

export const resetPassword = httpHandler({ route: 'POST /auth/password/reset', body: resetPasswordBody }, async ({ body }) => {
  await users.resetPassword(body);
  return { status: 204 };
});

export const me = httpHandler({ route: 'GET /users/me' }, async (request) => ({ status: 200, body: await users.me(requireCaller(request).userId) }));

export const createUser = httpHandler({ route: 'POST /admin/users', body: createUserBody }, async ({ body }) => ({
  status: 201,
  body: toPublicUser(await users.createUser(body)),
}));

export const listUsers = httpHandler({ route: 'GET /admin/users', query: pageQuery }, async ({ query }) => {
  const page = await users.list(query.limit, decodeCursor(query.cursor, userCursor)?.after);
  return { status: 200, body: { items: page.items, nextCursor: page.lastId ? encodeCursor({ after: page.lastId }) : null } };
});

export const updateUser = httpHandler({ route: 'PATCH /admin/users/{userId}', params: pathParams('userId'), body: updateUserBody }, async (request) => ({
  status: 200,
  body: await users.update(requireCaller(request).userId, request.params.userId, request.body),
}));

