import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { raiseRunAlerts, runKeysSchema } from '../../lib/notify/steps.js';
import { s3ObjectStore } from '../fit-models/handler.js';
import { configFile } from '../prepare-query/handler.js';

const logger = new Logger({ serviceName: 'customer360-raise-alerts' });
const environment = z
  .object({
    CONFIG_FILE: configFile,
    ANALYTICS_BUCKET: z.string().min(1),
    ALERTS_TOPIC_ARN: z.string().startsWith('arn:'),
    ALERTS_TABLE: z.string().min(1),
  })
  .parse(process.env);
const store = s3ObjectStore(new S3Client({}));
const sns = new SNSClient({});
const dynamodb = DynamoDBDocumentClient.from(new DynamoDBClient({}));

/** Publishes the run's new fraud flags and high-value churn risk, each customer once per window. */
export const handler = async (event: unknown) => {
  const run = runKeysSchema.parse(event);
  const result = await raiseRunAlerts(run, {
    config: environment.CONFIG_FILE,
    store,
    analyticsBucket: environment.ANALYTICS_BUCKET,
    sns,
    topicArn: environment.ALERTS_TOPIC_ARN,
    dynamodb,
    tableName: environment.ALERTS_TABLE,
    now: () => new Date(),
  });
  logger.info('raised alerts', { ...run, ...result });
  return result;
};
