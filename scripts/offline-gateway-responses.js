'use strict';

/**
 * A local serverless plugin that runs only under `sls offline` (its hooks are the `offline` command's;
 * `sls package` and `sls deploy` never call it). It makes the emulator answer as the deployed API
 * Gateway does when the gateway itself answers: no or refused token, a route the authorizer's policy
 * denies, an authorizer that failed, a body over the limit, a function that crashed. On AWS the
 * AWS::ApiGateway::GatewayResponse resources in serverless.yml shape those answers (problem JSON);
 * serverless-offline 14.8.2 ignores them and answers with its own bodies
 * (`{"statusCode":401,"error":"Unauthorized","message":"Unauthorized"}`, a stack trace for a crash).
 * It also answers an authorizer that throws or times out with the same 401 as a refused token, where
 * API Gateway answers AUTHORIZER_CONFIGURATION_ERROR (for us: 503, the account store is down).
 *
 * The resources are read from the service's `resources`, so serverless.yml stays the one definition.
 * A hapi onPreResponse extension on the emulator's server replaces the emulator's own answers: hapi
 * errors (Boom), which is how the emulator's authorizer step refuses, and answers to requests whose
 * function failed. Answers our handlers give are neither, and pass untouched. The emulator catches a
 * thrown authorizer error and a refusal alike, so each request runs in its own AsyncLocalStorage
 * scope and every Lambda run records its failure there for the extension to read.
 *
 * The same extension takes back the CORS headers the emulator adds to every answer to a request with an
 * `Origin` (that very origin, with credentials), which would admit any site: as on AWS, only an origin
 * of CORS_ORIGINS (serverless.yml's custom.cors) keeps what the function or the preflight gave it, and
 * no answer allows credentials.
 */
const { AsyncLocalStorage } = require('node:async_hooks');
const { randomUUID } = require('node:crypto');
const path = require('node:path');
const { pathToFileURL } = require('node:url');

/** The status API Gateway gives a response type whose resource sets none. */
const DEFAULT_STATUS = {
  UNAUTHORIZED: 401,
  ACCESS_DENIED: 403,
  REQUEST_TOO_LARGE: 413,
  AUTHORIZER_CONFIGURATION_ERROR: 500,
  AUTHORIZER_FAILURE: 500,
};

/** The one authorizer error API Gateway answers with UNAUTHORIZED; any other is a failed authorizer. */
const REFUSAL = 'Unauthorized';

const HEADER_PARAMETER = /^gatewayresponse\.header\.(.+)$/;
const STATIC_VALUE = /^'(.*)'$/s;
const REQUEST_ID_VALUE = 'context.requestId';

/** Per request of the emulator's HTTP server: the failure of a Lambda run while serving it. */
const requestScope = new AsyncLocalStorage();

/**
 * The GatewayResponse resources by response type, with their header values parsed: `'literal'`, or
 * `context.requestId`. Other mapping expressions and template variables are not emulated; they are
 * reported once at start instead of being answered wrongly without a word.
 */
function declaredGatewayResponses(resources, warn) {
  const declared = new Map();
  for (const [name, resource] of Object.entries(resources?.Resources ?? {})) {
    if (resource.Type !== 'AWS::ApiGateway::GatewayResponse') continue;
    const { ResponseType, StatusCode, ResponseParameters = {}, ResponseTemplates = {} } = resource.Properties;
    const headers = [];
    for (const [parameter, value] of Object.entries(ResponseParameters)) {
      const header = HEADER_PARAMETER.exec(parameter)?.[1];
      const literal = STATIC_VALUE.exec(value)?.[1];
      if (header && (literal !== undefined || value === REQUEST_ID_VALUE)) headers.push({ header, literal });
      else warn(`${name}: ${parameter} = ${value} is not emulated under sls offline`);
    }
    const body = ResponseTemplates['application/json'] ?? Object.values(ResponseTemplates)[0] ?? '';
    if (body.includes('$')) warn(`${name}: the template's variables are not emulated under sls offline; it is answered as written`);
    declared.set(ResponseType, { statusCode: StatusCode === undefined ? undefined : Number(StatusCode), headers, body });
  }
  return declared;
}

/** The origins serverless.yml's custom.cors admits (scripts/api-edges.js): none when it is `false`. */
function allowedOrigins(cors) {
  return (cors && cors.origins) || [];
}

/**
 * Takes the emulator's own CORS headers out of an answer's headers (a hapi response's, changed in
 * place): all of them for an origin that is not allowed, and the credentials it allows for any origin.
 */
function dropEmulatorCors(headers, origin, allowed) {
  for (const name of Object.keys(headers)) {
    const header = name.toLowerCase();
    if (header === 'access-control-allow-credentials' || (header.startsWith('access-control-') && !allowed.includes(origin))) delete headers[name];
  }
}

