'use strict';

/**
 * The secrets each function may read, from one table (`custom.secrets.byRole`: role → secret names).
 *
 * - Every function gets `SECRETS`, the names its role may read (names only: lib/secrets.ts fetches the
 *   values from SSM Parameter Store under `custom.secrets.path` on deployed stages; locally they are
 *   environment variables and the names change nothing).
 * - Every role listed gets `ssm:GetParameters` on exactly those parameters, and `kms:Decrypt` only
 *   through SSM for them (a SecureString under a customer managed key; the AWS managed key needs no
 *   grant), added to the role's inline policy in the compiled template.
 *
 * So no template, package or function configuration carries a secret's value, and a function reaches
 * only the secrets its service uses (the deploy check packages a stage with planted values to prove it).
 */
class Secrets {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = {
      // Before any command's own lifecycle (sls offline's too), once the variables are resolved.
      initialize: () => this.nameSecrets(),
      // After serverless.yml's own resources (the roles) are merged into the template.
      'before:aws:package:finalize:saveServiceState': () => this.grantReads(),
    };
  }

  settings() {
    const settings = this.serverless.service.custom?.secrets;
    if (!settings?.path || !settings.byRole) throw new this.serverless.classes.Error('custom.secrets needs a path and byRole (scripts/secrets-plugin.js)');
    return settings;
  }

  nameSecrets() {
    const { byRole } = this.settings();
    for (const [name, fn] of Object.entries(this.serverless.service.functions ?? {})) {
      const names = byRole[fn.role];
      if (!names) throw new this.serverless.classes.Error(`function ${name}: its role ${fn.role} is not in custom.secrets.byRole`);
      fn.environment = { ...fn.environment, SECRETS: names.join(',') };
    }
  }

  grantReads() {
    const { path, byRole } = this.settings();
    const resources = this.serverless.service.provider.compiledCloudFormationTemplate.Resources;
    const parameterArn = (name) => ({ 'Fn::Join': ['', ['arn:aws:ssm:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, `:parameter${path}${name}`]] });
    for (const [role, names] of Object.entries(byRole)) {
      if (names.length === 0) continue;
      const policy = resources[role]?.Properties?.Policies?.[0]?.PolicyDocument;
      if (!policy) throw new this.serverless.classes.Error(`custom.secrets.byRole names ${role}, which is not a role with an inline policy`);
      policy.Statement.push(
        { Effect: 'Allow', Action: ['ssm:GetParameters'], Resource: names.map(parameterArn) },
        {
          Effect: 'Allow',
          Action: ['kms:Decrypt'],
          Resource: { 'Fn::Join': ['', ['arn:aws:kms:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':key/*']] },
          Condition: {
            StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', ['ssm.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } },
            StringLike: { 'kms:EncryptionContext:PARAMETER_ARN': names.map(parameterArn) },
          },
        },
      );
    }
  }
}

module.exports = Secrets;
