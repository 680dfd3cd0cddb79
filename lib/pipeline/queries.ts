import { z } from 'zod';
import type { Customer360Config } from '../config/schema.js';
import { sqlString, trinoConformingSelect } from '../schema/derive.js';
import { publishedRuns } from '../schema/marts/published-runs.js';
import { stageAndAnalyticsRunTables } from '../schema/tables.js';
import type { TableSchema, Zone } from '../schema/types.js';
import { compileModel, qualifyZones, renderParameters, type SqlModel } from '../sql/models.js';
import { pipelineParameters } from '../sql/parameters.js';
import { latestViewStatement } from './views.js';

/** What the state machine asks for before each Athena task. */
export const prepareQueryInputSchema = z.strictObject({
  kind: z.enum(['model', 'latest_view', 'quality_gate', 'record_publish']),
  name: z
    .string()
    .regex(/^[a-z][a-z0-9_]*$/)
    .optional(),
  runDate: z.iso.date({ message: 'expected runDate as YYYY-MM-DD' }),
  runId: z.string().regex(/^[A-Za-z0-9_-]{1,80}$/, 'expected a run id of 1-80 letters, digits, - or _'),
  /** For `record_publish`: the execution, and the run that was published before (null for the first). */
  executionId: z.string().min(1).optional(),
  previous: z.object({ runDate: z.iso.date(), runId: z.string() }).passthrough().nullable().optional(),
  /** What the stage snapshots start from (Begin run settles it); the snapshot models need it. */
  snapshot: z
    .strictObject({
      runDate: z.iso.date(),
      runId: z.string().regex(/^[A-Za-z0-9_-]{1,80}$/),
      rawFromDate: z.iso.date(),
    })
    .optional(),
});
export type PrepareQueryInput = z.infer<typeof prepareQueryInputSchema>;

export interface PreparedQuery {
  readonly queryString: string;
  /** Database the query runs in (Athena QueryExecutionContext). */
  readonly database: string;
  /** Where an UNLOAD writes, for logs and the local adapter. */
  readonly outputLocation?: string;
}

/** Object storage as the preparation step needs it: S3 in the cloud, a folder locally. */
export interface LakeStore {
  /** Deletes every object under the prefix; returns how many were deleted. */
  deletePrefix(bucket: string, prefix: string): Promise<number>;
}

export interface PrepareQueryDeps {
  readonly models: ReadonlyMap<string, SqlModel>;
  readonly config: Customer360Config;
  /** Glue database per zone. */
  readonly databases: Readonly<Record<Zone, string>>;
  /** Bucket per zone. */
  readonly buckets: Readonly<Record<Zone, string>>;
  readonly lake: LakeStore;
}

/**
 * Turns a model (or a publishing or gate step) into the one statement an Athena task runs.
 *
 * A model becomes `UNLOAD (SELECT ...) TO '<table>/run_date=D/run_id=R/'`: the run's own location, which
 * no reader sees until publishing points the `_latest` views at it (write-audit-publish). It is emptied
 * first because UNLOAD refuses a non-empty location and a retried step must replace its own attempt;
 * it never holds anything but this run's output. The SELECT casts every column to the declared type.
 */
export async function prepareQuery(input: PrepareQueryInput, deps: PrepareQueryDeps): Promise<PreparedQuery> {
  const { databases } = deps;
  const { runDate, runId } = input;
  const runFilter = `run_date = DATE ${sqlString(runDate)} AND run_id = ${sqlString(runId)}`;
  if (input.kind === 'quality_gate') {
    return {
      database: databases.analytics,
      queryString: [
        'SELECT check_name, subject, metric_value, threshold, detail',
        `FROM ${databases.analytics}.data_quality`,
        `WHERE ${runFilter} AND is_blocking AND NOT is_passed`,
        'ORDER BY check_name, subject',
      ].join('\n'),
    };
  }
  if (input.kind === 'record_publish') return recordPublish(input, deps);
  const model = input.name === undefined ? undefined : deps.models.get(input.name);
  if (input.kind === 'latest_view') {
    // A table the Fit models Lambda writes has no SQL model, but is published like the marts.
    const target =
      model?.target ??
      stageAndAnalyticsRunTables.find((t) => t.zone === 'analytics' && t.name === input.name);
    if (!target) throw new Error(`No run-partitioned analytics table named ${input.name ?? '(none)'}`);
    const database = databases[target.zone];
    return { database, queryString: latestViewStatement(target, database, { runDate, runId }) };
  }
  const target = model?.target;
  if (!model || !target) throw new Error(`No materialized SQL model named ${input.name ?? '(none)'}`);
  const select = qualifyZones(
    renderParameters(
      compileModel(model, deps.models),
      pipelineParameters(deps.config, runDate, runId, input.snapshot),
    ),
    databases,
  );
  const bucket = deps.buckets[target.zone];
  const prefix = runLocation(target, runDate, runId);
  await deps.lake.deletePrefix(bucket, prefix);
  const outputLocation = `s3://${bucket}/${prefix}`;
  return {
    database: databases[target.zone],
    outputLocation,
    queryString: `UNLOAD (\n${trinoConformingSelect(target, select)}\n) TO ${sqlString(outputLocation)} WITH (format = 'PARQUET', compression = 'SNAPPY')`,
  };
}

/** The key prefix a run writes one table to: `<table>/run_date=D/run_id=R/`. */
export function runLocation(table: TableSchema, runDate: string, runId: string): string {
  return `${table.location}run_date=${runDate}/run_id=${runId}/`;
}

/** One row in `published_runs`, written into the run's own file so each publish adds and none rewrites. */
async function recordPublish(input: PrepareQueryInput, deps: PrepareQueryDeps): Promise<PreparedQuery> {
  if (!input.executionId) throw new Error('record_publish needs the executionId');
  const previous = input.previous ?? null;
  const select = [
    'SELECT',
    `  DATE ${sqlString(input.runDate)} AS run_date,`,
    `  ${sqlString(input.runId)} AS run_id,`,
    `  ${sqlString(input.executionId)} AS execution_id,`,
    '  current_timestamp AS published_at,',
    `  ${previous ? `DATE ${sqlString(previous.runDate)}` : 'CAST(NULL AS date)'} AS previous_run_date,`,
    `  ${previous ? sqlString(previous.runId) : 'CAST(NULL AS varchar)'} AS previous_run_id,`,
    `  ${previous !== null && previous.runDate > input.runDate ? 'TRUE' : 'FALSE'} AS is_forced`,
  ].join('\n');
  const prefix = runLocation(publishedRuns, input.runDate, input.runId);
  await deps.lake.deletePrefix(deps.buckets.analytics, prefix);
  const outputLocation = `s3://${deps.buckets.analytics}/${prefix}`;
  return {
    database: deps.databases.analytics,
    outputLocation,
    queryString: `UNLOAD (\n${trinoConformingSelect(publishedRuns, select)}\n) TO ${sqlString(outputLocation)} WITH (format = 'PARQUET', compression = 'SNAPPY')`,
  };
}
