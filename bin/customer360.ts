#!/usr/bin/env node
import { existsSync } from 'node:fs';
import { App } from 'aws-cdk-lib';
import { buildApp } from '../lib/app.js';
import { assertDeployable } from '../lib/config/deployable.js';
import { ConfigError, DEFAULT_CONFIG_FILE, loadConfig } from '../lib/config/load.js';

const app = new App();
const configFile = app.node.tryGetContext('config') as string | undefined;
// `-c allowPlaceholders=true` synthesizes the defaults' placeholder network for a look at the
// template offline; without it this entry point is the deploying one and refuses them.
const allowPlaceholders = String(app.node.tryGetContext('allowPlaceholders') ?? false) === 'true';
try {
  const config = loadConfig(configFile);
  if (!allowPlaceholders) {
    assertDeployable(
      config,
      configFile ??
        (existsSync(DEFAULT_CONFIG_FILE)
          ? DEFAULT_CONFIG_FILE
          : `the default configuration (no ${DEFAULT_CONFIG_FILE})`),
    );
  }
  buildApp(config, app);
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}
app.synth();
