import path from 'node:path';
import { freePort, inProcessService, ServerProcess, serverService, type Started } from './process';

/**
 * The local email service: aws-ses-v2-local, which answers SES's SendEmail (API v1 and v2) as SES does,
 * keeps what was sent in memory, lists it at `GET /store` and shows it in a web inbox at `/`. So the
 * notifications sender's SES client runs unchanged against it. On loopback only (it listens on every
 * interface unless told otherwise).
 */
export async function startSesLocal(dataDir: string, signal?: AbortSignal, inProcess = false): Promise<Started> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  if (inProcess) {
    const { default: startServer } = (await import('aws-ses-v2-local')) as unknown as { default: (config: { host: string; port: number }) => Promise<import('node:http').Server> };
    const server = await startServer({ host: '127.0.0.1', port });
    return inProcessService('email', url, 'aws-ses-v2-local', () => new Promise<void>((resolve) => server.close(() => resolve())));
  }
  const server = new ServerProcess(
    'aws-ses-v2-local',
    process.execPath,
    [require.resolve('aws-ses-v2-local/dist/cli.js'), '--host', '127.0.0.1', '--port', String(port)],
    path.join(dataDir, 'ses-local.log'),
    () => pingSes(url),
  );
  await server.start(signal);
  return serverService('email', url, port, server, (pid) => `aws-ses-v2-local (pid ${pid})`);
}

export async function pingSes(url: string): Promise<void> {
  const response = await fetch(`${url}/health-check`, { signal: AbortSignal.timeout(2_000) });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
}
