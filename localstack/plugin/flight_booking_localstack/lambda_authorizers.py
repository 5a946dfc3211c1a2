"""REST API Lambda authorizers, executed as API Gateway executes them (LocalStack community runs none).

LocalStack's open-source REST gateway routes a request to its method and goes straight on to the
integration: a method with `authorizationType: CUSTOM` reaches its function without an authorizer
context. Its handler chain has one extension point before the method request, `preprocess_request`
(`services/apigateway/next_gen/execute_api/gateway.py`); `install()` appends `LambdaAuthorizerHandler`
there when LocalStack starts (the `localstack.hooks.on_infra_start` entry point in pyproject.toml).

What it does, after the REST API documentation ("Use API Gateway Lambda authorizers"):

- REQUEST authorizers: every identity source (`method.request.header.X`, `method.request.querystring.X`,
  `stageVariables.X`, `context.X`) must be present and non-empty, or the answer is 401 without calling
  the function; the function gets the documented REQUEST event (method ARN, resource, path, headers,
  query, path parameters, stage variables, request context). TOKEN authorizers get the TOKEN event.
- The answer's policy is evaluated against the request's method ARN: a matching Deny wins, a matching
  Allow lets the request through, anything else is 403. Resources match with `*` and `?` wildcards.
- Answers are cached per authorizer and identity for `authorizerResultTtlInSeconds` (300 when unset,
  0 = no cache), and a cached policy is evaluated again for each method, as API Gateway does (a policy
  that allows only some routes must still deny the others when served from the cache).
- `principalId` and the context (values stringified, as API Gateway passes them) go to
  `requestContext.authorizer` of the integration's event.
- The function failing with the message `Unauthorized` is 401; any other failure (an error, a timeout,
  an answer without a valid policy) is AUTHORIZER_CONFIGURATION_ERROR, and a failed invocation
  (the function missing, Lambda itself failing) AUTHORIZER_FAILURE. These are LocalStack's gateway
  exceptions, answered with the API's gateway responses (gateway_responses.py).

The WebSocket APIs' $connect authorizer (websocket_api.py) is run by the same functions:
`identity_values`, `ask_authorizer`, `enforce_policy`, `authorizer_context`; and their Lambda
integrations are called by `invoke_function`, as the authorizers are.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import OrderedDict
from typing import Any, Mapping

from localstack.services.apigateway.next_gen.execute_api.api import (
    RestApiGatewayHandler,
    RestApiGatewayHandlerChain,
)
from localstack.services.apigateway.next_gen.execute_api.context import RestApiInvocationContext
from localstack.services.apigateway.next_gen.execute_api.integrations.aws import get_service_factory
from localstack.services.apigateway.next_gen.execute_api.gateway_response import (
    AccessDeniedError,
    AuthorizerConfigurationError,
    AuthorizerFailureError,
    UnauthorizedError,
)
from localstack.utils.aws.client_types import ServicePrincipal
from rolo import Response

LOG = logging.getLogger(__name__)

DEFAULT_TTL_SECONDS = 300
CACHE_MAX_ENTRIES = 10_000
FUNCTION_IN_URI = re.compile(r"/functions/(?P<arn>arn:[^/]+)/invocations")
INVOKE_ACTIONS = {"*", "execute-api:*", "execute-api:invoke"}
# API Gateway's messages for these answers (AWS returns them in the default gateway responses).
UNAUTHORIZED = "Unauthorized"
EXPLICIT_DENY = "User is not authorized to access this resource with an explicit deny"
NO_ALLOW = "User is not authorized to access this resource"


class AuthorizerAnswer:
    """What an authorizer returned for one identity: kept in the cache, evaluated per method."""

    def __init__(self, principal_id: str, statements: list[dict], context: dict[str, str]):
        self.principal_id = principal_id
        self.statements = statements
        self.context = context

    def decide(self, method_arn: str) -> str:
        """`Allow`, `Deny` (a matching Deny, which wins) or `None` (no statement matches: denied)."""
        effect = None
        for statement in self.statements:
            if not _matches_any(statement.get("Action"), INVOKE_ACTIONS, lower=True):
                continue
            if not any(_arn_matches(pattern, method_arn) for pattern in _as_list(statement.get("Resource"))):
                continue
            if statement.get("Effect") == "Deny":
                return "Deny"
            if statement.get("Effect") == "Allow":
                effect = "Allow"
        return effect


class AnswerCache:
    """Authorizer answers per (API, authorizer, identity) until their TTL; bounded, oldest out first."""

    def __init__(self, max_entries: int = CACHE_MAX_ENTRIES):
        self._entries: OrderedDict[tuple, tuple[float, AuthorizerAnswer]] = OrderedDict()
        self._lock = threading.Lock()
        self._max_entries = max_entries

    def get(self, key: tuple) -> AuthorizerAnswer | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires_at, answer = entry
            if expires_at <= time.monotonic():
                del self._entries[key]
                return None
            return answer

    def put(self, key: tuple, answer: AuthorizerAnswer, ttl_seconds: int) -> None:
        with self._lock:
            self._entries[key] = (time.monotonic() + ttl_seconds, answer)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class LambdaAuthorizerHandler(RestApiGatewayHandler):
    """Runs the method's Lambda authorizer before the method request (see the module's docstring)."""

    def __init__(self):
        self.cache = AnswerCache()

    def __call__(
        self,
        chain: RestApiGatewayHandlerChain,
        context: RestApiInvocationContext,
        response: Response,
    ):
        method = context.resource_method or {}
        if method.get("authorizationType") != "CUSTOM":
            return
        authorizer = context.deployment.rest_api.authorizers.get(method.get("authorizerId"))
        if not authorizer or authorizer.get("type") not in ("REQUEST", "TOKEN"):
            raise AuthorizerConfigurationError()
        started = time.monotonic()
        identity = _identity(authorizer, context)
        ttl = authorizer.get("authorizerResultTtlInSeconds")
        ttl = DEFAULT_TTL_SECONDS if ttl is None else int(ttl)
        key = (context.api_id, authorizer["id"], identity)
        answer = self.cache.get(key) if ttl > 0 else None
        if answer is None:
            answer = self._ask(authorizer, context)
            if ttl > 0:
                self.cache.put(key, answer, ttl)
        enforce_policy(answer, _method_arn(context))
        context.context_variables["authorizer"] = authorizer_context(answer, started)

    def _ask(self, authorizer: dict, context: RestApiInvocationContext) -> AuthorizerAnswer:
        return ask_authorizer(
            authorizer.get("authorizerUri"),
            region=context.region,
            source_arn=f"arn:aws:execute-api:{context.region}:{context.account_id}:{context.api_id}/authorizers/{authorizer['id']}",
            event=_event(authorizer, context),
            credentials=authorizer.get("authorizerCredentials"),
        )


def ask_authorizer(
    authorizer_uri: str | None, region: str, source_arn: str, event: dict, credentials: str | None = None
) -> AuthorizerAnswer:
    """The authorizer function's answer to `event`, checked (also used by websocket_api.py's $connect).

    Raises UnauthorizedError (the function failed with `Unauthorized`), AuthorizerConfigurationError
    (any other failure, an invalid answer) or AuthorizerFailureError (the function could not be invoked).
    """
    function = FUNCTION_IN_URI.search(authorizer_uri or "")
    if not function:
        raise AuthorizerConfigurationError()
    function_arn = function.group("arn")
    try:
        payload, function_error = invoke_function(function_arn, region, source_arn, event, credentials)
    except Exception as error:  # the function missing, throttled, Lambda failing
        LOG.warning("authorizer %s could not be invoked: %s", function_arn, error)
        raise AuthorizerFailureError()
    if function_error:
        if isinstance(payload, dict) and payload.get("errorMessage") == UNAUTHORIZED:
            raise UnauthorizedError(UNAUTHORIZED)
        LOG.info("authorizer %s failed: %s", function_arn, payload)
        raise AuthorizerConfigurationError()
    return _answer(payload)


def invoke_function(
    function_arn: str, region: str, source_arn: str, event: dict, credentials: str | None = None
) -> tuple[Any, bool]:
    """Invokes a function as API Gateway's Lambda integrations do (LocalStack's integrations/aws.py:
    its internal client, as the apigateway service principal for `source_arn`). Answers the decoded
    JSON payload (None if not JSON) and whether the function failed; raises if it was not invoked."""
    result = (
        get_service_factory(region, credentials)
        .lambda_.request_metadata(service_principal=ServicePrincipal.apigateway, source_arn=source_arn)
        .invoke(FunctionName=function_arn, Payload=json.dumps(event), InvocationType="RequestResponse")
    )
    payload = _json(result["Payload"].read() if result.get("Payload") else b"")
    return payload, bool(result.get("FunctionError"))


def enforce_policy(answer: AuthorizerAnswer, method_arn: str) -> None:
    """AccessDeniedError unless the answer's policy allows `method_arn` (a matching Deny wins)."""
    decision = answer.decide(method_arn)
    if decision == "Deny":
        raise AccessDeniedError(EXPLICIT_DENY)
    if decision != "Allow":
        raise AccessDeniedError(NO_ALLOW)


