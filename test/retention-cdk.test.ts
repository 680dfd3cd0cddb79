import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../lib/config/load.js';
import { DataLakeStorage } from '../lib/constructs/data-lake-storage.js';
import { RETENTION_STATE } from '../lib/constructs/pipeline.js';
import { synthesizedDefinition } from '../lib/local/pipeline-runner.js';
import { synthStack } from './helpers/stack.js';

/*
 * What retention deploys: lifecycle rules for raw and rejects, the retention function's rights, and its
 * place in the state machine.
 */

type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };

describe('retention lifecycle rules', () => {
  const { template } = synthStack({ storage: { retention: { rawDays: 400, rejectsDays: 14 } } });

  it('expires every raw table prefix after rawDays, and only those (not the landing, state or export prefixes)', () => {
    const expiring = [
      'mysql/customers/',
      'mysql/products/',
      'mysql/orders/',
      'mysql/order_items/',
      'mysql/keys/',
      'dynamodb/interactions/',
      'history/orders/',
    ].map((prefix) => Match.objectLike({ Prefix: prefix, ExpirationInDays: 400, Status: 'Enabled' }));
    template.hasResourceProperties('AWS::S3::Bucket', {
      LoggingConfiguration: { LogFilePrefix: 'raw/' },
      LifecycleConfiguration: { Rules: Match.arrayWith(expiring) },
    });
    const raw = Object.values(template.findResources('AWS::S3::Bucket')).find(
      (b) => b.Properties.LoggingConfiguration?.LogFilePrefix === 'raw/',
    );
    const rules = raw?.Properties.LifecycleConfiguration.Rules as {
      Prefix?: string;
      ExpirationInDays?: number;
    }[];
    expect(rules.filter((r) => r.ExpirationInDays !== undefined).map((r) => r.Prefix)).toHaveLength(7);
    // The tiering and the noncurrent-version backstop stay as they were.
    expect(rules).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Id: 'tier-raw-data' }),
        expect.objectContaining({ NoncurrentVersionExpiration: { NoncurrentDays: 90 } }),
      ]),
    );
  });

  it('expires stage rejects after rejectsDays, in the stage bucket only', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      LoggingConfiguration: { LogFilePrefix: 'stage/' },
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({
            Id: 'expire-rejects',
            Prefix: 'rejects/',
            ExpirationInDays: 14,
            Status: 'Enabled',
          }),
        ]),
      },
    });
    const withRejects = template.findResources('AWS::S3::Bucket', {
      Properties: {
        LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ Id: 'expire-rejects' })]) },
      },
    });
    expect(Object.keys(withRejects)).toHaveLength(1);
  });

  it('expires no current object of raw, stage or analytics with the defaults', () => {
    const { template: defaults } = synthStack({});
    for (const prefix of ['raw/', 'stage/', 'analytics/']) {
      const bucket = Object.values(defaults.findResources('AWS::S3::Bucket')).find(
        (b) => b.Properties.LoggingConfiguration?.LogFilePrefix === prefix,
      );
      const rules = bucket?.Properties.LifecycleConfiguration.Rules as Record<string, unknown>[];
      expect(rules.length, prefix).toBeGreaterThan(0);
      expect(
        rules.filter((r) => 'ExpirationInDays' in r),
        prefix,
      ).toEqual([]);
    }
  });
});

describe('DataLakeStorage expiration props', () => {
  it('takes the raw and rejects expiry from props', () => {
    const stack = new Stack(new App(), 'Expiry');
    new DataLakeStorage(stack, 'Storage', { rawExpirationDays: 730, rejectsExpirationDays: 3 });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({
            Id: 'expire-raw-mysql-order-items',
            Prefix: 'mysql/order_items/',
            ExpirationInDays: 730,
          }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: Match.arrayWith([Match.objectLike({ Id: 'expire-rejects', ExpirationInDays: 3 })]),
      },
    });
  });

  it('rejects an expiry that is not a whole number of days, naming the prop', () => {
    const stack = new Stack(new App(), 'Bad');
    expect(() => new DataLakeStorage(stack, 'Storage', { rawExpirationDays: 0 })).toThrow(
      'rawExpirationDays must be a whole number of days, at least 1, got 0',
    );
    expect(() => new DataLakeStorage(stack, 'Storage2', { rejectsExpirationDays: 1.5 })).toThrow(
      'rejectsExpirationDays must be a whole number of days, at least 1, got 1.5',
    );
  });
});

