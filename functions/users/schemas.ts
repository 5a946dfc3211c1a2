import * as z from '../../lib/validation';
import { PERSON_ROLES } from '../../lib/auth/roles';

const email = z.string().check(z.maxLength(254), z.email('must be an email address'));
const password = z.string().check(z.minLength(8, 'must be at least 8 characters'), z.maxLength(128, 'must be at most 128 characters'));
const name = z.string().check(z.trim(), z.minLength(1, 'must not be empty'), z.maxLength(100));

export const registerBody = z.strictObject({ email, password, name });
export const loginBody = z.strictObject({ email, password: z.string().check(z.minLength(1), z.maxLength(128)) });
export const refreshBody = z.strictObject({ refreshToken: z.string().check(z.minLength(1), z.maxLength(200)) });
export const createUserBody = z.strictObject({ email, password, name, role: z.enum(PERSON_ROLES) });
export const updateUserBody = z
  .strictObject({ role: z.optional(z.enum(PERSON_ROLES)), disabled: z.optional(z.boolean()) })
  .check(z.refine((b) => b.role !== undefined || b.disabled !== undefined, 'give role or disabled'));
export const userCursor = z.object({ after: z.string().check(z.uuid()) });
