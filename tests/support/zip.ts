import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../scripts/stack';

/**
 * A zip of the given files (relative path → content), e.g. a Lambda function's code. Made by the
 * LocalStack virtualenv's Python: the project has no zip library of its own.
 */
export function zipOf(files: Record<string, string>): Uint8Array {
  const dir = mkdtempSync(path.join(tmpdir(), 'zip-'));
  const code = path.join(dir, 'code');
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(code, name)), { recursive: true });
    writeFileSync(path.join(code, name), content);
  }
  const zip = path.join(dir, 'code.zip');
  const tops = [...new Set(Object.keys(files).map((name) => name.split('/')[0]!))];
  const made = spawnSync(path.join(PROJECT_ROOT, '.tools', 'localstack-venv', 'bin', 'python'), ['-m', 'zipfile', '-c', zip, ...tops], { cwd: code });
  if (made.status !== 0) throw new Error(`zip failed: ${made.stderr}`);
  return new Uint8Array(readFileSync(zip));
}
