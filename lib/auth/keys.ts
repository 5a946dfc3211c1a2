import { config, ConfigError } from '../config';
import { secretPending } from '../secrets';

/**
 * The signing keys (JWT_KEYS: `kid:secret` pairs, the first signs, all verify), parsed and checked
 * without loading a JWT library, so a function that only needs the keys checked at cold start (the
 * seats functions sign list cursors with them) does not carry one.
 */
export const MIN_SECRET_LENGTH = 32;

interface KeyRing {
  /** The JWT_KEYS value it was parsed from: a rotated value (lib/secrets.ts) makes a new ring. */
  spec: string;
  signingKid: string;
  secrets: Map<string, string>;
}

export function parseKeyRing(spec: string): KeyRing {
  const secrets = new Map<string, string>();
  for (const entry of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const colon = entry.indexOf(':');
    const kid = colon > 0 ? entry.slice(0, colon) : '';
    const secret = colon > 0 ? entry.slice(colon + 1) : '';
    if (!/^[\w.-]{1,64}$/.test(kid)) throw new ConfigError(['JWT_KEYS entries must be kid:secret with a kid of letters, digits, . _ -']);
    if (secret.length < MIN_SECRET_LENGTH) throw new ConfigError([`JWT_KEYS secret for kid ${kid} must be at least ${MIN_SECRET_LENGTH} characters`]);
    secrets.set(kid, secret);
  }
  const signingKid = secrets.keys().next().value;
  if (!signingKid) throw new ConfigError(['JWT_KEYS is missing']);
  return { spec, signingKid, secrets };
}

let keyRing: KeyRing | undefined;
export function keys(): KeyRing {
  const spec = config('jwtKeys').JWT_KEYS;
  if (keyRing?.spec !== spec) keyRing = parseKeyRing(spec);
  return keyRing;
}

/**
 * Checked at cold start by every function that signs or verifies, so a short secret fails loudly; on a
 * deployed stage the keys arrive with the first invocation (lib/secrets.ts) and are checked then.
 */
export function assertTokenConfig(): void {
  if (!secretPending('JWT_KEYS')) keys();
}

/** Tests change the keys between cases. */
export function resetKeyRing(): void {
  keyRing = undefined;
}
