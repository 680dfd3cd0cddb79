import { readFileSync } from 'node:fs';
import { Logger } from '@aws-lambda-powertools/logger';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { parseConfig } from '../../lib/config/load.js';
import { publishedMetricLine } from '../../lib/pipeline/metrics.js';
import { runControl, runControlInputSchema } from '../../lib/pipeline/run-control.js';
import { environmentSchema, s3ControlStore, stepFunctionsExecutions } from './handler.js';

const logger = new Logger({ serviceName: 'customer360-run-control' });
const environment = environmentSchema.parse(process.env);
const config = parseConfig(
  JSON.parse(readFileSync(environment.CONFIG_FILE, 'utf8')),
  environment.CONFIG_FILE,
);
const s3 = new S3Client({});
const deps = {
  config,
  control: s3ControlStore(s3, environment.BUCKETS.analytics),
  executions: stepFunctionsExecutions(new SFNClient({}), environment.STATE_MACHINE_ARN),
  onPublished: () => {
    // The alarm on "no run published for N hours" watches this metric (embedded metric format).
    process.stdout.write(`${publishedMetricLine(environment.PIPELINE_NAME, new Date())}\n`);
  },
};

/** Begins a run (date, run id, one execution per date) and serializes publishing; see lib/pipeline/run-control.ts. */
export const handler = async (event: unknown) => {
  const input = runControlInputSchema.parse(event);
  const result = await runControl(input, deps);
  logger.info('run control', { action: input.action, result });
  return result;
};
