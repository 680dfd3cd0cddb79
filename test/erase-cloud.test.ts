import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { erasableTables } from '../lib/erase/core.js';
import { erasurePredicate } from '../lib/erase/keys.js';
import { allTables } from '../lib/schema/tables.js';
import { synthStack } from './helpers/stack.js';

/*
 * The erase-customers state machine and its one function, as CDK synthesizes them: the definition's
 * order, retries and catches, and IAM limited to the lake buckets, the lake key, the sent-alerts table
 * and listing the pipeline's executions.
 */
const { stack, template } = synthStack();
const resources = template.toJSON().Resources as Record<
  string,
  { Type: string; Properties: Record<string, unknown> }
>;
const logicalIdOf = (prefix: string, type: string) => {
  const found = Object.entries(resources).find(([id, r]) => id.startsWith(prefix) && r.Type === type);
  if (!found) throw new Error(`no ${type} ${prefix}`);
  return found[0];
};

function definition(): Record<string, unknown> {
  const machine = resources[logicalIdOf('ErasureStateMachine', 'AWS::StepFunctions::StateMachine')];
  const joined = machine?.Properties.DefinitionString as { 'Fn::Join': [string, unknown[]] } | undefined;
  if (!joined) throw new Error('no definition');
  // References (the function's ARN) sit inside JSON strings: any text stands in for them.
  const text = joined['Fn::Join'][1].map((p) => (typeof p === 'string' ? p : 'ref')).join('');
  return JSON.parse(text) as Record<string, unknown>;
}

