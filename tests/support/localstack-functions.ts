import { spawnSync } from 'node:child_process';
import { CreateFunctionCommand, waitUntilFunctionActiveV2, type LambdaClient } from '@aws-sdk/client-lambda';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../scripts/stack';

/**
 * Test functions on the running LocalStack, for the plugins' own checks: each export of one
 * CommonJS source (`fns/index.js`) becomes a nodejs22.x function named `<prefix>-<export>`, active
 * when this returns. Answers each function's ARN by export name.
 */
export async function createTestFunctions<Name extends string>(lambda: LambdaClient, prefix: string, source: string, names: readonly Name[], timeoutSeconds: number): Promise<Record<Name, string>> {
  const zip = zipOf({ 'fns/index.js': source });
  const arns = {} as Record<Name, string>;
  for (const name of names) {
    const created = await lambda.send(
      new CreateFunctionCommand({
        FunctionName: `${prefix}-${name}`,
        Runtime: 'nodejs22.x',
        Role: `arn:aws:iam::000000000000:role/${prefix}-test`,
        Handler: `fns/index.${name}`,
        Code: { ZipFile: zip },
        Timeout: timeoutSeconds,
      }),
    );
    arns[name] = created.FunctionArn!;
  }
  for (const name of names) await waitUntilFunctionActiveV2({ client: lambda, maxWaitTime: 30 }, { FunctionName: `${prefix}-${name}` });
  return arns;
}

/**
 * A zip of the given files (relative path → content), e.g. a Lambda function's code. Made by the
 * LocalStack virtualenv's Python: the project has no zip library of its own.
 */
function zipOf(files: Record<string, string>): Uint8Array {
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
