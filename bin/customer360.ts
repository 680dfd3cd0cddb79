#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { buildApp } from '../lib/app.js';
import { ConfigError, loadConfig } from '../lib/config/load.js';

const app = new App();
const configFile = app.node.tryGetContext('config') as string | undefined;
try {
  buildApp(loadConfig(configFile), app);
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}
app.synth();
