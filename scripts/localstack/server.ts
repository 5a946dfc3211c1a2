import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PROJECT_ROOT } from '../stack';
import { stopProcessGroup } from './processes';

/**
 * LocalStack's open-source core on this host (no Docker): localstack-core from .tools/localstack-venv
 * (installed by scripts/bootstrap.sh) with this repository's plugins (localstack/README.md), on a
 * loopback port, in a process group of its own that also holds the functions' Node processes.
 */

const VENV_PYTHON = path.join(PROJECT_ROOT, '.tools', 'localstack-venv', 'bin', 'python');
const SERVICES = 'cloudformation,s3,lambda,apigateway,apigatewayv2,dynamodb,iam,sts,logs,events,sns,sqs,cloudwatch,ssm,kms,ses';
const START_TIMEOUT_MS = 60_000;

export interface LocalstackServer {
  child: ChildProcess;
  endpoint: string;
  stop(): Promise<void>;
}

function environment(workDir: string, port: number): NodeJS.ProcessEnv {
  return {
    PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? ''}`,
    HOME: process.env.HOME ?? workDir,
    TMPDIR: path.join(workDir, 'tmp'),
    GATEWAY_LISTEN: `127.0.0.1:${port}`,
    LOCALSTACK_HOST: `127.0.0.1:${port}`,
    DNS_ADDRESS: '0', // no DNS server (it would listen on port 53 of every interface)
    SKIP_SSL_CERT_DOWNLOAD: '1',
    DISABLE_EVENTS: '1',
    SERVICES,
    EAGER_SERVICE_LOADING: '0',
    LOCALSTACK_VOLUME_DIR: path.join(workDir, 'volume'),
    PROVIDER_OVERRIDE_DYNAMODB: 'moto',
    LAMBDA_RUNTIME_EXECUTOR: 'local-node',
    LOCAL_NODE_BINARY: process.execPath,
    LOCAL_NODE_LOG_DIR: path.join(workDir, 'lambda'),
    LOCAL_NODE_COMPILE_CACHE: path.join(PROJECT_ROOT, '.tools', 'cache', 'node-compile'),
    // keep an environment per function warm while the stack is up, as a deploy check and a person trying it want
    LAMBDA_KEEPALIVE_MS: '3600000',
    // CloudFormation polls each resource with a 1 s sleep between attempts; the first ones without
    CFN_NO_WAIT_ITERATIONS: '20',
    // the dashboard, ...: Pro-only types, skipped with a warning (said explicitly); the WebSocket API's
    // types have providers in localstack/plugin (apigatewayv2_resources.py)
    CFN_IGNORE_UNSUPPORTED_RESOURCE_TYPES: '1',
  };
}

/** LocalStack on 127.0.0.1:<port>, once it answers with the services this stack needs available. */
export async function startLocalstack(workDir: string, port: number, signal?: AbortSignal): Promise<LocalstackServer> {
  if (!existsSync(VENV_PYTHON)) throw new Error('LocalStack is not installed in .tools/localstack-venv: run through `npm run localstack` (scripts/bootstrap.sh installs it)');
  const logPath = path.join(workDir, 'localstack.log');
  mkdirSync(path.join(workDir, 'tmp'), { recursive: true });
  const logFile = openSync(logPath, 'a');
  const child = spawn(VENV_PYTHON, ['-m', 'localstack.runtime.main'], { cwd: workDir, detached: true, stdio: ['ignore', logFile, logFile], env: environment(workDir, port) });
  const endpoint = `http://127.0.0.1:${port}`;
  const server: LocalstackServer = { child, endpoint, stop: () => stopLocalstack(child) };
  const deadline = Date.now() + START_TIMEOUT_MS;
  try {
    while (Date.now() < deadline) {
      signal?.throwIfAborted();
      if (child.exitCode !== null) throw new Error(`LocalStack exited with ${child.exitCode}; see ${logPath}`);
      try {
        const health = (await (await fetch(`${endpoint}/_localstack/health`, { signal: AbortSignal.timeout(2_000) })).json()) as { services: Record<string, string> };
        if (['cloudformation', 'lambda', 'apigateway', 'dynamodb'].every((s) => ['available', 'running'].includes(health.services[s] ?? ''))) return server;
      } catch {
        // not listening yet
      }
      await sleep(250);
    }
    throw new Error(`LocalStack did not start within ${START_TIMEOUT_MS / 1000} s; see ${logPath}`);
  } catch (error) {
    // SIGKILL: a LocalStack that failed to start (a port taken) was seen to hang in its own shutdown
    // after SIGTERM and outlive the run.
    stopProcessGroup(child, 'SIGKILL');
    throw error;
  }
}

/** SIGTERM to LocalStack's process group; its shutdown can hang on its thread pools, so SIGKILL after 5 s. */
async function stopLocalstack(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    // LocalStack is gone; the functions' processes of its group may not be
    stopProcessGroup(child, 'SIGKILL');
    return;
  }
  const exited = new Promise((resolve) => child.once('exit', resolve));
  stopProcessGroup(child);
  if (await Promise.race([exited.then(() => true), sleep(5_000).then(() => false)])) {
    stopProcessGroup(child, 'SIGKILL');
    return;
  }
  stopProcessGroup(child, 'SIGKILL');
  await exited;
}
