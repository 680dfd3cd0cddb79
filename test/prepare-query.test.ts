import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { environmentSchema, s3LakeStore } from '../lambdas/prepare-query/handler.js';
import { parseConfig } from '../lib/config/load.js';
import { type LakeStore, prepareQuery, prepareQueryInputSchema } from '../lib/pipeline/queries.js';
import { loadModels } from '../lib/sql/models.js';

const s3 = mockClient(S3Client);
const databases = { raw: 'c360_raw', stage: 'c360_stage', analytics: 'c360_analytics' };
const buckets = { raw: 'raw-bucket', stage: 'stage-bucket', analytics: 'analytics-bucket' };

describe('prepareQuery', () => {
  const models = loadModels();
  const config = parseConfig({});
  const deleted: string[] = [];
  const lake: LakeStore = {
    async deletePrefix(bucket, prefix) {
      deleted.push(`${bucket}/${prefix}`);
      return 0;
    },
  };

  beforeEach(() => {
    deleted.length = 0;
  });

  it("empties the run's own location, then unloads the typed model into it", async () => {
    const prepared = await prepareQuery(
      { kind: 'model', name: 'rfm', runDate: '2024-06-30', runId: 'exec-1' },
      { models, config, databases, buckets, lake },
    );

    expect(deleted).toEqual(['analytics-bucket/rfm/run_date=2024-06-30/run_id=exec-1/']);
    expect(prepared.database).toBe('c360_analytics');
    expect(prepared.outputLocation).toBe('s3://analytics-bucket/rfm/run_date=2024-06-30/run_id=exec-1/');
    expect(prepared.queryString).toMatch(
      /^UNLOAD \(\nSELECT\n {2}CAST\("customer_id" AS bigint\) AS "customer_id",/,
    );
    expect(prepared.queryString).toContain('CAST("rfm_score" AS varchar)');
    expect(prepared.queryString).toMatch(/from c360_stage\.orders\b/i);
    expect(prepared.queryString).not.toMatch(/\bstage\.orders\b(?<!c360_stage\.orders)/);
    expect(prepared.queryString).toContain("DATE '2024-06-30'");
    // It reads the stage tables of its own run only (the injected run_id projection needs the literal).
    expect(prepared.queryString).toMatch(/run_date = DATE '2024-06-30'\s+and run_id = 'exec-1'/);
    expect(prepared.queryString).toMatch(
      /\) TO 's3:\/\/analytics-bucket\/rfm\/run_date=2024-06-30\/run_id=exec-1\/' WITH \(format = 'PARQUET', compression = 'SNAPPY'\)$/,
    );
  });

  it('points the latest view at the run, naming every column, and touches no data', async () => {
    const prepared = await prepareQuery(
      { kind: 'latest_view', name: 'fraud_flags', runDate: '2024-06-30', runId: 'exec-1' },
      { models, config, databases, buckets, lake },
    );
    expect(prepared.queryString).toMatch(
      /^CREATE OR REPLACE VIEW c360_analytics\.fraud_flags_latest AS SELECT "customer_id", .*"run_date", "run_id" FROM c360_analytics\.fraud_flags WHERE run_date = DATE '2024-06-30' AND run_id = 'exec-1'$/,
    );
    expect(prepared.queryString).not.toContain('*');
    expect(deleted).toEqual([]);
  });

  it('records the publish in published_runs, in a file of its own', async () => {
    const prepared = await prepareQuery(
      {
        kind: 'record_publish',
        runDate: '2024-06-30',
        runId: 'exec-2',
        executionId: 'arn:aws:states:eu-west-1:1:execution:p:exec-2',
        previous: { runDate: '2024-07-01', runId: 'exec-1' },
      },
      { models, config, databases, buckets, lake },
    );
    expect(deleted).toEqual(['analytics-bucket/published_runs/run_date=2024-06-30/run_id=exec-2/']);
    expect(prepared.queryString).toContain("'exec-2' AS run_id");
    expect(prepared.queryString).toContain("DATE '2024-07-01' AS previous_run_date");
    // An older date over a newer one can only have been forced.
    expect(prepared.queryString).toContain('TRUE AS is_forced');
  });

  it('asks for the failed blocking checks of the run date for the quality gate', async () => {
    const prepared = await prepareQuery(
      { kind: 'quality_gate', runDate: '2024-06-30', runId: 'exec-1' },
      { models, config, databases, buckets, lake },
    );
    expect(prepared.queryString).toContain(
      "FROM c360_analytics.data_quality\nWHERE run_date = DATE '2024-06-30' AND run_id = 'exec-1' AND is_blocking AND NOT is_passed",
    );
  });

  it('rejects an unknown model and a malformed run date with clear errors', async () => {
    await expect(
      prepareQuery(
        { kind: 'model', name: 'nope', runDate: '2024-06-30', runId: 'r' },
        { models, config, databases, buckets, lake },
      ),
    ).rejects.toThrow('No materialized SQL model named nope');
    expect(() =>
      prepareQueryInputSchema.parse({ kind: 'model', name: 'rfm', runDate: '30/06/2024', runId: 'r' }),
    ).toThrow('expected runDate as YYYY-MM-DD');
    expect(() =>
      prepareQueryInputSchema.parse({ kind: 'model', name: 'rfm', runDate: '2024-06-30', runId: "x' or '1" }),
    ).toThrow('expected a run id');
  });
});

