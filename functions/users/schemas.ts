import { z } from 'zod';
import { PERSON_ROLES } from '../../lib/auth/roles';

const email = z.string().max(254).email('must be an email address');
const password = z.string().min(8, 'must be at least 8 characters').max(128, 'must be at most 128 characters');
const name = z.string().trim().min(1, 'must not be empty').max(100);

export const registerBody = z.object({ email, password, name }).strict();
export const loginBody = z.object({ email, password: z.string().min(1).max(128) }).strict();
export const refreshBody = z.object({ refreshToken: z.string().min(1).max(200) }).strict();
export const createUserBody = z.object({ email, password, name, role: z.enum(PERSON_ROLES) }).strict();
export const updateUserBody = z
  .object({ role: z.enum(PERSON_ROLES).optional(), disabled: z.boolean().optional() })
  .strict()
  .refine((b) => b.role !== undefined || b.disabled !== undefined, 'give role or disabled');
export const userIdParams = z.object({ userId: z.string().uuid('must be a user id') });
export const userCursor = z.object({ after: z.string().uuid() });
