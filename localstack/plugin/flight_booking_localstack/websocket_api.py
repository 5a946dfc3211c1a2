"""WebSocket APIs' data plane (API Gateway v2), which LocalStack community lacks: connections, routes, @connections.

`apigatewayv2.py` is the control plane (the APIs and their deployments); this module serves a deployed
stage on LocalStack's own port, path-style, so that it works on a host without DNS tricks:

- clients connect to `ws://<LocalStack>/_aws/execute-api/<apiId>/<stage>`;
- backends post to `http://<LocalStack>/_aws/execute-api/<apiId>/<stage>/@connections/<connectionId>`
  (the endpoint of the SDK's ApiGatewayManagementApiClient is the URL without `/@connections`).

`WebSocketApiHandler` is appended to LocalStack's main handler chain (`handlers.preprocess_request`,
hooks.py), which both HTTP requests and WebSocket upgrades (rolo's `WebSocketRequest`) go through. It
takes only paths of WebSocket APIs (`is_websocket_api`); everything else, the REST APIs' path-style
URLs included, flows on unchanged. What it does, after API Gateway's WebSocket documentation:

- **$connect**: the upgrade waits for the route's REQUEST authorizer and integration. Every identity
  source (`route.request.header.X`, `route.request.querystring.X`, `stageVariables.X`, `context.X`)
  must be present, else 401 without calling the function; the function gets the WebSocket REQUEST
  event, and its policy is evaluated against `arn:aws:execute-api:<region>:<account>:<api>/<stage>/$connect`
  by lambda_authorizers.py (`Unauthorized` 401, a Deny or no Allow 403, a failure 500). Its
  `principalId` and context (stringified) are in `requestContext.authorizer` of every later event of
  the connection. The integration failing (502) or answering a non-2xx `statusCode` refuses the
  upgrade with that status; an unknown stage is 403, as API Gateway answers.
- **Messages**, one connection's in order: the route is chosen by the API's `$request.body.<field>`
  expression (not JSON or no such route: `$default`; no `$default`: the client gets API Gateway's
  `Forbidden` message) and its Lambda proxy integration gets the MESSAGE event. A route's return
  value is not sent back (no route responses); a failed integration sends `Internal server error`.
  A message is read whole (however its frames and reads split it); over 128 KB closes with 1009.
- **$disconnect**, once, whoever closes (the client, DELETE @connections), with the client's close
  code as `disconnectStatusCode`; not when LocalStack stops (it closes every connection with 1001,
  going away).
- **@connections**: POST (a text frame; binary if the data is not UTF-8) 200, GET 200 with
  `connectedAt`, `identity`, `lastActiveAt`, DELETE 204 and closes; an unknown or closed connection is
  410 `GoneException`, over 128 KB 413. Not signature-checked (nor are LocalStack's other APIs by
  default), and answered before LocalStack's CORS handling: a server-side API, as on AWS.

Threads: rolo's Twisted server runs each connection's listener (`_serve`) in a thread of its pool,
and @connections requests arrive on other threads, while wsproto and the Twisted transport may only be
used from the reactor's thread (rolo's own `send` writes from the calling thread). So every send,
accept, reject and close goes through `blockingCallFromThread`: frames from concurrent posts are
written whole, one at a time. This needs LocalStack's default gateway server (`GATEWAY_SERVER=twisted`).

Not done: idle (10 min) and maximum (2 h) connection durations, route responses, subprotocols,
non-proxy integrations, AWS_IAM route authorization (allowed as NONE), throttling, the $connect
authorizer cache (API Gateway has none for WebSocket APIs either).
"""

from __future__ import annotations

import base64
import json
import logging
import re
import secrets
import threading
import time
from datetime import datetime, timezone
from queue import Empty
from urllib.parse import unquote

from localstack.aws.api import RequestContext
from localstack.aws.chain import HandlerChain
from localstack.services.apigateway.next_gen.execute_api.gateway_response import (
    AuthorizerConfigurationError,
    BaseGatewayException,
)
from rolo import Response
from rolo.serving.twisted import WebSocketChannel
from rolo.websocket import WebSocketDisconnectedError, WebSocketRequest
from twisted.internet import reactor
from twisted.internet.threads import blockingCallFromThread
from wsproto import ConnectionState, events

