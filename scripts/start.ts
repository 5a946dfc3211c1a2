import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT, freePort, startStack } from './stack';
import { startOffline } from './offline';

/**
 * `npm start`: the backing services (given by URL, or started here with data in .data/), the first
 * admin when ADMIN_EMAIL / ADMIN_PASSWORD are set, then `sls offline` on PORT (3000). Ctrl-C stops
 * everything this started.
 */

const DATA_DIR = path.join(PROJECT_ROOT, '.data');

/** A signing key for local tokens, made once and kept in .data/ so logins survive a restart. */
function localJwtKeys(): string {
  const file = path.join(DATA_DIR, 'jwt-keys');
  if (!existsSync(file)) {
    mkdirSync(DATA_DIR, { recursive: true });
    writeFileSync(file, `local-1:${randomBytes(48).toString('base64url')}\n`, { mode: 0o600 });
  }
  return readFileSync(file, 'utf8').trim();
}

async function main() {
  const port = Number(process.env.PORT ?? 3000);
  const say = (line: string) => console.log(`[start] ${line}`);
  say('starting backing services…');
  const stack = await startStack({ dataDir: DATA_DIR, log: say });

  const apiUrl = `http://localhost:${port}`;
  const env = {
    ...process.env,
    ...stack.env,
    JWT_KEYS: process.env.JWT_KEYS || localJwtKeys(),
    PUBLIC_API_URL: process.env.PUBLIC_API_URL || apiUrl,
  };
  Object.assign(process.env, env);

  let stopping = false;
  let offline: Awaited<ReturnType<typeof startOffline>> | undefined;
  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say('stopping…');
    await offline?.stop();
    await stack.stop();
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));

  try {
    const { seedAdmin } = await import('./seed-admin');
    const { closeMongo } = await import('../lib/clients/mongo');
    const seeded = await seedAdmin(env).finally(closeMongo);
    if (seeded) say(seeded);

    say('starting sls offline (bundling the functions takes a few seconds)…');
    offline = await startOffline({ port, lambdaPort: Number(process.env.LAMBDA_PORT ?? (await freePort())), env });
    offline.child.on('exit', (code) => void shutdown(code ?? 1));
  } catch (error) {
    console.error(`[start] ${(error as Error).message}`);
    await shutdown(1);
    return;
  }

  console.log('');
  say(`API: ${apiUrl}   (try: curl ${apiUrl}/health)`);
  for (const service of stack.services) say(`${service.name.padEnd(8)} ${service.url}  ← ${service.source}`);
  say('Ctrl-C stops everything started here.');
}

void main();
