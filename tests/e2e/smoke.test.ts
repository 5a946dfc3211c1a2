import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { apiUrl } from '../support/http';

describe('the smoke client', () => {
  it('walks the whole journey against sls offline, the operations too, and exits 0', () => {
    const tsx = path.resolve(__dirname, '..', '..', 'node_modules', 'tsx', 'dist', 'cli.mjs');
    const run = spawnSync(process.execPath, [tsx, path.resolve(__dirname, '..', '..', 'scripts', 'smoke.ts'), apiUrl(), '--operations'], { encoding: 'utf8', env: process.env, timeout: 120_000 });
    expect(run.stdout).toContain('smoke test passed');
    expect(run.stdout).toContain('a seat-map migration runs through the worker');
    expect(run.stdout).toContain('the payments audit is ok');
    expect(run.stdout).toContain('admin: cancel the flight');
    expect(run.status).toBe(0);
  });

  it('exits non-zero on the first surprise', () => {
    const tsx = path.resolve(__dirname, '..', '..', 'node_modules', 'tsx', 'dist', 'cli.mjs');
    const run = spawnSync(process.execPath, [tsx, path.resolve(__dirname, '..', '..', 'scripts', 'smoke.ts'), apiUrl()], {
      encoding: 'utf8',
      env: { ...process.env, ADMIN_PASSWORD: 'not the password' },
      timeout: 120_000,
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/FAILED: POST \/auth\/login: expected 200, got 401/);
  });
});
