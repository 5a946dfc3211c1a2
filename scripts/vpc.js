'use strict';

/**
 * The functions in a VPC when the deployer names one, for a seats store only reachable there (MemoryDB,
 * ElastiCache): `custom.lambdaVpc` holds comma-separated subnet ids and security group ids from the
 * environment (docs/deploy-memorydb.md). Serverless variables cannot turn an environment variable into
 * "this list, or no `vpc` at all", so this plugin does: with both lists given it sets `provider.vpc`
 * (every function, and `sls deploy function` too); with neither, the template has no VpcConfig; with
 * one of the two, it stops.
 *
 * Lambda creates and removes the functions' network interfaces with the execution role. osls grants
 * that (the AWSLambdaVPCAccessExecutionRole managed policy) only to its own default role, which this
 * service does not have: every function runs with its service's role from serverless.yml. So each role
 * a function in the VPC runs with gets an inline policy with the EC2 actions of that managed policy
 * (its CloudWatch Logs actions are left out: the roles already write to their own log groups only).
 * "*" as in the managed policy: DescribeNetworkInterfaces works only on all resources, and the
 * interfaces the others act on do not exist before Lambda creates them.
 */
const NETWORK_INTERFACE_ACTIONS = [
  'ec2:CreateNetworkInterface',
  'ec2:DescribeNetworkInterfaces',
  'ec2:DescribeSubnets',
  'ec2:DeleteNetworkInterface',
  'ec2:AssignPrivateIpAddresses',
  'ec2:UnassignPrivateIpAddresses',
];
const NETWORK_INTERFACE_POLICY = 'lambda-vpc-network-interfaces';
// Lambda's limits for one function's VpcConfig.
const MAX_SUBNETS = 16;
const MAX_SECURITY_GROUPS = 5;

const commaList = (value) =>
  String(value ?? '')
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);

class Vpc {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = {
      // Before any command's own lifecycle, once the variables are resolved.
      initialize: () => this.placeFunctionsInVpc(),
      // After serverless.yml's own resources (the roles) are merged into the template.
      'before:aws:package:finalize:saveServiceState': () => this.allowNetworkInterfaces(),
    };
  }

  placeFunctionsInVpc() {
    const settings = this.serverless.service.custom?.lambdaVpc;
    if (!settings) return;
    const subnetIds = commaList(settings.subnetIds);
    const securityGroupIds = commaList(settings.securityGroupIds);
    if (subnetIds.length === 0 && securityGroupIds.length === 0) return;

    const problems = [];
    if (subnetIds.length === 0 || securityGroupIds.length === 0) problems.push('give both subnet ids and security group ids, or neither');
    const notSubnets = subnetIds.filter((id) => !/^subnet-[0-9a-f]+$/.test(id));
    const notSecurityGroups = securityGroupIds.filter((id) => !/^sg-[0-9a-f]+$/.test(id));
    if (notSubnets.length) problems.push(`not subnet ids: ${notSubnets.join(', ')}`);
    if (notSecurityGroups.length) problems.push(`not security group ids: ${notSecurityGroups.join(', ')}`);
    if (subnetIds.length > MAX_SUBNETS) problems.push(`at most ${MAX_SUBNETS} subnets`);
    if (securityGroupIds.length > MAX_SECURITY_GROUPS) problems.push(`at most ${MAX_SECURITY_GROUPS} security groups`);
    if (problems.length) throw new this.serverless.classes.Error(`custom.lambdaVpc: ${problems.join('; ')}`);

    this.serverless.service.provider.vpc = { subnetIds, securityGroupIds };
  }

  allowNetworkInterfaces() {
    const resources = this.serverless.service.provider.compiledCloudFormationTemplate.Resources;
    const roleIds = new Set();
    for (const [id, resource] of Object.entries(resources)) {
      if (resource.Type !== 'AWS::Lambda::Function' || !resource.Properties.VpcConfig) continue;
      const roleId = resource.Properties.Role?.['Fn::GetAtt']?.[0];
      if (!roleId || !resources[roleId]) {
        throw new this.serverless.classes.Error(`${id} runs in a VPC with a role this template does not declare: give that role the ENI permissions (${NETWORK_INTERFACE_ACTIONS.join(', ')})`);
      }
      roleIds.add(roleId);
    }
    for (const roleId of roleIds) {
      const role = resources[roleId].Properties;
      // osls's own role already has the managed policy.
      if ((role.ManagedPolicyArns ?? []).some((arn) => JSON.stringify(arn).includes('AWSLambdaVPCAccessExecutionRole'))) continue;
      role.Policies = [
        ...(role.Policies ?? []),
        {
          PolicyName: NETWORK_INTERFACE_POLICY,
          PolicyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: NETWORK_INTERFACE_ACTIONS, Resource: '*' }] },
        },
      ];
    }
  }
}

module.exports = Vpc;
module.exports.NETWORK_INTERFACE_ACTIONS = NETWORK_INTERFACE_ACTIONS;
