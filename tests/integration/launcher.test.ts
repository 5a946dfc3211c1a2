import { execSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startStack } from '../../scripts/stack';

/** The servers this process has started (the `ps` that lists them aside). */
const childrenOf = (pid: number) =>
  execSync(`ps -o pid=,comm= --ppid ${pid} || true`).toString().split('\n').filter((line) => line.trim() && !/\b(ps|sh)$/.test(line.trim()));

describe('the launcher', () => {
  it('uses the URLs it is given instead of starting servers', async () => {
    const given = { MONGODB_URI: process.env.MONGODB_URI, REDIS_URL: process.env.REDIS_URL, DYNAMODB_ENDPOINT: process.env.DYNAMODB_ENDPOINT };
    const before = childrenOf(process.pid);
    const stack = await startStack({ dataDir: mkdtempSync(path.join(tmpdir(), 'launcher-')), env: { ...given, AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' }, stage: 'test' });
    try {
      expect(stack.services.map((s) => [s.name, s.url, s.source])).toEqual([
        ['mongo', given.MONGODB_URI, 'given'],
        ['redis', given.REDIS_URL, 'given'],
        ['dynamodb', given.DYNAMODB_ENDPOINT, 'given'],
      ]);
      expect(childrenOf(process.pid)).toEqual(before);
    } finally {
      await stack.stop();
    }
  });

  it('starts its own servers when none is given, and stops every one of them', async () => {
    const stack = await startStack({ dataDir: mkdtempSync(path.join(tmpdir(), 'launcher-')), env: {}, stage: 'test' });
    const pids = stack.services.map((s) => Number(/pid (\d+)/.exec(s.source)?.[1]));
    expect(pids.every((pid) => pid > 0)).toBe(true);
    await stack.stop();
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
  });
});
