import { Logger } from '@aws-lambda-powertools/logger';
import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { runKeysSchema, writeSegmentSummaries } from '../../lib/notify/steps.js';
import { s3ObjectStore } from '../fit-models/handler.js';
import { configFile } from '../prepare-query/handler.js';

const logger = new Logger({ serviceName: 'customer360-write-summaries' });
const environment = z
  .object({ CONFIG_FILE: configFile, ANALYTICS_BUCKET: z.string().min(1) })
  .parse(process.env);
const store = s3ObjectStore(new S3Client({}));
// One attempt per SDK call: the core retries throttling itself, with backoff, and counts the attempts.
const bedrock = new BedrockRuntimeClient({ maxAttempts: 1 });

/** Writes the run's segment summaries (Bedrock from aggregate figures, or the template) into its location. */
export const handler = async (event: unknown) => {
  const run = runKeysSchema.parse(event);
  const result = await writeSegmentSummaries(run, {
    config: environment.CONFIG_FILE,
    store,
    analyticsBucket: environment.ANALYTICS_BUCKET,
    bedrock,
  });
  logger.info('wrote segment summaries', { ...run, ...result });
  return result;
};