from .apigatewayv2 import DeployedWebSocketStage, WebSocketRoute, deployed_stage, is_websocket_api
from .lambda_authorizers import (
    FUNCTION_IN_URI,
    ask_authorizer,
    authorizer_context,
    enforce_policy,
    identity_values,
    invoke_function,
)

LOG = logging.getLogger(__name__)

STAGE_PATH = re.compile(r"/_aws/execute-api/(?P<api_id>[^/]+)/(?P<stage>[^/]+)(?P<rest>/.*)?")
CONNECTION_PATH = re.compile(r"/@connections/(?P<connection_id>[^/]+)")
BODY_FIELD = re.compile(r"\$\{?request\.body\.(?P<path>[A-Za-z0-9_.-]+)\}?")
MAX_POST_BYTES = 128 * 1024  # API Gateway's message size limit, both ways
MAX_MESSAGE_BYTES = MAX_POST_BYTES
REQUEST_TIME_FORMAT = "%d/%b/%Y:%H:%M:%S +0000"
CONNECTION_ROUTES = ("$connect", "$disconnect")  # never chosen by a message


class GoneError(Exception):
    """The connection is closed, or never existed."""


def _new_id() -> str:
    """An id shaped like API Gateway's connection and request ids (16 characters ending in `=`), URL-safe."""
    return base64.urlsafe_b64encode(secrets.token_bytes(11)).decode()


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Connection:
    """One accepted WebSocket: what its events carry, and its socket, used only on the reactor's thread."""

    def __init__(self, stage: DeployedWebSocketStage, request: WebSocketRequest):
        self.connection_id = _new_id()
        self.stage = stage
        self.request = request
        self.connected_at = datetime.now(timezone.utc)
        self.last_active_at = self.connected_at
        self.identity = {"sourceIp": request.remote_addr or "127.0.0.1", "userAgent": request.headers.get("User-Agent")}
        self.authorizer: dict | None = None
        self.channel: WebSocketChannel = request.socket.channel

    def accept(self) -> bool:
        """Whether the upgrade went through: the client may have given up while $connect ran."""
        return blockingCallFromThread(reactor, self._accept)

    def reject(self, status: int, message: str) -> None:
        blockingCallFromThread(reactor, _reject, self.request, status, message)

    def send(self, data: bytes) -> None:
        try:
            event = events.TextMessage(data.decode("utf-8"))
        except UnicodeDecodeError:
            event = events.BytesMessage(data)
        blockingCallFromThread(reactor, self._send, event)

    def close(self, code: int = 1000, reason: str | None = None) -> None:
        blockingCallFromThread(reactor, self._close, code, reason)

    def _accept(self) -> bool:
        if self.channel.closed:
            return False
        # the upgrade request's event is queued before the listener runs: accept() takes it at once
        self.request.accept(timeout=0)
        # wsproto wrote the 101 itself: tell Twisted's request that its response was written, or rolo's
        # channel.close() (request.finish()) would write an HTTP response into the WebSocket stream
        self.channel.request.startedWriting = 1
        return True

    def _send(self, event: events.Event) -> None:
        if self.channel.closed or self.channel.wsproto.state != ConnectionState.OPEN:
            raise GoneError()
        self.channel.wsSend(event)

    def _close(self, code: int, reason: str | None) -> None:
        """Our close frame (or the answer to the client's), then the TCP connection closed."""
        channel = self.channel
        transport = channel.request.transport
        if channel.wsproto.state in (ConnectionState.OPEN, ConnectionState.REMOTE_CLOSING):
            transport.write(channel.wsproto.send(events.CloseConnection(code, reason)))
        channel.close()  # wakes the listener (its queue) if it still waits
        transport.loseConnection()