/** Which gateway response API Gateway would give instead of the emulator's own answer, if any. */
function responseTypeFor(response, lambdaFailure) {
  if (response.isBoom) {
    const status = response.output.statusCode;
    if (status === 401) return lambdaFailure && failureMessage(lambdaFailure) !== REFUSAL ? 'AUTHORIZER_CONFIGURATION_ERROR' : 'UNAUTHORIZED';
    if (status === 403) return 'ACCESS_DENIED';
    if (status === 413) return 'REQUEST_TOO_LARGE';
    return status >= 500 ? 'DEFAULT_5XX' : 'DEFAULT_4XX';
  }
  // A function that threw or timed out: the emulator answers its error and stack, AWS a gateway 5xx.
  return lambdaFailure ? 'DEFAULT_5XX' : undefined;
}

function failureMessage(failure) {
  return failure instanceof Error ? failure.message : String(failure);
}

/**
 * The answer for a response type: its own resource, else the DEFAULT_4XX/DEFAULT_5XX one, as API
 * Gateway falls back. The status is the resource's, else the default one's (a status set there applies
 * to its whole class), else the type's own, else the emulator's.
 */
function gatewayAnswer(declared, type, emulatorStatus) {
  const status = DEFAULT_STATUS[type] ?? emulatorStatus;
  const fallback = declared.get(status >= 500 ? 'DEFAULT_5XX' : 'DEFAULT_4XX');
  const chosen = declared.get(type) ?? fallback;
  if (!chosen) return undefined;
  return { ...chosen, statusCode: chosen.statusCode ?? fallback?.statusCode ?? status };
}

class OfflineGatewayResponses {
  constructor(serverless, _options, { log }) {
    this.serverless = serverless;
    this.log = log;
    this.hooks = {
      // `sls offline start`: serverless-offline, listed before this plugin, has started its server.
      'offline:start:init': () => this.install(this.offlinePlugin()),
      // `sls offline`: serverless-offline's one hook starts the server and then waits for Ctrl-C.
      'before:offline:start': () => {
        const offline = this.offlinePlugin();
        const start = offline.start;
        offline.start = async (...args) => {
          await start.apply(offline, args);
          await this.install(offline);
        };
      },
    };
  }

  offlinePlugin() {
    const offline = this.serverless.pluginManager.getPlugins().find((plugin) => plugin.constructor.name === 'ServerlessOffline');
    if (typeof offline?.internals !== 'function') {
      throw new Error('offline-gateway-responses: serverless-offline (14.8.2) must be listed before it in plugins');
    }
    return offline;
  }

  async install(offline) {
    const declared = declaredGatewayResponses(this.serverless.service.resources, (message) => this.log.warning(message));
    await this.recordLambdaFailures();
    const server = offline.internals().getApiGatewayServer();
    // Each request of the server in a scope of its own: where its Lambda runs note a failure.
    for (const event of ['request', 'checkContinue']) {
      for (const dispatch of server.listener.listeners(event)) {
        server.listener.removeListener(event, dispatch);
        server.listener.on(event, (req, res) => requestScope.run({ lambdaFailure: undefined }, dispatch, req, res));
      }
    }
    const allowed = allowedOrigins(this.serverless.service.custom?.cors);
    // After the emulator's own onPreResponse extension (added when it made the server), which sets its CORS headers.
    server.ext('onPreResponse', (request, h) => {
      const type = responseTypeFor(request.response, requestScope.getStore()?.lambdaFailure);
      const emulatorStatus = request.response.isBoom ? request.response.output.statusCode : request.response.statusCode;
      const answer = type && gatewayAnswer(declared, type, emulatorStatus);
      if (!answer) {
        if (request.headers.origin) dropEmulatorCors((request.response.isBoom ? request.response.output : request.response).headers, request.headers.origin, allowed);
        return h.continue;
      }
      const requestId = randomUUID();
      const response = h.response(answer.body).code(answer.statusCode).type('application/json').header('x-amzn-RequestId', requestId);
      for (const { header, literal } of answer.headers) response.header(header, literal ?? requestId);
      return response;
    });
  }

  /** Every Lambda run of the emulator notes its failure in the scope of the request it serves. */
  async recordLambdaFailures() {
    const entry = require.resolve('serverless-offline', { paths: [this.serverless.serviceDir] });
    const modulePath = path.join(path.dirname(entry), 'lambda', 'LambdaFunction.js');
    const { default: LambdaFunction } = await import(pathToFileURL(modulePath).href);
    const { runHandler } = LambdaFunction.prototype;
    LambdaFunction.prototype.runHandler = async function runHandlerNotingFailure(...args) {
      try {
        return await runHandler.apply(this, args);
      } catch (error) {
        const scope = requestScope.getStore();
        if (scope) scope.lambdaFailure = error;
        throw error;
      }
    };
  }
}

module.exports = OfflineGatewayResponses;
module.exports.declaredGatewayResponses = declaredGatewayResponses;
module.exports.responseTypeFor = responseTypeFor;
module.exports.gatewayAnswer = gatewayAnswer;
module.exports.allowedOrigins = allowedOrigins;
module.exports.dropEmulatorCors = dropEmulatorCors;