describe('the erase-customers state machine', () => {
  it('is named after the catalog prefix, logs everything encrypted, traces, and times out in a day', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineName: 'customer360-erase-customers',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: Match.objectLike({ IncludeExecutionData: true, Level: 'ALL' }),
    });
    template.hasOutput('EraseCustomersStateMachineArn', {
      Value: { Ref: logicalIdOf('ErasureStateMachine', 'AWS::StepFunctions::StateMachine') },
    });
  });

  it('begins (waiting out a pipeline run), erases every table a part at a time, then finishes; a failure releases the lock', () => {
    const d = definition() as { StartAt: string; States: Record<string, Record<string, unknown>> };
    expect(d.StartAt).toBe('Begin erasure');
    const begin = d.States['Begin erasure'] as {
      Next: string;
      Retry: { ErrorEquals: string[]; MaxAttempts: number }[];
      Catch: { Next: string }[];
    };
    expect(begin.Next).toBe('Erase tables');
    expect(begin.Retry).toContainEqual(
      expect.objectContaining({ ErrorEquals: ['PipelineRunning', 'ErasureInProgress'], MaxAttempts: 12 }),
    );
    expect(begin.Catch).toEqual([expect.objectContaining({ Next: 'Erasure refused' })]);
    const map = d.States['Erase tables'] as {
      Next: string;
      ItemsPath: string;
      MaxConcurrency: number;
      Catch: { Next: string }[];
      ItemProcessor: { StartAt: string; States: Record<string, Record<string, unknown>> };
    };
    expect(map).toMatchObject({ Next: 'Finish erasure', ItemsPath: '$.erasure.tables', MaxConcurrency: 2 });
    expect(map.Catch).toEqual([expect.objectContaining({ Next: 'Release the lock' })]);
    expect(map.ItemProcessor.StartAt).toBe('Erase table');
    // A table larger than one invocation's budget loops back with where it stopped.
    expect(map.ItemProcessor.States['Table done?']).toMatchObject({
      Choices: [{ Variable: '$.progress.done', BooleanEquals: true, Next: 'Table erased' }],
      Default: 'Rest of the table',
    });
    expect(map.ItemProcessor.States['Rest of the table']).toMatchObject({ Next: 'Erase table' });
    expect(d.States['Finish erasure']).toMatchObject({ Next: 'Erased' });
    expect(d.States['Release the lock']).toMatchObject({ Next: 'Erasure failed' });
  });

  it('runs the function on x86_64 (DuckDB binding) with 15 minutes, 4 GB and 10 GiB of /tmp', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Architectures: ['x86_64'],
      Timeout: 900,
      MemorySize: 4096,
      EphemeralStorage: { Size: 10240 },
      Environment: {
        Variables: Match.objectLike({
          PIPELINE_STATE_MACHINE_ARN: Match.objectLike({
            'Fn::Join': Match.arrayWith([Match.arrayWith([':stateMachine:customer360-pipeline'])]),
          }),
        }),
      },
    });
  });

  it('grants the lake buckets, their key, DeleteItem on the sent alerts and ListExecutions of the pipeline, nothing else', () => {
    const role = logicalIdOf('ErasureFunctionRole', 'AWS::IAM::Role');
    const policies = Object.values(resources).filter(
      (r) =>
        r.Type === 'AWS::IAM::Policy' &&
        (r.Properties.Roles as { Ref: string }[]).some((ref) => ref.Ref === role),
    );
    const actions = policies
      .flatMap(
        (p) => (p.Properties.PolicyDocument as { Statement: { Action: string | string[] }[] }).Statement,
      )
      .flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]))
      .sort();
    expect([...new Set(actions)]).toEqual(
      [
        'dynamodb:DeleteItem',
        'kms:Decrypt',
        'kms:Encrypt',
        'kms:GenerateDataKey*',
        'kms:ReEncrypt*',
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        's3:DeleteObject',
        's3:DeleteObjectVersion',
        's3:GetObject',
        's3:GetObjectVersion',
        's3:ListBucket',
        's3:ListBucketVersions',
        's3:PutObject',
        'states:ListExecutions',
        'xray:PutTelemetryRecords',
        'xray:PutTraceSegments',
      ].sort(),
    );
    const bucketIds = ['StorageRawBucket', 'StorageStageBucket', 'StorageAnalyticsBucket'].map((p) =>
      logicalIdOf(p, 'AWS::S3::Bucket'),
    );
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: role }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: ['s3:ListBucket', 's3:ListBucketVersions'],
            Resource: bucketIds.map((id) => ({ 'Fn::GetAtt': [id, 'Arn'] })),
          }),
          Match.objectLike({
            Action: 'dynamodb:DeleteItem',
            Resource: { 'Fn::GetAtt': [logicalIdOf('AlertingSentAlerts', 'AWS::DynamoDB::Table'), 'Arn'] },
          }),
        ]),
      },
    });
    expect(stack.stackName).toBe('Customer360-dev');
  });

  it('makes the pipeline wait for an erasure at Begin run', () => {
    const pipeline = resources[logicalIdOf('PipelineStateMachine', 'AWS::StepFunctions::StateMachine')];
    const text = JSON.stringify(pipeline?.Properties.DefinitionString);
    expect(text).toContain('ErasureInProgress');
  });
});

describe('what erasure goes through', () => {
  it('has a rule for every table with personal data or a customer, order or source key, and none for aggregates', () => {
    const keyed = (columns: readonly { name: string; pii?: boolean }[]) =>
      columns.some(
        (c) =>
          c.pii ||
          ['customer_id', 'order_id', 'customer_key', 'customer_ref', 'source_key', 'record_json'].includes(
            c.name,
          ),
      );
    for (const table of allTables) {
      if (table.name === 'suppressed_keys') continue;
      expect(erasurePredicate(table) !== undefined, `${table.zone}.${table.name}`).toBe(keyed(table.columns));
    }
    expect(erasableTables().map((t) => `${t.zone}.${t.name}`)).toEqual(
      expect.arrayContaining([
        'raw.dynamodb_interactions',
        'stage.rejects',
        'analytics.customer_360',
        'stage.snapshot_history_orders',
      ]),
    );
    expect(erasableTables().map((t) => t.name)).not.toContain('segment_figures');
  });
});