class WebSocketApiHandler:
    """The data plane (see the module's docstring): a handler of LocalStack's main chain."""

    def __init__(self):
        self._connections: dict[str, Connection] = {}
        self._lock = threading.Lock()
        self._stopping = False

    def __call__(self, chain: HandlerChain, context: RequestContext, response: Response):
        request = context.request
        match = STAGE_PATH.fullmatch(request.path)
        if not match or not is_websocket_api(match["api_id"]):
            return
        stage = deployed_stage(match["api_id"], match["stage"])
        rest = match["rest"] or ""
        if isinstance(request, WebSocketRequest):
            chain.terminate()  # the connection is answered here, in full (rolo's Gateway.accept)
            if stage is None or rest.strip("/"):
                # as API Gateway answers for a stage or path it does not have
                blockingCallFromThread(reactor, _reject, request, 403, "Forbidden")
                return
            self._serve(stage, request)
            return
        target = CONNECTION_PATH.fullmatch(rest)
        if stage is None:
            chain.respond(403, {"message": "Forbidden"})
        elif target is None:
            chain.respond(426, {"message": "Upgrade Required: connect with a WebSocket client"})
        else:
            self._manage(chain, request.method, request.get_data(), stage, unquote(target["connection_id"]))

    def close_all(self) -> None:
        """LocalStack stopping: every connection closed as going away, without $disconnect (Lambda is
        stopping too, and the listeners' threads must end for LocalStack's thread pool to stop)."""
        with self._lock:
            self._stopping = True
            connections = list(self._connections.values())
        for connection in connections:
            try:
                connection.close(1001, "Going away")
            except Exception as error:
                LOG.debug("closing %s at shutdown: %s", connection.connection_id, error)

    # a connection, on its listener thread

    def _serve(self, stage: DeployedWebSocketStage, request: WebSocketRequest) -> None:
        connection = Connection(stage, request)
        try:
            refusal = self._connect(connection)
        except Exception:
            LOG.exception("WebSocket connection to %s/%s failed", stage.api_id, stage.stage_name)
            refusal = 500, "Internal server error"
        if refusal:
            connection.reject(*refusal)
            return
        if not connection.accept():
            LOG.info("WebSocket client of %s/%s left before its $connect was answered", stage.api_id, stage.stage_name)
            return
        with self._lock:
            self._connections[connection.connection_id] = connection
        LOG.info("WebSocket %s connected to %s/%s", connection.connection_id, stage.api_id, stage.stage_name)
        code = 1005
        try:
            while True:
                try:
                    message = _receive(connection.channel)
                except WebSocketDisconnectedError as closed:
                    code = closed.code
                    break
                except MessageTooLarge:
                    code = 1009
                    connection.close(1009, "Message too big")
                    break
                connection.last_active_at = datetime.now(timezone.utc)
                self._on_message(connection, message)
        finally:
            with self._lock:
                self._connections.pop(connection.connection_id, None)
            connection.close()  # answers the client's close frame, if any, and ends the TCP connection
            LOG.info("WebSocket %s disconnected (%s)", connection.connection_id, code)
            if not self._stopping:
                self._disconnect(connection, code)

    def _connect(self, connection: Connection) -> tuple[int, str] | None:
        """$connect: the authorizer, then the integration; (status, message) if the upgrade is refused."""
        stage = connection.stage
        route = stage.routes.get("$connect")
        if route is None:
            return None
        if route.authorization_type == "CUSTOM":
            try:
                connection.authorizer = self._authorize(connection, route)
            except BaseGatewayException as refused:
                status = int(refused.status_code)
                LOG.info("WebSocket connection to %s/%s refused by its authorizer: %s", stage.api_id, stage.stage_name, status)
                return status, refused.message or "Internal server error"
        answer = self._integrate(connection, route, _connect_event(connection, route.route_key))
        if answer is None:
            return 502, "Internal server error"
        status = answer.get("statusCode", 200) if isinstance(answer, dict) else 200
        if isinstance(status, int) and 200 <= status < 300:
            return None
        LOG.info("WebSocket connection to %s/%s refused by its $connect integration: %s", stage.api_id, stage.stage_name, status)
        return (status if isinstance(status, int) and 400 <= status < 600 else 502), "Connection refused"

    def _authorize(self, connection: Connection, route: WebSocketRoute) -> dict:
        stage = connection.stage
        authorizer = stage.authorizers.get(route.authorizer_id or "")
        if authorizer is None or authorizer.authorizer_type != "REQUEST":
            raise AuthorizerConfigurationError("Internal server error")
        started = time.monotonic()
        request = connection.request
        single, _ = _query(request)
        identity_values(
            list(authorizer.identity_source),
            "route.request.",
            headers=request.headers,
            query=single,
            stage_variables=stage.stage_variables,
            context_variables=_request_context(connection, route.route_key, "CONNECT"),
        )
        method_arn = f"arn:aws:execute-api:{stage.region}:{stage.account_id}:{stage.api_id}/{stage.stage_name}/{route.route_key}"
        event = {
            "type": "REQUEST",
            "methodArn": method_arn,
            **_connect_event(connection, route.route_key),
            "stageVariables": dict(stage.stage_variables),
        }
        event.pop("isBase64Encoded")
        answer = ask_authorizer(
            authorizer.authorizer_uri,
            region=stage.region,
            source_arn=f"arn:aws:execute-api:{stage.region}:{stage.account_id}:{stage.api_id}/authorizers/{authorizer.authorizer_id}",
            event=event,
        )
        enforce_policy(answer, method_arn)
        return authorizer_context(answer, started)

    def _on_message(self, connection: Connection, message: str | bytes) -> None:
        stage = connection.stage
        key = _route_key(stage.route_selection_expression, message)
        route = (stage.routes.get(key) if key not in CONNECTION_ROUTES else None) or stage.routes.get("$default")
        request_id = _new_id()
        if route is None:
            self._reply(connection, {"message": "Forbidden", "connectionId": connection.connection_id, "requestId": request_id})
            return
        binary = isinstance(message, bytes)
        event = {
            "requestContext": {
                **_request_context(connection, route.route_key, "MESSAGE", request_id),
                "messageId": _new_id(),
            },
            "body": base64.b64encode(message).decode() if binary else message,
            "isBase64Encoded": binary,
        }
        if self._integrate(connection, route, event) is None:
            reply = {"message": "Internal server error", "connectionId": connection.connection_id, "requestId": request_id}
            self._reply(connection, reply)

    def _disconnect(self, connection: Connection, code: int) -> None:
        route = connection.stage.routes.get("$disconnect")
        if route is None:
            return
        event = {
            "headers": dict(connection.request.headers.items()),
            "multiValueHeaders": _multi_value_headers(connection.request),
            "requestContext": {
                **_request_context(connection, route.route_key, "DISCONNECT"),
                "disconnectStatusCode": code,
                "disconnectReason": "",
            },
            "isBase64Encoded": False,
        }
        self._integrate(connection, route, event)

    def _integrate(self, connection: Connection, route: WebSocketRoute, event: dict) -> object:
        """The route's Lambda proxy integration called with `event`: its answer ({} without an
        integration), None if it failed or could not be called."""
        stage = connection.stage
        integration = stage.integrations.get(route.integration_id or "")
        if integration is None:
            return {}
        function = FUNCTION_IN_URI.search(integration.integration_uri or "")
        if integration.integration_type != "AWS_PROXY" or not function:
            LOG.warning("route %s of %s: only Lambda proxy integrations are supported", route.route_key, stage.api_id)
            return None
        source_arn = f"arn:aws:execute-api:{stage.region}:{stage.account_id}:{stage.api_id}/{stage.stage_name}/{route.route_key}"
        try:
            payload, failed = invoke_function(function["arn"], stage.region, source_arn, event)
        except Exception as error:
            LOG.warning("route %s of %s: the integration could not be invoked: %s", route.route_key, stage.api_id, error)
            return None
        if failed:
            LOG.info("route %s of %s: the function failed: %s", route.route_key, stage.api_id, payload)
            return None
        return payload if payload is not None else {}

    def _reply(self, connection: Connection, message: dict) -> None:
        try:
            connection.send(json.dumps(message).encode())
        except GoneError:
            pass

    # @connections, on the request's thread

    def _manage(self, chain: HandlerChain, method: str, data: bytes, stage: DeployedWebSocketStage, connection_id: str):
        with self._lock:
            connection = self._connections.get(connection_id)
        if connection is None or (connection.stage.api_id, connection.stage.stage_name) != (stage.api_id, stage.stage_name):
            return _gone(chain)
        if method == "POST":
            if len(data) > MAX_POST_BYTES:
                return chain.respond(413, {"message": "Message too long"}, {"x-amzn-ErrorType": "PayloadTooLargeException"})
            try:
                connection.send(data)
            except GoneError:
                return _gone(chain)
            connection.last_active_at = datetime.now(timezone.utc)
            return chain.respond(200, b"")
        if method == "GET":
            body = {
                "connectedAt": _iso(connection.connected_at),
                "identity": dict(connection.identity),
                "lastActiveAt": _iso(connection.last_active_at),
            }
            return chain.respond(200, body)
        if method == "DELETE":
            connection.close()
            return chain.respond(204, b"")
        return chain.respond(405, {"message": "Method Not Allowed"})


