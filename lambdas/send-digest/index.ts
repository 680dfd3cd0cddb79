import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SESv2Client } from '@aws-sdk/client-sesv2';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { runKeysSchema, sendRunDigest } from '../../lib/notify/steps.js';
import { s3ObjectStore } from '../fit-models/handler.js';
import { configFile } from '../prepare-query/handler.js';

const logger = new Logger({ serviceName: 'customer360-send-digest' });
const environment = z
  .object({ CONFIG_FILE: configFile, ANALYTICS_BUCKET: z.string().min(1), ALERTS_TABLE: z.string().min(1) })
  .parse(process.env);
const store = s3ObjectStore(new S3Client({}));
const ses = new SESv2Client({});
const dynamodb = DynamoDBDocumentClient.from(new DynamoDBClient({}));

/** Sends the run's digest email (SES v2), once per run date. */
export const handler = async (event: unknown) => {
  const run = runKeysSchema.parse(event);
  const result = await sendRunDigest(run, {
    config: environment.CONFIG_FILE,
    store,
    analyticsBucket: environment.ANALYTICS_BUCKET,
    ses,
    dynamodb,
    tableName: environment.ALERTS_TABLE,
    now: () => new Date(),
  });
  logger.info('sent digest', { ...run, ...result });
  return result;
};
