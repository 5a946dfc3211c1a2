import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PROJECT_ROOT } from '../../scripts/stack';
import { liveProcesses, processTree } from './processes';

/**
 * A long-running npm script (`npm run localstack`, `npm run deploy:localstack`) run as npm runs it
 * after the bootstrap, in a process group of its own like a terminal's foreground job, for tests that
 * interrupt it as Ctrl-C does and check that nothing it started is left running.
 */

/** The command an npm script runs once the bootstrap has installed what is missing. */
export function npmScriptCommand(script: string): string[] {
  const { scripts } = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const afterBootstrap = /^bash scripts\/bootstrap\.sh (.+)$/.exec(scripts[script] ?? '')?.[1];
  if (!afterBootstrap) throw new Error(`npm run ${script} no longer runs the bootstrap and then a command: ${scripts[script]}`);
  return afterBootstrap.split(' ');
}

export class ScriptRun {
  readonly child: ChildProcess;
  output = '';
  /** Process groups below the script other than its own (LocalStack's, sls's): they may outlive it. */
  readonly groups = new Set<number>();
  private readonly exited: Promise<number | null>;

  constructor(script: string, env: NodeJS.ProcessEnv) {
    const [command, ...args] = npmScriptCommand(script);
    this.child = spawn(command!, args, {
      cwd: PROJECT_ROOT,
      env: { PATH: [path.dirname(process.execPath), path.join(PROJECT_ROOT, 'node_modules', '.bin'), process.env.PATH].join(':'), HOME: process.env.HOME, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    this.groups.add(this.child.pid!);
    this.child.stdout!.on('data', (chunk: Buffer) => (this.output += chunk));
    this.child.stderr!.on('data', (chunk: Buffer) => (this.output += chunk));
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
    const sampler = setInterval(() => this.noteGroups(), 200);
    void this.exited.then(() => clearInterval(sampler));
  }

  private noteGroups(): void {
    for (const info of processTree(this.child.pid!)) this.groups.add(info.pgid);
  }

  /** The first capture of `pattern` in the output, once it appears; fails when the script exits first. */
  async until(pattern: RegExp, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = pattern.exec(this.output);
      if (match) {
        this.noteGroups();
        return match[1] ?? match[0];
      }
      if (this.child.exitCode !== null) throw new Error(`the script exited (${this.child.exitCode}) before printing ${pattern}:\n${this.output}`);
      if (Date.now() > deadline) throw new Error(`no ${pattern} within ${timeoutMs / 1000} s:\n${this.output}`);
      await sleep(100);
    }
  }

  /** Ctrl-C: the signal to the script's whole process group, as a terminal sends it. Resolves to its exit code or 'still running'. */
  async interrupt(withinMs: number): Promise<number | null | 'still running'> {
    this.noteGroups();
    // a script that has ended already (it failed) has nothing to interrupt: its exit code is the answer
    if (this.child.exitCode === null && this.child.signalCode === null) process.kill(-this.child.pid!, 'SIGINT');
    return Promise.race([this.exited, sleep(withinMs, 'still running' as const, { ref: false })]);
  }

  /** What still runs of what the script started: in its groups, or using its work directory. */
  leftovers(): string[] {
    const workDir = /work directory \(logs\): (\S+)/.exec(this.output)?.[1];
    return liveProcesses()
      .filter((info) => this.groups.has(info.pgid) || (workDir !== undefined && info.command.includes(workDir)))
      .map((info) => `${info.pid} ${info.command}`);
  }

  /** After a failed case, so that the next one (and the machine) starts clean. */
  killLeftovers(): void {
    for (const group of this.groups) {
      try {
        process.kill(-group, 'SIGKILL');
      } catch {
        // nothing left in that group
      }
    }
  }
}
