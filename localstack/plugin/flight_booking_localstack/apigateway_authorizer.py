"""A CloudFormation resource provider for AWS::ApiGateway::Authorizer.

LocalStack's open-source core has the API (CreateAuthorizer, ...) but no CloudFormation resource
provider for this type: stock LocalStack community skips the resource (a warning, no authorizer id)
and then fails on the first method that references it ("Invalid authorizer ID specified"), so a
stack with a Lambda authorizer does not deploy there at all. This provider creates the authorizer
through LocalStack's own API Gateway, so the methods deploy with authorizationType CUSTOM.

It does not make LocalStack *run* the authorizer: the open-source gateway invokes no Lambda
authorizer, so a protected route reaches its function without an authorizer context (and this
project's functions answer 401). Registered under `localstack.cloudformation.resource_providers`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TypedDict

from localstack.services.cloudformation.resource_provider import (
    CloudFormationResourceProviderPlugin,
    OperationStatus,
    ProgressEvent,
    ResourceProvider,
    ResourceRequest,
)


class AuthorizerProperties(TypedDict, total=False):
    RestApiId: str
    AuthorizerId: str
    Name: str
    Type: str
    AuthorizerUri: str
    AuthorizerCredentials: str
    AuthorizerResultTtlInSeconds: int
    AuthType: str
    IdentitySource: str
    IdentityValidationExpression: str
    ProviderARNs: list[str]


# CloudFormation property → CreateAuthorizer parameter
PARAMETERS = {
    "Name": "name",
    "Type": "type",
    "AuthorizerUri": "authorizerUri",
    "AuthorizerCredentials": "authorizerCredentials",
    "AuthorizerResultTtlInSeconds": "authorizerResultTtlInSeconds",
    "AuthType": "authType",
    "IdentitySource": "identitySource",
    "IdentityValidationExpression": "identityValidationExpression",
    "ProviderARNs": "providerARNs",
}


class ApiGatewayAuthorizerProvider(ResourceProvider[AuthorizerProperties]):
    TYPE = "AWS::ApiGateway::Authorizer"
    SCHEMA = json.loads(Path(__file__).with_name("apigateway_authorizer.schema.json").read_text())

    def create(self, request: ResourceRequest[AuthorizerProperties]) -> ProgressEvent[AuthorizerProperties]:
        model = request.desired_state
        parameters = {target: model[source] for source, target in PARAMETERS.items() if model.get(source) is not None}
        if "authorizerResultTtlInSeconds" in parameters:
            parameters["authorizerResultTtlInSeconds"] = int(parameters["authorizerResultTtlInSeconds"])
        created = request.aws_client_factory.apigateway.create_authorizer(restApiId=model["RestApiId"], **parameters)
        model["AuthorizerId"] = created["id"]
        return ProgressEvent(status=OperationStatus.SUCCESS, resource_model=model, custom_context=request.custom_context)

    def read(self, request: ResourceRequest[AuthorizerProperties]) -> ProgressEvent[AuthorizerProperties]:
        raise NotImplementedError

    def delete(self, request: ResourceRequest[AuthorizerProperties]) -> ProgressEvent[AuthorizerProperties]:
        model = request.desired_state
        try:
            request.aws_client_factory.apigateway.delete_authorizer(restApiId=model["RestApiId"], authorizerId=model["AuthorizerId"])
        except Exception:  # the API may be gone already
            pass
        return ProgressEvent(status=OperationStatus.SUCCESS, resource_model=model, custom_context=request.custom_context)

    def update(self, request: ResourceRequest[AuthorizerProperties]) -> ProgressEvent[AuthorizerProperties]:
        raise NotImplementedError


class ApiGatewayAuthorizerProviderPlugin(CloudFormationResourceProviderPlugin):
    name = "AWS::ApiGateway::Authorizer"

    def __init__(self):
        self.factory = None

    def load(self):
        self.factory = ApiGatewayAuthorizerProvider
