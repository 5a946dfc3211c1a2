"""API Gateway v2 for LocalStack community (`apigatewayv2`): the control plane of WebSocket APIs.

LocalStack's open-source core has no `apigatewayv2` provider. moto models most of its resources
(APIs, routes, integrations, authorizers, stages), so this provider lets every operation fall through
to moto, as `dynamodb_moto.py` does, and adds what moto lacks:

- **Deployments** (Create/Get/Update/DeleteDeployment, GetDeployments). A deployment is a snapshot:
  API Gateway serves a stage from the routes, integrations and authorizers as they were when the
  stage's deployment was created, not as they are now. `deployed_stage()` answers that snapshot to
  the data plane (`websocket_api.py`).
- **A stage's deployment**: `DeploymentId` on Create/Get/GetStages, and UpdateStage (moto has none),
  which CloudFormation needs when a redeploy points the stage at a new deployment.
- **The API's endpoint**: a WebSocket API's `ApiEndpoint` is LocalStack's path-style URL
  (`ws://<LocalStack>/_aws/execute-api/<apiId>`), which works on a host without DNS tricks.

Only WebSocket APIs are served by the data plane; HTTP APIs can be created here (moto) but nothing
answers their requests. Registered under `localstack.aws.provider` as `apigatewayv2:default`.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import MappingProxyType

from localstack import config
from localstack.aws.api import CommonServiceException, RequestContext, handler
from localstack.aws.skeleton import create_dispatch_table
from localstack.aws.spec import load_service
from localstack.services.moto import _proxy_moto, call_moto
from localstack.services.plugins import Service, aws_provider
from localstack.services.stores import AccountRegionBundle, BaseStore, LocalAttribute
from moto.apigatewayv2.models import Api, ApiGatewayV2Backend, Stage, apigatewayv2_backends

EXECUTE_API_PATH = "/_aws/execute-api"
ID_ALPHABET = string.ascii_lowercase + string.digits


@dataclass(frozen=True)
class WebSocketRoute:
    route_key: str
    authorization_type: str
    authorizer_id: str | None
    integration_id: str | None


@dataclass(frozen=True)
class WebSocketIntegration:
    integration_id: str
    integration_type: str
    integration_uri: str


@dataclass(frozen=True)
class WebSocketAuthorizer:
    authorizer_id: str
    name: str
    authorizer_type: str
    authorizer_uri: str
    identity_source: tuple[str, ...]


@dataclass(frozen=True)
class ApiSnapshot:
    """An API's routes, integrations and authorizers when a deployment was created."""

    route_selection_expression: str
    routes: Mapping[str, WebSocketRoute]
    integrations: Mapping[str, WebSocketIntegration]
    authorizers: Mapping[str, WebSocketAuthorizer]


@dataclass(frozen=True)
class DeployedWebSocketStage:
    """What the data plane serves for `<apiId>/<stage>`: the stage's deployment's snapshot."""

    account_id: str
    region: str
    api_id: str
    stage_name: str
    deployment_id: str
    route_selection_expression: str
    routes: Mapping[str, WebSocketRoute]
    integrations: Mapping[str, WebSocketIntegration]
    authorizers: Mapping[str, WebSocketAuthorizer]
    stage_variables: Mapping[str, str]


@dataclass
class Deployment:
    deployment_id: str
    description: str | None
    created: datetime
    snapshot: ApiSnapshot = field(repr=False)

    def to_response(self) -> dict:
        answer = {"DeploymentId": self.deployment_id, "DeploymentStatus": "DEPLOYED", "CreatedDate": self.created, "AutoDeployed": False}
        if self.description:
            answer["Description"] = self.description
        return answer


class ApiGatewayV2Store(BaseStore):
    # API id -> deployment id -> deployment
    deployments: dict[str, dict[str, Deployment]] = LocalAttribute(default=dict)


stores = AccountRegionBundle("apigatewayv2", ApiGatewayV2Store)


def _not_found(what: str) -> CommonServiceException:
    return CommonServiceException("NotFoundException", f"Invalid {what} specified", status_code=404)


def _backend(context: RequestContext) -> ApiGatewayV2Backend:
    return apigatewayv2_backends[context.account_id][context.region]


def _api(context: RequestContext, api_id: str) -> Api:
    api = _backend(context).apis.get(api_id)
    if api is None:
        raise _not_found("API identifier")
    return api


def _stage(context: RequestContext, api_id: str, stage_name: str) -> Stage:
    stage = _api(context, api_id).stages.get(stage_name)
    if stage is None:
        raise _not_found("stage identifier")
    return stage


