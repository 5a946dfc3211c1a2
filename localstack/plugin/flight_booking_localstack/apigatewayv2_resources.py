"""CloudFormation resource providers for the `AWS::ApiGatewayV2::*` types a WebSocket API needs.

LocalStack community has none of them (stock LocalStack skips the resources with a warning when
CFN_IGNORE_UNSUPPORTED_RESOURCE_TYPES is set, and fails the stack otherwise). Each provider here
creates, updates and deletes its resource through the `apigatewayv2` API of `apigatewayv2.py`, the
calls CloudFormation makes on AWS, so the packaged template deploys unchanged: Api, Integration,
Authorizer, Route, Deployment, Stage. A property reaches the API when the operation has a member of
that name (CloudFormation's and the API's names are the same for these types), typed as the
operation's input shape says. Registered under `localstack.cloudformation.resource_providers`.
"""

from __future__ import annotations

from botocore import xform_name
from localstack.services.cloudformation.provider_utils import convert_request_kwargs
from localstack.services.cloudformation.resource_provider import (
    CloudFormationResourceProviderPlugin,
    OperationStatus,
    ProgressEvent,
    ResourceProvider,
    ResourceRequest,
)


class ApiGatewayV2Resource(ResourceProvider[dict]):
    """One resource type: its id property, its operations' names, the properties it cannot change in place."""

    resource: str  # Api, Integration, ... (the type's last part and its operations' noun)
    id_property: str  # the read-only id CloudFormation's Ref answers
    create_only: tuple[str, ...] = ("ApiId",)
    read_only: tuple[str, ...] = ()

    @classmethod
    def schema(cls) -> dict:
        return {
            "typeName": f"AWS::ApiGatewayV2::{cls.resource}",
            "description": "Minimal schema for the flight-booking LocalStack plugin (apigatewayv2_resources.py)",
            "properties": {},
            "primaryIdentifier": [f"/properties/{cls.id_property}"],
            "readOnlyProperties": [f"/properties/{name}" for name in (cls.id_property, *cls.read_only) if name != "StageName"],
            "createOnlyProperties": [f"/properties/{name}" for name in cls.create_only],
        }

    def _call(self, request: ResourceRequest[dict], operation: str, model: dict) -> dict:
        client = request.aws_client_factory.apigatewayv2
        shape = client.meta.service_model.operation_model(operation).input_shape
        parameters = convert_request_kwargs({name: value for name, value in model.items() if name in shape.members}, shape)
        return getattr(client, xform_name(operation))(**parameters)

    def _done(self, request: ResourceRequest[dict], model: dict) -> ProgressEvent[dict]:
        return ProgressEvent(status=OperationStatus.SUCCESS, resource_model=model, custom_context=request.custom_context)

    def created(self, answer: dict, model: dict) -> None:
        """Copies the created resource's read-only properties (its id) into the model."""
        model[self.id_property] = answer[self.id_property]

    def create(self, request: ResourceRequest[dict]) -> ProgressEvent[dict]:
        model = request.desired_state
        self.created(self._call(request, f"Create{self.resource}", model), model)
        return self._done(request, model)

    def update(self, request: ResourceRequest[dict]) -> ProgressEvent[dict]:
        model = request.desired_state
        for name in (self.id_property, *self.read_only):
            if name in (request.previous_state or {}):
                model.setdefault(name, request.previous_state[name])
        self._call(request, f"Update{self.resource}", model)
        return self._done(request, model)

    def delete(self, request: ResourceRequest[dict]) -> ProgressEvent[dict]:
        model = request.desired_state
        try:
            self._call(request, f"Delete{self.resource}", model)
        except request.aws_client_factory.apigatewayv2.exceptions.NotFoundException:
            pass  # deleted with its API already
        return self._done(request, model)

    def read(self, request: ResourceRequest[dict]) -> ProgressEvent[dict]:
        raise NotImplementedError


class Api(ApiGatewayV2Resource):
    resource, id_property = "Api", "ApiId"
    create_only = ("ProtocolType",)
    read_only = ("ApiEndpoint",)

    def created(self, answer: dict, model: dict) -> None:
        model["ApiId"], model["ApiEndpoint"] = answer["ApiId"], answer["ApiEndpoint"]


class Integration(ApiGatewayV2Resource):
    resource, id_property = "Integration", "IntegrationId"


class Authorizer(ApiGatewayV2Resource):
    resource, id_property = "Authorizer", "AuthorizerId"


class Route(ApiGatewayV2Resource):
    resource, id_property = "Route", "RouteId"


class Deployment(ApiGatewayV2Resource):
    resource, id_property = "Deployment", "DeploymentId"


class Stage(ApiGatewayV2Resource):
    # Ref answers the stage's name, which is also how the API names it
    resource, id_property = "Stage", "StageName"
    create_only = ("ApiId", "StageName")

    def created(self, answer: dict, model: dict) -> None:
        pass  # named by the template


def _plugin(provider: type[ApiGatewayV2Resource]) -> type[CloudFormationResourceProviderPlugin]:
    """The plugin class LocalStack loads for one type (one entry point per type in pyproject.toml)."""
    type_name = f"AWS::ApiGatewayV2::{provider.resource}"
    concrete = type(f"{provider.resource}Provider", (provider,), {"TYPE": type_name, "SCHEMA": provider.schema()})

    def load(self):
        self.factory = concrete

    return type(f"{provider.resource}ProviderPlugin", (CloudFormationResourceProviderPlugin,), {"name": type_name, "factory": None, "load": load})


ApiPlugin = _plugin(Api)
IntegrationPlugin = _plugin(Integration)
AuthorizerPlugin = _plugin(Authorizer)
RoutePlugin = _plugin(Route)
DeploymentPlugin = _plugin(Deployment)
StagePlugin = _plugin(Stage)
