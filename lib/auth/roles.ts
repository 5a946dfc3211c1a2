/** `user` and `admin` are people; `service` is one of our services calling another, never a person. */
export type Role = 'user' | 'admin' | 'service';
export const PERSON_ROLES = ['user', 'admin'] as const;
export type PersonRole = (typeof PERSON_ROLES)[number];

export interface Caller {
  userId: string;
  role: Role;
  email: string;
}