def authorizer_context(answer: AuthorizerAnswer, started: float) -> dict:
    """`requestContext.authorizer` of the events after an authorizer that was asked at `started` (monotonic)."""
    return {
        **answer.context,
        "principalId": answer.principal_id,
        "integrationLatency": int((time.monotonic() - started) * 1000),
    }


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _matches_any(value: Any, accepted: set[str], lower: bool = False) -> bool:
    return any((item.lower() if lower else item) in accepted for item in _as_list(value) if isinstance(item, str))


def _arn_matches(pattern: Any, arn: str) -> bool:
    """IAM's resource matching: `*` any run of characters (slashes too), `?` one character."""
    if not isinstance(pattern, str):
        return False
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, arn, flags=re.DOTALL) is not None


def _method_arn(context: RestApiInvocationContext) -> str:
    path = context.invocation_request["path"].lstrip("/")
    return (
        f"arn:aws:execute-api:{context.region}:{context.account_id}:{context.api_id}/{context.stage}/"
        f"{context.invocation_request['http_method']}/{path}"
    )


def _identity(authorizer: dict, context: RestApiInvocationContext) -> tuple:
    sources = [s.strip() for s in (authorizer.get("identitySource") or "").split(",") if s.strip()]
    request = context.invocation_request
    return identity_values(
        sources,
        "method.request.",
        headers=request["headers"],
        query=request["query_string_parameters"],
        stage_variables=context.stage_variables,
        context_variables=context.context_variables,
    )