describe('retention function', () => {
  const { template } = synthStack({});
  const statementsOf = (prefix: string): Statement[] =>
    Object.entries(template.findResources('AWS::IAM::Policy'))
      .filter(([id]) => id.startsWith(prefix))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Statement[]);
  const withAction = (statements: Statement[], action: string) =>
    statements.filter((s) => [s.Action].flat().includes(action));

  it('deletes only objects of run locations in the stage and analytics buckets, never published_runs or raw', () => {
    const statements = statementsOf('PipelineRetentionRole');
    const deletes = withAction(statements, 's3:DeleteObject');
    const allowed = deletes.filter((s) => s.Effect === 'Allow').map((s) => JSON.stringify(s.Resource));
    expect(allowed).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/StorageStageBucket.*\/\*\/run_date=\*\/run_id=\*\/\*/),
        expect.stringMatching(/StorageAnalyticsBucket.*\/\*\/run_date=\*\/run_id=\*\/\*/),
        expect.stringMatching(/StorageAnalyticsBucket.*\/_control\/runs\/\*/),
      ]),
    );
    expect(allowed).toHaveLength(3);
    const denied = deletes.filter((s) => s.Effect === 'Deny').map((s) => JSON.stringify(s.Resource));
    expect(denied).toEqual([expect.stringMatching(/StorageAnalyticsBucket.*\/published_runs\/\*/)]);
    expect(JSON.stringify(statements)).not.toContain('StorageRawBucket');
    // It writes nothing.
    expect(withAction(statements, 's3:PutObject')).toEqual([]);
    expect(JSON.stringify(withAction(statements, 's3:GetObject').map((s) => s.Resource))).toMatch(
      /\/_control\/\*/,
    );
    expect(withAction(statements, 'states:DescribeExecution')).toHaveLength(1);
  });

  it('leaves the run control no delete beyond its own _control objects', () => {
    const deletes = withAction(statementsOf('PipelineRunControlRole'), 's3:DeleteObject');
    expect(deletes.map((s) => JSON.stringify(s.Resource))).toEqual([expect.stringMatching(/\/_control\/\*/)]);
  });

  it('is a Node.js function with the buckets, the state machine and its bundled configuration', () => {
    // Exactly these variables: the run control's also names the pipeline, the prepare function the databases.
    template.hasResourceProperties('AWS::Lambda::Function', {
      Architectures: ['arm64'],
      Environment: {
        Variables: {
          BUCKETS: Match.anyValue(),
          STATE_MACHINE_ARN: Match.anyValue(),
          CONFIG_FILE: '/var/task/customer360.config.json',
        },
      },
    });
  });
});

describe('Apply retention in the state machine', () => {
  const definition = synthesizedDefinition(parseConfig({})) as {
    States: Record<string, Record<string, unknown>>;
  };
  const states = definition.States;

  it('runs last in a run that publishes, after the alerts, with the run keys only', () => {
    expect(states['Raise alerts']?.Next).toBe(RETENTION_STATE);
    const retention = states[RETENTION_STATE];
    expect(retention?.Next).toBe('Published');
    expect((retention?.Parameters as { Payload?: unknown } | undefined)?.Payload).toEqual({
      'runDate.$': '$.runDate',
      'runId.$': '$.runId',
    });
    expect(retention?.ResultPath).toBe('$.retention');
  });

  it('catches every error into its own notice: the run stays published and the failure is reported', () => {
    const retention = states[RETENTION_STATE] as { Catch: { ErrorEquals: string[]; Next: string }[] };
    expect(retention.Catch).toEqual([
      expect.objectContaining({ ErrorEquals: ['States.ALL'], Next: `Failed at ${RETENTION_STATE}` }),
    ]);
    expect(states[`Failed at ${RETENTION_STATE}`]?.Next).toBe('Notify retention failure');
    const notice = states['Notify retention failure'] as { Parameters: { Message: Record<string, unknown> } };
    expect(notice.Parameters.Message).toMatchObject({
      event: 'retention_failed',
      published: expect.stringContaining('the run is published'),
    });
    expect(states['Notify retention failure']?.Next).toBe('Published, retention failed');
    // Nothing after publishing leads back to a state that unpublishes or to the pre-publish failure path.
    expect(JSON.stringify(states[`Failed at ${RETENTION_STATE}`])).not.toContain('Notify failure"');
  });

  it('retries the transient Lambda errors with backoff and jitter', () => {
    const retry = (
      states[RETENTION_STATE]?.Retry as { ErrorEquals: string[]; JitterStrategy?: string }[] | undefined
    )?.[0];
    expect(retry?.ErrorEquals).toContain('Lambda.TooManyRequestsException');
    expect(retry?.JitterStrategy).toBe('FULL');
  });
});