def _reject(request: WebSocketRequest, status: int, message: str) -> None:
    """The upgrade refused with an HTTP answer, and the TCP connection closed: rolo has already handed it
    to its WebSocket protocol, so a client that sent its next request on it would wait forever. The
    answer says `Connection: close`, or a keep-alive client could send its next request on the socket
    while it closes (Node's agent did: "socket hang up")."""
    channel = request.socket.channel
    if channel.closed:
        return  # the client gave up while $connect ran: nobody to answer
    answer = Response(json.dumps({"message": message}), status=status, mimetype="application/json", headers={"Connection": "close"})
    request.reject(answer)
    request.socket.channel.request.transport.loseConnection()


def _gone(chain: HandlerChain) -> None:
    chain.respond(410, {"message": None}, {"x-amzn-ErrorType": "GoneException"})


class MessageTooLarge(Exception):
    """A client message over API Gateway's 128 KB: the connection is closed with 1009."""


def _receive(channel: WebSocketChannel) -> str | bytes:
    """The next whole message from the connection's wsproto events.

    Not rolo's adapter: wsproto hands a message over in pieces as its bytes arrive (`message_finished`
    on the last), and the adapter passed each piece on as if it were a message, so a message split
    across reads reached its route in parts. Raises WebSocketDisconnectedError with the client's close
    code (1005 when it sent none), MessageTooLarge past 128 KB.
    """
    parts: list = []
    size = 0
    while True:
        event = channel.eventQueue.get()
        if isinstance(event, events.CloseConnection):
            raise WebSocketDisconnectedError(_close_code(channel, event))
        if not isinstance(event, (events.TextMessage, events.BytesMessage)):
            continue  # pongs (rolo answers pings itself)
        parts.append(event.data)
        size += len(event.data.encode()) if isinstance(event.data, str) else len(event.data)
        if size > MAX_MESSAGE_BYTES:
            raise MessageTooLarge()
        if event.message_finished:
            return "".join(parts) if isinstance(event, events.TextMessage) else b"".join(parts)


