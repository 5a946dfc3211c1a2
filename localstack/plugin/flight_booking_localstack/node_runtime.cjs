// One Lambda execution environment as a Node process, for the local-node executor (node_executor.py).
// Speaks LocalStack's executor protocol in place of its init binary: loads the handler named by
// _HANDLER from the working directory (the unzipped code), reports ready, then serves POST /invoke
// on 127.0.0.1:$LOCAL_NODE_PORT, one invocation at a time, posting logs and the response or error
// back to $LOCALSTACK_RUNTIME_ENDPOINT. The function's timeout is enforced here (Sandbox.Timedout);
// the executor restarts the process afterwards.
'use strict';
// CommonJS, not an ES module: Node starts a CommonJS script about 30 ms sooner, and every function's
// first call waits for this process to start.
const { Agent, createServer, request } = require('node:http');
const { existsSync } = require('node:fs');
const { createRequire, flushCompileCache } = require('node:module');
const path = require('node:path');
const { pathToFileURL } = require('node:url');

const endpoint = new URL(process.env.LOCALSTACK_RUNTIME_ENDPOINT);
const runtimeId = process.env.LOCALSTACK_RUNTIME_ID;
const port = Number(process.env.LOCAL_NODE_PORT);
const timeoutMs = Number(process.env.AWS_LAMBDA_FUNCTION_TIMEOUT || 3) * 1000;
const taskRoot = process.env.LAMBDA_TASK_ROOT || process.cwd();
// One kept-alive connection for the ready report and every invocation's two callbacks.
const agent = new Agent({ keepAlive: true, maxSockets: 1 });

/**
 * POSTs to LocalStack's runtime endpoint with node:http, not fetch: fetch's first use in a process
 * loads undici, about 30 ms that every function's first call waited for (the ready report).
 */
function post(route, body, headers = {}) {
  const data = typeof body === 'string' ? body : JSON.stringify(body);
  const send = (retry) =>
    new Promise((resolve, reject) => {
      const req = request(
        { host: endpoint.hostname, port: endpoint.port, path: `${endpoint.pathname}${route}`, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), ...headers } },
        (res) => {
          res.resume();
          res.on('end', () => (res.statusCode >= 200 && res.statusCode < 300 ? resolve() : reject(new Error(`POST ${route}: ${res.statusCode}`))));
        },
      );
      req.on('error', (error) => {
        // A kept-alive connection LocalStack closed while idle: once more, on a new one (Node's advice).
        if (retry && req.reusedSocket && error.code === 'ECONNRESET') send(false).then(resolve, reject);
        else reject(error);
      });
      req.end(data);
    });
  return send(true);
}

function errorPayload(error, errorType) {
  const err = error instanceof Error ? error : new Error(String(error));
  return { errorType: errorType ?? err.name ?? 'Error', errorMessage: err.message, stackTrace: (err.stack ?? '').split('\n').slice(1).map((l) => l.trim()) };
}

/** "functions/users/handlers.register" → the `register` export of functions/users/handlers.{js,mjs,cjs}. */
async function loadHandler(spec) {
  const dot = spec.lastIndexOf('.');
  if (dot < 0) throw Object.assign(new Error(`Bad handler ${spec}`), { name: 'Runtime.MalformedHandlerName' });
  const base = path.resolve(taskRoot, spec.slice(0, dot));
  const name = spec.slice(dot + 1);
  const file = ['.js', '.mjs', '.cjs'].map((ext) => base + ext).find((f) => existsSync(f));
  if (!file) throw Object.assign(new Error(`Cannot find module '${spec.slice(0, dot)}'`), { name: 'Runtime.ImportModuleError' });
  let mod;
  if (file.endsWith('.mjs')) mod = await import(pathToFileURL(file).href);
  else {
    try {
      mod = createRequire(file)(file);
    } catch (error) {
      if (error?.code !== 'ERR_REQUIRE_ESM') throw error;
      mod = await import(pathToFileURL(file).href);
    }
  }
  const handler = mod?.[name] ?? mod?.default?.[name];
  if (typeof handler !== 'function') throw Object.assign(new Error(`${spec} is undefined or not exported`), { name: 'Runtime.HandlerNotFound' });
  return handler;
}

