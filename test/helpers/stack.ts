import { Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../../lib/app.js';
import { parseConfig } from '../../lib/config/load.js';
import type { Customer360ConfigInput } from '../../lib/config/schema.js';

/** Builds the app for a configuration and synthesizes its stack (running the cdk-nag validation). */
export function synthStack(input: Customer360ConfigInput = {}) {
  const { app, stack } = buildApp(parseConfig(input));
  return { app, stack, template: Template.fromStack(stack) };
}
