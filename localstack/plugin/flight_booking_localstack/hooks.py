"""Installs the gateway extensions when LocalStack starts (entry point `localstack.hooks.on_infra_start`)."""

import logging

from localstack import config
from localstack.runtime import hooks

LOG = logging.getLogger(__name__)


@hooks.on_infra_start()
def install_gateway_extensions():
    # Imported here: the gateway's modules are loaded with the API Gateway service, not before start.
    from localstack.aws import handlers as main_handlers
    from localstack.runtime.shutdown import SHUTDOWN_HANDLERS
    from localstack.services.apigateway.next_gen.execute_api import handlers

    from .gateway_responses import render_gateway_response
    from .lambda_authorizers import LambdaAuthorizerHandler
    from .websocket_api import WebSocketApiHandler

    # preprocess_request is the chain's extension point, after routing and before the method request
    handlers.preprocess_request.append(LambdaAuthorizerHandler())
    # the one exception handler of the chain: its response, with the deployed gateway response applied
    handlers.gateway_exception_handler.create_exception_response = render_gateway_response

    # WebSocket APIs (websocket_api.py): LocalStack's main chain, which WebSocket upgrades go through too,
    # before its edge routes (the REST APIs' /_aws/execute-api/ paths among them)
    if config.GATEWAY_SERVER != "twisted":
        LOG.warning("WebSocket APIs are served with GATEWAY_SERVER=twisted only (not %s)", config.GATEWAY_SERVER)
        return
    websocket_apis = WebSocketApiHandler()
    main_handlers.preprocess_request.append(websocket_apis)
    SHUTDOWN_HANDLERS.register(websocket_apis.close_all)