def _close_code(channel: WebSocketChannel, event: events.CloseConnection) -> int:
    """The client's close code. On a close frame rolo queues its own marker (no code) before the frame's
    event, so the code is in the event after it, when there is one."""
    if event.code is None:
        try:
            following = channel.eventQueue.get_nowait()
        except Empty:
            return 1005
        if isinstance(following, events.CloseConnection) and following.code is not None:
            return following.code
        return 1005
    return event.code


def _route_key(expression: str, message: str | bytes) -> str | None:
    """The value of `$request.body.<path>` in a JSON object message, if it is a string."""
    match = BODY_FIELD.fullmatch(expression or "")
    if not match or isinstance(message, bytes):
        return None
    try:
        value = json.loads(message)
    except ValueError:
        return None
    for name in match["path"].split("."):
        value = value.get(name) if isinstance(value, dict) else None
    return value if isinstance(value, str) else None


def _query(request: WebSocketRequest) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Query string parameters as API Gateway passes them: the last value of each, and all values."""
    args = request.args
    return {name: args.getlist(name)[-1] for name in args.keys()}, {name: args.getlist(name) for name in args.keys()}


def _multi_value_headers(request: WebSocketRequest) -> dict[str, list[str]]:
    return {name: request.headers.getlist(name) for name in dict(request.headers.items())}


def _request_context(connection: Connection, route_key: str, event_type: str, request_id: str | None = None) -> dict:
    stage = connection.stage
    now = datetime.now(timezone.utc)
    context = {
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": _new_id(),
        "requestTime": now.strftime(REQUEST_TIME_FORMAT),
        "messageDirection": "IN",
        "stage": stage.stage_name,
        "connectedAt": int(connection.connected_at.timestamp() * 1000),
        "requestTimeEpoch": int(now.timestamp() * 1000),
        "identity": dict(connection.identity),
        "requestId": request_id or _new_id(),
        "domainName": connection.request.host,
        "connectionId": connection.connection_id,
        "apiId": stage.api_id,
    }
    if connection.authorizer is not None:
        context["authorizer"] = connection.authorizer
    return context


def _connect_event(connection: Connection, route_key: str) -> dict:
    """The $connect integration's event (the authorizer's too, with its type, method ARN and stage variables)."""
    request = connection.request
    single, multi = _query(request)
    event = {"headers": dict(request.headers.items()), "multiValueHeaders": _multi_value_headers(request)}
    if single:
        event["queryStringParameters"] = single
        event["multiValueQueryStringParameters"] = multi
    event["requestContext"] = _request_context(connection, route_key, "CONNECT")
    event["isBase64Encoded"] = False
    return event