# UpdateStage's members that moto's Stage keeps, by attribute
STAGE_SETTINGS = {
    "Description": "description",
    "DefaultRouteSettings": "default_route_settings",
    "AccessLogSettings": "access_log_settings",
    "RouteSettings": "route_settings",
    "StageVariables": "stage_variables",
}


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _pascal(name: str) -> str:
    return name[:1].upper() + name[1:]


def _settings(member: str, value, rename):
    """A stage member with its settings' keys renamed (stage variables and route keys are names: kept)."""
    flat = lambda settings: {rename(key): item for key, item in settings.items()}  # noqa: E731
    if member in ("DefaultRouteSettings", "AccessLogSettings"):
        return flat(value)
    if member == "RouteSettings":
        return {route_key: flat(settings) for route_key, settings in value.items()}
    return value


def _integration_id(target: str | None) -> str | None:
    return target.split("/", 1)[1] if target and target.startswith("integrations/") else None


def _snapshot(api: Api) -> ApiSnapshot:
    routes = {
        route.route_key: WebSocketRoute(route.route_key, route.authorization_type or "NONE", route.authorizer_id, _integration_id(route.target))
        for route in api.routes.values()
    }
    integrations = {
        integration.id: WebSocketIntegration(integration.id, integration.integration_type, integration.integration_uri or "")
        for integration in api.integrations.values()
    }
    authorizers = {
        authorizer.id: WebSocketAuthorizer(authorizer.id, authorizer.name, authorizer.authorizer_type, authorizer.authorizer_uri or "", tuple(authorizer.identity_source or ()))
        for authorizer in api.authorizers.values()
    }
    return ApiSnapshot(api.route_selection_expression, MappingProxyType(routes), MappingProxyType(integrations), MappingProxyType(authorizers))


def websocket_endpoint(api_id: str) -> str:
    return f"{config.external_service_url(protocol='ws')}{EXECUTE_API_PATH}/{api_id}"


