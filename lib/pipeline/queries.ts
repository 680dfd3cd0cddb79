import { z } from 'zod';
import type { Customer360Config } from '../config/schema.js';
import { sqlString, trinoConformingSelect } from '../schema/derive.js';
import type { Zone } from '../schema/types.js';
import { compileModel, qualifyZones, renderParameters, type SqlModel } from '../sql/models.js';
import { pipelineParameters } from '../sql/parameters.js';

/** What the state machine asks for before each Athena task. */
export const prepareQueryInputSchema = z.strictObject({
  kind: z.enum(['model', 'latest_view', 'quality_gate']),
  name: z
    .string()
    .regex(/^[a-z][a-z0-9_]*$/)
    .optional(),
  runDate: z.iso.date({ message: 'expected runDate as YYYY-MM-DD' }),
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
 * A model becomes `UNLOAD (SELECT ...) TO '<its run_date partition>'`, after the partition is
 * emptied: UNLOAD refuses a non-empty location, and emptying it first is what makes a rerun replace
 * the date instead of adding to it. The SELECT casts every column to the declared Glue type.
 */
export async function prepareQuery(input: PrepareQueryInput, deps: PrepareQueryDeps): Promise<PreparedQuery> {
  const { databases, runDate } = { databases: deps.databases, runDate: input.runDate };
  if (input.kind === 'quality_gate') {
    return {
      database: databases.analytics,
      queryString: [
        'SELECT check_name, subject, metric_value, threshold, detail',
        `FROM ${databases.analytics}.data_quality`,
        `WHERE run_date = DATE ${sqlString(runDate)} AND is_blocking AND NOT is_passed`,
        'ORDER BY check_name, subject',
      ].join('\n'),
    };
  }
  const model = input.name === undefined ? undefined : deps.models.get(input.name);
  const target = model?.target;
  if (!model || !target) throw new Error(`No materialized SQL model named ${input.name ?? '(none)'}`);
  if (input.kind === 'latest_view') {
    const database = databases[target.zone];
    return {
      database,
      queryString: `CREATE OR REPLACE VIEW ${database}.${target.name}_latest AS SELECT * FROM ${database}.${target.name} WHERE run_date = DATE ${sqlString(runDate)}`,
    };
  }
  const select = qualifyZones(
    renderParameters(compileModel(model, deps.models), pipelineParameters(deps.config, runDate)),
    databases,
  );
  const bucket = deps.buckets[target.zone];
  const prefix = `${target.location}run_date=${runDate}/`;
  await deps.lake.deletePrefix(bucket, prefix);
  const outputLocation = `s3://${bucket}/${prefix}`;
  return {
    database: databases[target.zone],
    outputLocation,
    queryString: `UNLOAD (\n${trinoConformingSelect(target, select)}\n) TO ${sqlString(outputLocation)} WITH (format = 'PARQUET', compression = 'SNAPPY')`,
  };
}
