'use strict';

/**
 * The REST API's Deployment waits for its gateway responses.
 *
 * API Gateway serves a stage from a snapshot of the API taken when its Deployment is created; a
 * GatewayResponse created after that snapshot is not served until the next deployment. osls makes its
 * Deployment depend on the methods only, and CloudFormation creates the GatewayResponse resources of
 * `resources:` in parallel, so on a first deploy the stage may answer with API Gateway's default
 * `{"message": ...}` bodies instead of our problem JSON (LocalStack, which snapshots the same way,
 * did exactly that). This plugin adds every GatewayResponse of the API to the Deployment's DependsOn
 * once the template is complete.
 */
class DeploymentOrder {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = { 'after:aws:package:finalize:mergeCustomProviderResources': () => this.orderDeployment() };
  }

  orderDeployment() {
    const resources = this.serverless.service.provider.compiledCloudFormationTemplate.Resources;
    const responses = Object.keys(resources).filter((name) => resources[name].Type === 'AWS::ApiGateway::GatewayResponse');
    for (const resource of Object.values(resources)) {
      if (resource.Type !== 'AWS::ApiGateway::Deployment') continue;
      const dependsOn = [resource.DependsOn ?? []].flat();
      resource.DependsOn = [...new Set([...dependsOn, ...responses])];
    }
  }
}

module.exports = DeploymentOrder;
