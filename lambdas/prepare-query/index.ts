import { Logger } from '@aws-lambda-powertools/logger';
import { S3Client } from '@aws-sdk/client-s3';
import { prepareQuery, prepareQueryInputSchema } from '../../lib/pipeline/queries.js';
import { loadModels } from '../../lib/sql/models.js';
import { environmentSchema, s3LakeStore } from './handler.js';

const logger = new Logger({ serviceName: 'customer360-prepare-query' });
const environment = environmentSchema.parse(process.env);
const models = loadModels(environment.SQL_ROOT);
const lake = s3LakeStore(new S3Client({}));

/** Renders one SQL step for a run date and empties its target partition; Step Functions runs the result on Athena. */
export const handler = async (event: unknown) => {
  const input = prepareQueryInputSchema.parse(event);
  const prepared = await prepareQuery(input, {
    models,
    config: environment.CONFIG_FILE,
    databases: environment.DATABASES,
    buckets: environment.BUCKETS,
    lake,
  });
  logger.info('prepared query', {
    ...input,
    database: prepared.database,
    outputLocation: prepared.outputLocation,
  });
  return prepared;
};
