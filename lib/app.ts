import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import type { Customer360Config } from './config/schema.js';
import { Customer360Stack } from './stacks/customer360-stack.js';

/**
 * Builds the CDK app for a configuration, with cdk-nag's AwsSolutions and Serverless packs wired into
 * CDK's own validation so that `cdk synth` fails on any unacknowledged finding, warnings included.
 * Shared by bin/ and the tests.
 */
export function buildApp(config: Customer360Config, app = new App()): { app: App; stack: Customer360Stack } {
  const stack = new Customer360Stack(app, `Customer360-${config.environment}`, {
    config,
    description: 'Customer 360 analytics pipeline: data lake, catalog, ingestion and orchestration',
    ...(config.account !== undefined || config.region !== undefined
      ? { env: { account: config.account, region: config.region } }
      : {}),
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
  return { app, stack };
}
