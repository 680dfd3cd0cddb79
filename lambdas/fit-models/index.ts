import { Logger } from '@aws-lambda-powertools/logger';
import { S3Client } from '@aws-sdk/client-s3';
import { fitModels, fitModelsInputSchema } from '../../lib/models/fit-models.js';
import { environmentSchema, s3ObjectStore } from './handler.js';

const logger = new Logger({ serviceName: 'customer360-fit-models' });
const environment = environmentSchema.parse(process.env);
const store = s3ObjectStore(new S3Client({}));

/** Fits the run's models from its model inputs in S3 and writes their parameters beside them. */
export const handler = async (event: unknown) => {
  const input = fitModelsInputSchema.parse(event);
  const result = await fitModels(input, {
    config: environment.CONFIG_FILE,
    analyticsBucket: environment.ANALYTICS_BUCKET,
    store,
  });
  logger.info('fitted models', { ...input, ...result });
  return result;
};