describe('s3LakeStore', () => {
  beforeEach(() => s3.reset());

  it('deletes every page of objects under the prefix', async () => {
    s3.on(ListObjectsV2Command)
      .resolvesOnce({
        Contents: [{ Key: 'rfm/run_date=2024-06-30/a.parquet' }],
        IsTruncated: true,
        NextContinuationToken: 't1',
      })
      .resolvesOnce({ Contents: [{ Key: 'rfm/run_date=2024-06-30/b.parquet' }], IsTruncated: false });
    s3.on(DeleteObjectsCommand).resolves({});

    const count = await s3LakeStore(new S3Client({})).deletePrefix(
      'analytics-bucket',
      'rfm/run_date=2024-06-30/',
    );

    expect(count).toBe(2);
    expect(s3.commandCalls(ListObjectsV2Command)[1]?.args[0].input).toMatchObject({
      ContinuationToken: 't1',
    });
    expect(s3.commandCalls(DeleteObjectsCommand).map((c) => c.args[0].input.Delete?.Objects)).toEqual([
      [{ Key: 'rfm/run_date=2024-06-30/a.parquet' }],
      [{ Key: 'rfm/run_date=2024-06-30/b.parquet' }],
    ]);
  });

  it('does nothing on an empty prefix', async () => {
    s3.on(ListObjectsV2Command).resolves({ IsTruncated: false });
    expect(await s3LakeStore(new S3Client({})).deletePrefix('b', 'p/')).toBe(0);
    expect(s3.commandCalls(DeleteObjectsCommand)).toHaveLength(0);
  });

  it('fails with the key and code of an object it could not delete', async () => {
    s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: 'p/x.parquet' }], IsTruncated: false });
    s3.on(DeleteObjectsCommand).resolves({
      Errors: [{ Key: 'p/x.parquet', Code: 'AccessDenied', Message: 'Access Denied' }],
    });
    await expect(s3LakeStore(new S3Client({})).deletePrefix('b', 'p/')).rejects.toThrow(
      'Could not delete s3://b/p/x.parquet: AccessDenied Access Denied',
    );
  });
});

describe('prepare-query environment', () => {
  const configDir = mkdtempSync(join(tmpdir(), 'c360-env-'));
  const writeConfig = (name: string, value: unknown) => {
    const file = join(configDir, name);
    writeFileSync(file, JSON.stringify(value));
    return file;
  };
  const valid = {
    CONFIG_FILE: writeConfig('good.json', {}),
    DATABASES: JSON.stringify(databases),
    BUCKETS: JSON.stringify(buckets),
    SQL_ROOT: '/var/task/sql',
  };

  it('accepts a complete environment', () => {
    expect(environmentSchema.parse(valid).DATABASES).toEqual(databases);
  });

  it('fails at start-up on a missing variable, naming it', () => {
    const { SQL_ROOT: _omitted, ...missing } = valid;
    expect(() => environmentSchema.parse(missing)).toThrow('SQL_ROOT');
  });

  it('fails at start-up on a bad configuration, naming the key', () => {
    expect(() =>
      environmentSchema.parse({ ...valid, CONFIG_FILE: writeConfig('bad.json', { topN: 3 }) }),
    ).toThrow('topN: unknown key');
  });
});
