'use strict';

/**
 * Stage-wide throttling for deployed stages, in the CloudFormation template itself.
 *
 * osls sets a REST API stage's settings with SDK calls after the deploy (its `updateStage` hack), which
 * has no throttling, and its Deployment resource carries no `StageDescription`. This plugin adds one
 * to the compiled Deployment: `ThrottlingRateLimit` / `ThrottlingBurstLimit` from `custom.stageThrottling`,
 * so every deploy brings the limits and the deploy check can read them in the packaged template. These
 * cap the whole API (all callers together) in front of the per-caller limits of lib/http/rate-limit.ts;
 * a caller past them gets the THROTTLED gateway response (429 problem JSON).
 */
class StageThrottling {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = { 'after:package:compileEvents': () => this.addThrottling() };
  }

  addThrottling() {
    const settings = this.serverless.service.custom?.stageThrottling;
    if (!settings) return;
    const resources = this.serverless.service.provider.compiledCloudFormationTemplate.Resources;
    for (const resource of Object.values(resources)) {
      if (resource.Type !== 'AWS::ApiGateway::Deployment') continue;
      resource.Properties.StageDescription = {
        ...resource.Properties.StageDescription,
        ThrottlingRateLimit: Number(settings.rateLimit),
        ThrottlingBurstLimit: Number(settings.burstLimit),
      };
    }
  }
}

module.exports = StageThrottling;
