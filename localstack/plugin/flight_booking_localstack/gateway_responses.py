"""The REST API's gateway responses, answered whole: status, headers and body, as API Gateway answers them.

LocalStack community answers a gateway error (401, 403, an authorizer failure, no such route, ...) with
the status code of the API's GatewayResponse for that type, but with its own headers and body
(`{"message": ...}`): applying the response parameters and templates is a TODO in its
`handlers/gateway_exception.py`. `render_gateway_response` replaces that handler's
`create_exception_response` (installed in hooks.py): it takes the deployment's gateway response for the
error's type (or the DEFAULT_4XX/5XX one, or API Gateway's default, by LocalStack's own lookup), sets
the headers of its `gatewayresponse.header.*` parameters (static values, `context.*`,
`method.request.header|querystring|path.*`, `stageVariables.*`) and renders its template with
LocalStack's VTL engine (`$context.error.messageString` and friends).

For the stack's gateway responses to be in the deployment at all, the Deployment must be created after
them; scripts/deployment-order.js makes the packaged template say so (on AWS too).
"""

from __future__ import annotations

import json
import logging

from localstack.services.apigateway.next_gen.execute_api.context import RestApiInvocationContext
from localstack.services.apigateway.next_gen.execute_api.gateway_response import (
    BaseGatewayException,
    get_gateway_response_or_default,
)
from localstack.services.apigateway.next_gen.execute_api.template_mapping import ApiGatewayVtlTemplate
from rolo import Response
from werkzeug.datastructures import Headers

LOG = logging.getLogger(__name__)

HEADER_PARAMETER = "gatewayresponse.header."
TEMPLATE_ORDER = ("application/json",)


def render_gateway_response(exception: BaseGatewayException, context: RestApiInvocationContext) -> Response:
    configured = {}
    if context.deployment is not None:
        configured = context.deployment.rest_api.gateway_responses
    gateway_response = get_gateway_response_or_default(exception.type, configured)
    status = gateway_response.get("statusCode") or exception.status_code or 500
    headers = Headers({"Content-Type": "application/json", "x-amzn-ErrorType": exception.code})
    for parameter, expression in (gateway_response.get("responseParameters") or {}).items():
        if not parameter.startswith(HEADER_PARAMETER):
            continue
        value = _parameter_value(expression, context)
        if value is not None:
            headers[parameter.removeprefix(HEADER_PARAMETER)] = value
    return Response(response=_body(gateway_response, exception, context), headers=headers, status=int(status))


def _parameter_value(expression: str, context: RestApiInvocationContext) -> str | None:
    """A response parameter's value: `'static'`, or one of the request's or the context's values."""
    if len(expression) >= 2 and expression.startswith("'") and expression.endswith("'"):
        return expression[1:-1]
    request = context.invocation_request or {}
    sources = {
        "method.request.header.": lambda name: (request.get("headers") or {}).get(name),
        "method.request.querystring.": lambda name: (request.get("query_string_parameters") or {}).get(name),
        "method.request.path.": lambda name: (request.get("path_parameters") or {}).get(name),
        "stageVariables.": lambda name: (context.stage_variables or {}).get(name),
        "context.": lambda name: _context_value(context, name),
    }
    for prefix, read in sources.items():
        if expression.startswith(prefix):
            value = read(expression.removeprefix(prefix))
            return None if value is None else str(value)
    LOG.warning("gateway response parameter %s is not supported; header left out", expression)
    return None


def _context_value(context: RestApiInvocationContext, dotted: str):
    value = context.context_variables or {}
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _body(gateway_response: dict, exception: BaseGatewayException, context: RestApiInvocationContext) -> str:
    templates = gateway_response.get("responseTemplates") or {}
    template = next((templates[t] for t in TEMPLATE_ORDER if t in templates), None)
    if template is None and templates:
        template = next(iter(templates.values()))
    if not template:
        return ""
    if "$" not in template:
        return template
    variables = {
        # API Gateway's messageString is the message as a JSON string (quoted), message the raw text
        "context": {
            **(context.context_variables or {}),
            "error": {
                "message": exception.message or "",
                "messageString": json.dumps(exception.message),
                "responseType": exception.type,
                "validationErrorString": "",
            },
        },
        "stageVariables": context.stage_variables or {},
    }
    return ApiGatewayVtlTemplate().render_vtl(template=template.strip(), variables=variables)
