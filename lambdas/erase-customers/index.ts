import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import type { DuckDBConnection } from '@duckdb/node-api';
import { openLocalEngine } from '../../lib/local/duckdb.js';
import { prepareEngine } from '../../lib/local/sql-runner.js';
import { s3ControlStore } from '../run-control/handler.js';
import {
  type EraseCustomersDeps,
  environmentSchema,
  eraseCustomersInputSchema,
  eraseCustomersStep,
  runningPipelines,
  s3ErasureStore,
  scratchRoot,
} from './handler.js';

const logger = new Logger({ serviceName: 'customer360-erase-customers' });
const environment = environmentSchema.parse(process.env);
const s3 = new S3Client({});
const sfn = new SFNClient({});
const dynamodb = new DynamoDBClient({});
let connection: Promise<DuckDBConnection> | undefined;

/** DuckDB once per container: it reads and rewrites the Parquet files in /tmp. */
function engine(): Promise<DuckDBConnection> {
  connection ??= (async () => {
    const { connection: opened } = await openLocalEngine({
      tempDirectory: '/tmp/duckdb',
      memoryLimit: '3GB',
    });
    await prepareEngine(opened);
    return opened;
  })();
  return connection;
}

/** One step of the erase-customers state machine; see handler.ts. Logs ids and counts, never rows. */
export const handler = async (event: unknown) => {
  const input = eraseCustomersInputSchema.parse(event);
  const deps: EraseCustomersDeps = {
    store: s3ErasureStore(s3, scratchRoot()),
    buckets: environment.BUCKETS,
    control: s3ControlStore(s3, environment.BUCKETS.analytics),
    logStore: s3ControlStore(s3, environment.BUCKETS.raw),
    connection: await engine(),
    alerts: { client: dynamodb, tableName: environment.ALERTS_TABLE },
    pipelines: runningPipelines(sfn, environment.PIPELINE_STATE_MACHINE_ARN),
    // Under the 15-minute Lambda limit, with room for the file in hand when the budget runs out.
    budgetMs: 10 * 60_000,
  };
  const result = await eraseCustomersStep(input, deps);
  logger.info('erase customers', {
    action: input.action,
    ...('erasureId' in input ? { erasureId: input.erasureId } : {}),
    ...('table' in input ? { table: input.table } : {}),
  });
  return result;
};