def identity_values(
    sources: list[str],
    request_prefix: str,
    headers: Mapping[str, str],
    query: Mapping[str, str] | None,
    stage_variables: Mapping[str, str] | None,
    context_variables: Mapping[str, Any],
) -> tuple:
    """The identity sources' values (`<request_prefix>header.X`, `<request_prefix>querystring.X`,
    `stageVariables.X`, `context.X`; the prefix is `method.request.` for REST APIs, `route.request.`
    for WebSocket APIs); any missing or empty → UnauthorizedError, without calling the function."""
    values = []
    for source in sources:
        value = None
        if source.startswith(f"{request_prefix}header."):
            value = headers.get(source.removeprefix(f"{request_prefix}header."))
        elif source.startswith(f"{request_prefix}querystring."):
            value = (query or {}).get(source.removeprefix(f"{request_prefix}querystring."))
        elif source.startswith("stageVariables."):
            value = (stage_variables or {}).get(source.removeprefix("stageVariables."))
        elif source.startswith("context."):
            value = context_variables.get(source.removeprefix("context."))
        if value is None or value == "":
            raise UnauthorizedError(UNAUTHORIZED)
        values.append(str(value))
    return tuple(values)


def _event(authorizer: dict, context: RestApiInvocationContext) -> dict:
    request = context.invocation_request
    method_arn = _method_arn(context)
    if authorizer["type"] == "TOKEN":
        source = (authorizer.get("identitySource") or "").removeprefix("method.request.header.")
        return {"type": "TOKEN", "methodArn": method_arn, "authorizationToken": request["headers"].get(source)}
    headers = request["headers"]
    return {
        "type": "REQUEST",
        "methodArn": method_arn,
        "resource": context.resource["path"],
        "path": request["path"],
        "httpMethod": request["http_method"],
        "headers": {name: value for name, value in headers.items()},
        "multiValueHeaders": {name: headers.getlist(name) for name in headers.keys()},
        "queryStringParameters": request["query_string_parameters"] or {},
        "multiValueQueryStringParameters": request["multi_value_query_string_parameters"] or {},
        "pathParameters": request["path_parameters"] or {},
        "stageVariables": context.stage_variables or {},
        "requestContext": context.context_variables,
    }


def _json(payload: bytes) -> Any:
    try:
        return json.loads(payload or b"null")
    except ValueError:
        return None


def _answer(payload: Any) -> AuthorizerAnswer:
    """The authorizer's output, checked as API Gateway checks it (else AUTHORIZER_CONFIGURATION_ERROR)."""
    if not isinstance(payload, dict):
        raise AuthorizerConfigurationError()
    principal_id = payload.get("principalId")
    policy = payload.get("policyDocument")
    statements = policy.get("Statement") if isinstance(policy, dict) else None
    if not isinstance(principal_id, str) or not principal_id:
        raise AuthorizerConfigurationError()
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not all(isinstance(s, dict) for s in statements):
        raise AuthorizerConfigurationError()
    context = payload.get("context") or {}
    if not isinstance(context, dict):
        raise AuthorizerConfigurationError()
    stringified = {}
    for name, value in context.items():
        # API Gateway accepts only string, number and boolean values, and passes them on as strings
        if isinstance(value, bool):
            stringified[name] = "true" if value else "false"
        elif isinstance(value, (str, int, float)):
            stringified[name] = str(value)
        else:
            raise AuthorizerConfigurationError()
    return AuthorizerAnswer(principal_id, statements, stringified)
