"""Installs the REST gateway extensions when LocalStack starts (entry point `localstack.hooks.on_infra_start`)."""

from localstack.runtime import hooks


@hooks.on_infra_start()
def install_rest_gateway_extensions():
    # Imported here: the gateway's modules are loaded with the API Gateway service, not before start.
    from localstack.services.apigateway.next_gen.execute_api import handlers

    from .gateway_responses import render_gateway_response
    from .lambda_authorizers import LambdaAuthorizerHandler

    # preprocess_request is the chain's extension point, after routing and before the method request
    handlers.preprocess_request.append(LambdaAuthorizerHandler())
    # the one exception handler of the chain: its response, with the deployed gateway response applied
    handlers.gateway_exception_handler.create_exception_response = render_gateway_response