class ApiGatewayV2Provider:
    """The operations moto lacks or answers incompletely; everything else is moto's (see `dispatch_table`)."""

    service = "apigatewayv2"

    @handler("CreateApi", expand=False)
    def create_api(self, context: RequestContext, request: dict) -> dict:
        answer = call_moto(context)
        if answer.get("ProtocolType") == "WEBSOCKET":
            _api(context, answer["ApiId"]).api_endpoint = answer["ApiEndpoint"] = websocket_endpoint(answer["ApiId"])
        return answer

    @handler("DeleteApi", expand=False)
    def delete_api(self, context: RequestContext, request: dict) -> None:
        call_moto(context)
        stores[context.account_id][context.region].deployments.pop(request["ApiId"], None)

    @handler("CreateDeployment", expand=False)
    def create_deployment(self, context: RequestContext, request: dict) -> dict:
        api_id = request["ApiId"]
        stage = _stage(context, api_id, request["StageName"]) if request.get("StageName") else None
        deployment = Deployment(
            deployment_id="".join(secrets.choice(ID_ALPHABET) for _ in range(6)),
            description=request.get("Description"),
            created=datetime.now(tz=timezone.utc),
            snapshot=_snapshot(_api(context, api_id)),
        )
        stores[context.account_id][context.region].deployments.setdefault(api_id, {})[deployment.deployment_id] = deployment
        if stage:
            stage.config["deploymentId"] = deployment.deployment_id
        return deployment.to_response()

    def _deployment(self, context: RequestContext, api_id: str, deployment_id: str) -> Deployment:
        _api(context, api_id)
        found = stores[context.account_id][context.region].deployments.get(api_id, {}).get(deployment_id)
        if not found:
            raise _not_found("deployment identifier")
        return found

    @handler("GetDeployment", expand=False)
    def get_deployment(self, context: RequestContext, request: dict) -> dict:
        return self._deployment(context, request["ApiId"], request["DeploymentId"]).to_response()

    @handler("GetDeployments", expand=False)
    def get_deployments(self, context: RequestContext, request: dict) -> dict:
        _api(context, request["ApiId"])
        deployments = stores[context.account_id][context.region].deployments.get(request["ApiId"], {})
        return {"Items": [deployment.to_response() for deployment in deployments.values()]}

    @handler("UpdateDeployment", expand=False)
    def update_deployment(self, context: RequestContext, request: dict) -> dict:
        deployment = self._deployment(context, request["ApiId"], request["DeploymentId"])
        if "Description" in request:
            deployment.description = request["Description"]
        return deployment.to_response()

    @handler("DeleteDeployment", expand=False)
    def delete_deployment(self, context: RequestContext, request: dict) -> None:
        self._deployment(context, request["ApiId"], request["DeploymentId"])
        in_use = [stage.name for stage in _api(context, request["ApiId"]).stages.values() if stage.config.get("deploymentId") == request["DeploymentId"]]
        if in_use:
            raise CommonServiceException("BadRequestException", f"Active stages pointing to this deployment must be moved or deleted: {', '.join(in_use)}", status_code=400)
        del stores[context.account_id][context.region].deployments[request["ApiId"]][request["DeploymentId"]]

    @handler("CreateStage", expand=False)
    def create_stage(self, context: RequestContext, request: dict) -> dict:
        if request.get("DeploymentId"):
            self._deployment(context, request["ApiId"], request["DeploymentId"])
        return self._with_deployment(context, request["ApiId"], call_moto(context))

    @handler("GetStage", expand=False)
    def get_stage(self, context: RequestContext, request: dict) -> dict:
        return self._with_deployment(context, request["ApiId"], call_moto(context))

    @handler("GetStages", expand=False)
    def get_stages(self, context: RequestContext, request: dict) -> dict:
        answer = call_moto(context)
        answer["Items"] = [self._with_deployment(context, request["ApiId"], stage) for stage in answer.get("Items", [])]
        return answer

    @handler("UpdateStage", expand=False)
    def update_stage(self, context: RequestContext, request: dict) -> dict:
        stage = _stage(context, request["ApiId"], request["StageName"])
        if request.get("DeploymentId"):
            self._deployment(context, request["ApiId"], request["DeploymentId"])
            stage.config["deploymentId"] = request["DeploymentId"]
        # moto keeps the members as its REST body had them (camelCase), and answers GetStage from them
        for member, attribute in STAGE_SETTINGS.items():
            if member in request:
                setattr(stage, attribute, _settings(member, request[member], _camel))
        stage.updated = datetime.now()
        answer = {member: _settings(member, getattr(stage, attribute), _pascal) for member, attribute in STAGE_SETTINGS.items() if getattr(stage, attribute, None)}
        return self._with_deployment(context, request["ApiId"], {**answer, "StageName": stage.name, "CreatedDate": stage.created, "LastUpdatedDate": stage.updated})

    def _with_deployment(self, context: RequestContext, api_id: str, stage: dict) -> dict:
        deployment_id = _stage(context, api_id, stage["StageName"]).config.get("deploymentId")
        return {**stage, "DeploymentId": deployment_id} if deployment_id else stage


def dispatch_table(provider: ApiGatewayV2Provider):
    """The provider's operations, and moto for every other operation of the service."""
    table = create_dispatch_table(provider)
    for operation in load_service("apigatewayv2").operation_names:
        table.setdefault(operation, _proxy_moto)
    return table


def is_websocket_api(api_id: str) -> bool:
    return _find_api(api_id) is not None


def _find_api(api_id: str) -> tuple[str, str, object] | None:
    for account_id, regions in list(apigatewayv2_backends.items()):
        for region, backend in list(regions.items()):
            api = backend.apis.get(api_id)
            if api is not None and api.protocol_type == "WEBSOCKET":
                return account_id, region, api
    return None


def deployed_stage(api_id: str, stage_name: str) -> DeployedWebSocketStage | None:
    """The stage of a WebSocket API as its deployment made it, or None (no such API, stage or deployment)."""
    found = _find_api(api_id)
    if found is None:
        return None
    account_id, region, api = found
    stage = api.stages.get(stage_name)
    deployment_id = stage.config.get("deploymentId") if stage else None
    deployment = stores[account_id][region].deployments.get(api_id, {}).get(deployment_id) if deployment_id else None
    if deployment is None:
        return None
    snapshot = deployment.snapshot
    return DeployedWebSocketStage(
        account_id=account_id,
        region=region,
        api_id=api_id,
        stage_name=stage_name,
        deployment_id=deployment_id,
        route_selection_expression=snapshot.route_selection_expression,
        routes=snapshot.routes,
        integrations=snapshot.integrations,
        authorizers=snapshot.authorizers,
        stage_variables=MappingProxyType(dict(stage.stage_variables or {})),
    )


@aws_provider(api="apigatewayv2", name="default")
def apigatewayv2():
    return Service.for_provider(ApiGatewayV2Provider(), dispatch_table_factory=dispatch_table)
