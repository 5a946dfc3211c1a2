'use strict';

/**
 * After `sls deploy`, invokes each service's keep-alive function once (asynchronously), so every service
 * is in the registry as soon as the deploy ends rather than at the schedule's next minute. Registration
 * and heartbeats are never on the request path (registry/self-registration.ts); `npm start` does the
 * same for the emulator (scripts/offline.ts). A failed invoke only delays registration to the next
 * scheduled run, so it is reported, not fatal.
 */
// A keep-alive runs only for its schedule's event (lib/triggers.ts): the deploy plays the schedule once.
const SCHEDULED_EVENT = JSON.stringify({ source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} });

class RegisterAfterDeploy {
  constructor(serverless, _options, { log } = {}) {
    this.serverless = serverless;
    this.log = log ?? { notice: console.log, warning: console.warn };
    this.hooks = { 'after:deploy:deploy': () => this.invokeKeepAlives() };
  }

  async invokeKeepAlives() {
    const provider = this.serverless.getProvider('aws');
    const keepAlives = this.serverless.service
      .getAllFunctions()
      .filter((name) => name.endsWith('KeepAlive'))
      .map((name) => this.serverless.service.getFunction(name).name);
    const results = await Promise.allSettled(
      keepAlives.map((FunctionName) => provider.request('Lambda', 'invoke', { FunctionName, InvocationType: 'Event', Payload: SCHEDULED_EVENT })),
    );
    results.forEach((result, i) => {
      if (result.status === 'rejected') this.log.warning(`${keepAlives[i]} was not invoked (${result.reason?.message}); its schedule registers it within a minute`);
    });
    this.log.notice(`Registry: ${results.filter((r) => r.status === 'fulfilled').length} of ${keepAlives.length} services asked to register now`);
  }
}

module.exports = RegisterAfterDeploy;
