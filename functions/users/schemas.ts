import * as z from '../../lib/validation';
import { PERSON_ROLES } from '../../lib/auth/roles';

/**
 * One email rule for the code and the document: zod's own email pattern, published as the pattern
 * (not as `format: email`, which validators read in different ways, so clients and fuzzers would
 * disagree with the API about edge cases).
 */
const EMAIL = /^(?:[A-Za-z0-9_'+\-]+\.)*[A-Za-z0-9_'+\-]*[A-Za-z0-9_+-]@(?:[A-Za-z0-9][A-Za-z0-9\-]*\.)+[A-Za-z]{2,}$/;
const email = z.string().check(z.maxLength(254), z.regex(EMAIL, 'must be an email address'));
const password = z.string().check(z.minLength(8, 'must be at least 8 characters'), z.maxLength(128, 'must be at most 128 characters'));
/** Up to 100 characters with at least one that is not blank; the service stores it trimmed. */
const name = z.string().check(z.maxLength(100), z.regex(/[^ \t\n\r\f\v]/, 'must not be blank'));

/** A password someone already has: whatever it is, it was 128 characters at most. */
const currentPassword = z.string().check(z.minLength(1), z.maxLength(128));

export const registerBody = z.strictObject({ email, password, name });
export const loginBody = z.strictObject({ email, password: currentPassword });
export const changePasswordBody = z.strictObject({ currentPassword, newPassword: password });
export const forgotPasswordBody = z.strictObject({ email });
/** Any token is checked by its hash: a malformed one is as unknown as a spent one (400 INVALID_TOKEN, not a field error). */
export const resetPasswordBody = z.strictObject({ token: z.string().check(z.minLength(1), z.maxLength(256)), newPassword: password });
export const refreshBody = z.strictObject({ refreshToken: z.string().check(z.minLength(1), z.maxLength(200)) });
export const createUserBody = z.strictObject({ email, password, name, role: z.enum(PERSON_ROLES) });
export const updateUserBody = z.documentedAs(
  z
    .strictObject({ role: z.optional(z.enum(PERSON_ROLES)), disabled: z.optional(z.boolean()) })
    .check(z.refine((b) => b.role !== undefined || b.disabled !== undefined, 'give role or disabled')),
  { minProperties: 1 },
);
export const userCursor = z.object({ after: z.string().check(z.uuid()) });
