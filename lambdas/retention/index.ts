import { Logger } from '@aws-lambda-powertools/logger';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { applyRetention, retentionInputSchema } from '../../lib/retention/retention.js';
import { stageAndAnalyticsRunTables } from '../../lib/schema/tables.js';
import { s3ControlStore, stepFunctionsExecutions } from '../run-control/handler.js';
import { environmentSchema, s3RetentionLake } from './handler.js';

const logger = new Logger({ serviceName: 'customer360-retention' });
const environment = environmentSchema.parse(process.env);
const s3 = new S3Client({});
const deps = {
  retention: environment.CONFIG_FILE.storage.retention,
  control: s3ControlStore(s3, environment.BUCKETS.analytics),
  executions: stepFunctionsExecutions(new SFNClient({}), environment.STATE_MACHINE_ARN),
  lake: s3RetentionLake(s3),
  buckets: environment.BUCKETS,
  runTables: stageAndAnalyticsRunTables,
};

/** Deletes expired runs after a publish; see lib/retention/retention.ts. */
export const handler = async (event: unknown) => {
  const input = retentionInputSchema.parse(event);
  const result = await applyRetention(input, deps);
  logger.info('retention', { ...input, ...result });
  // Only the summary goes back into the execution's state; the decisions are in the log.
  return { deletedRuns: result.deletedRuns, deletedObjects: result.deletedObjects };
};