// Each invocation's output, sent as its logs (as the init binary does), while still going to stdout.
let logs = null;
for (const stream of [process.stdout, process.stderr]) {
  const write = stream.write.bind(stream);
  stream.write = (chunk, ...rest) => {
    if (logs !== null) logs.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString());
    return write(chunk, ...rest);
  };
}

let current = null; // { id, settle(kind, body) }

function invoke(handler, request) {
  const id = request['invoke-id'];
  const started = Date.now();
  logs = [];
  let settled = false;
  let timer;
  const settle = async (kind, body, headers) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    current = null;
    const text = logs.join('');
    logs = null;
    try {
      await post(`/invocations/${id}/logs`, { logs: text });
      await post(`/invocations/${id}/${kind}`, body, headers);
    } catch (error) {
      process.stderr.write(`local-node runtime: could not report ${id}: ${error}\n`);
    }
  };
  current = { id, settle };
  timer = setTimeout(() => settle('error', { errorType: 'Sandbox.Timedout', errorMessage: `${id} Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds` }), timeoutMs);
  process.env._X_AMZN_TRACE_ID = request['trace-id'] ?? '';
  const context = {
    awsRequestId: id,
    invokedFunctionArn: request['invoked-function-arn'],
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, timeoutMs - (Date.now() - started)),
  };
  const succeed = (value) => settle('response', JSON.stringify(value === undefined ? null : value));
  const fail = (error) => settle('error', errorPayload(error));
  context.succeed = succeed;
  context.fail = fail;
  context.done = (error, value) => (error ? fail(error) : succeed(value));
  let event;
  try {
    event = JSON.parse(request.payload);
  } catch {
    event = request.payload;
  }
  try {
    const returned = handler(event, context, context.done);
    if (returned && typeof returned.then === 'function') returned.then(succeed, fail);
    else if (handler.length < 3) succeed(returned);
  } catch (error) {
    fail(error);
  }
}

// A crash during an invocation fails that invocation; the process then exits and the executor starts a new one.
for (const event of ['uncaughtException', 'unhandledRejection']) {
  process.on(event, async (error) => {
    process.stderr.write(`local-node runtime: ${event}: ${error?.stack ?? error}\n`);
    // the header tells the executor that this process exits: the next invocation gets a fresh one
    if (current) await current.settle('error', errorPayload(error, event === 'unhandledRejection' ? 'Runtime.UnhandledPromiseRejection' : undefined), { 'x-local-node-exiting': '1' });
    process.exit(1);
  });
}

/** How long the handler's module took to load (the bulk of a first call), for the process's log. */
let loadMs = 0;

async function start() {
  let handler;
  try {
    const loading = performance.now();
    handler = await loadHandler(process.env._HANDLER ?? '');
    loadMs = performance.now() - loading;
  } catch (error) {
    process.stderr.write(`local-node runtime: init failed: ${error?.stack ?? error}\n`);
    await post(`/status/${runtimeId}/error`, errorPayload(error)).catch(() => {});
    process.exit(1);
  }
  serve(handler);
}

function serve(handler) {
  const server = createServer((req, res) => {
    if (req.method !== 'POST' || req.url !== '/invoke') {
      res.writeHead(404).end();
      return;
    }
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      if (current) {
        res.writeHead(409).end('busy');
        return;
      }
      let request;
      try {
        request = JSON.parse(Buffer.concat(chunks).toString());
      } catch {
        res.writeHead(400).end();
        return;
      }
      res.writeHead(200).end();
      invoke(handler, request);
    });
  });
  server.listen(port, '127.0.0.1', () => {
    // In the process's log only (no invocation is under way): where a first call's time went.
    process.stderr.write(`local-node runtime: ready ${Math.round(performance.now())} ms after the process started (handler loaded in ${Math.round(loadMs)} ms)\n`);
    post(`/status/${runtimeId}/ready`, {})
      // NODE_COMPILE_CACHE (node_executor.py) is written at exit, which a killed process never reaches:
      // written now, after the ready report, so that a later process of the same code loads it compiled.
      .then(() => flushCompileCache?.())
      .catch((error) => {
        process.stderr.write(`local-node runtime: could not report ready: ${error}\n`);
        process.exit(1);
      });
  });
}

void start();
