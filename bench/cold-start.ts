import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../scripts/stack';
import { fmt, load, median, repeated, say, loadCells } from './measure';
import { section, type Section } from './report';
import { bundle } from './bundles';

/** Median time of `code` (a require) in 20 fresh Node processes: module init as a cold start pays it. */
async function moduleInitMs(code: string): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 20; i += 1) {
    const run = spawnSync(process.execPath, ['-e', `const s=process.hrtime.bigint();${code};process.stdout.write(String(Number(process.hrtime.bigint()-s)/1e6))`], {
      env: { ...process.env, NODE_PATH: path.join(PROJECT_ROOT, 'node_modules') },
      encoding: 'utf8',
    });
    if (run.status !== 0) throw new Error(`${code} failed: ${run.stderr.split('\n').find((line) => /Error/.test(line))}`);
    times.push(Number(run.stdout));
  }
  return median(times);
}

/* ---------- 5. cold start: bundle size and module init time; JWT verification with and without the cache ---------- */
export async function coldStart(): Promise<Section> {
  const { rows, notes, row } = section();
  say('cold start');
  // What the SDK costs on its own: the DynamoDB document client, bundled as the functions bundle it.
  const sdkEntry = path.join(PROJECT_ROOT, '.data', 'bench-bundles', 'sdk-entry.ts');
  mkdirSync(path.dirname(sdkEntry), { recursive: true });
  writeFileSync(sdkEntry, "import { DynamoDBClient } from '@aws-sdk/client-dynamodb';\nimport { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';\nDynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));\n");
  const sdk = await bundle(path.relative(PROJECT_ROOT, sdkEntry));
  const sdkMs = await moduleInitMs(`require(${JSON.stringify(sdk.outfile)})`);
  row('5. cold start', 'reference: the AWS SDK DynamoDB document client alone, bundled', '', fmt(sdkMs, 1), '', '', `${fmt(statSync(sdk.outfile).size / 1024)} KB minified`);

  const entries: [string, string][] = [
    ['seats (holds, bookings, seat map)', 'functions/seats/handlers.ts'],
    ['flights', 'functions/flights/handlers.ts'],
    ['users', 'functions/users/handlers.ts'],
    ['registry', 'registry/handlers.ts'],
    ['authorizer', 'functions/gateway/authorizer.ts'],
    ['health', 'functions/gateway/health.ts'],
    ['a keep-alive (registry heartbeat)', 'functions/seats/keep-alive.ts'],
  ];
  /** The packages of a bundle that a reader cares about: its drivers and clients. */
  const LOADS: [RegExp, string][] = [
    [/node_modules\/@aws-sdk\/client-dynamodb\//, 'DynamoDB (SDK)'],
    [/node_modules\/@aws-sdk\/client-lambda\//, 'Lambda (SDK)'],
    [/node_modules\/mongodb\//, 'mongodb'],
    [/node_modules\/ioredis\//, 'ioredis'],
    [/node_modules\/@aws-lambda-powertools\/logger\//, 'Powertools logger'],
    [/node_modules\/@aws-lambda-powertools\/metrics\//, 'Powertools metrics'],
  ];
  for (const [name, entry] of entries) {
    const { outfile, metafile } = await bundle(entry);
    const kb = statSync(outfile).size / 1024;
    const initMs = await moduleInitMs(`require(${JSON.stringify(outfile)})`);
    const inputs = Object.keys(Object.values(metafile.outputs)[0]!.inputs);
    const loads = LOADS.filter(([pattern]) => inputs.some((input) => pattern.test(input))).map(([, label]) => label);
    const usesSdk = loads.some((label) => label.endsWith('(SDK)'));
    const target = name.startsWith('seats')
      ? `target < 300 KB and < 50 ms, no SDK: ${kb < 300 && initMs < 50 && !usesSdk ? 'met' : 'missed'}`
      : usesSdk
        ? `target ≤ SDK + 40 ms (${fmt(sdkMs + 40, 1)} ms): ${initMs <= sdkMs + 40 ? 'met' : 'missed'}`
        : 'no SDK';
    row('5. cold start', `${name}: ${entry}`, '', fmt(initMs, 1), '', '', `${fmt(kb)} KB minified; loads ${loads.join(', ')}; ${target}`);
    if (name.startsWith('seats')) {
      // The profile: which packages the bytes come from.
      const byPackage = new Map<string, number>();
      for (const [input, info] of Object.entries(Object.values(metafile.outputs)[0]!.inputs)) {
        const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1] ?? 'project code';
        byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + info.bytesInOutput);
      }
      const top = [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([pkg, bytes]) => `${pkg} ${fmt(bytes / 1024)} KB`);
      notes.push(`Seats bundle: ${fmt(kb)} KB, module init ${fmt(initMs, 1)} ms (median of 20 fresh processes). Where the bytes come from: ${top.join(', ')}.`);
    }
  }
  notes.push(
    `Registration and heartbeats run only in the scheduled keep-alive functions (registry/self-registration.ts), so a function loads the AWS SDK only when its own work calls AWS: the flights, registry and health functions (DynamoDB; flights also Lambda, to start the migration worker). The SDK's document client alone takes ${fmt(sdkMs, 1)} ms to load here.`,
  );

  // The bundle, as Lambda loads it (the module imports ESM-only middy, which a require of the source cannot load).
  const { authorize, clearAuthorizerCache } = require((await bundle('functions/gateway/authorizer.ts')).outfile) as typeof import('../functions/gateway/authorizer');
  const { UserService } = await import('../functions/users/service');
  const { MongoUserStore } = await import('../functions/users/store');
  const { mongoDb } = await import('../lib/clients/mongo');
  const users = new UserService(new MongoUserStore(mongoDb));
  const { accessToken } = await users.register({ email: `bench-${randomUUID()}@example.com`, password: 'bench password', name: 'Bench' });
  const event = { headers: { Authorization: `Bearer ${accessToken}` }, methodArn: 'arn:aws:execute-api:us-east-1:1:api/bench/GET/users/me' } as never;
  const uncached = await repeated(3, 300, (ms) => load(8, ms, async () => {
    clearAuthorizerCache();
    return authorize(event);
  }), 1_500);
  const cachedRun = await repeated(3, 300, (ms) => load(8, ms, () => authorize(event)), 1_500);
  row('5. cold start', 'authorizer without its cache (verify JWT + account read)', ...loadCells(uncached), 'baseline');
  row('5. cold start', 'authorizer with its cache (warm token)', ...loadCells(cachedRun), `${fmt(cachedRun.opsPerSecond / uncached.opsPerSecond, 1)} × uncached`);
  return { rows, notes };
}
