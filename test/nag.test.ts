import { Validations } from 'aws-cdk-lib';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../lib/app.js';
import { parseConfig } from '../lib/config/load.js';

/** Unacknowledged AwsSolutions and Serverless findings, warnings included, as `rule @ construct path` lines. */
function findings(config: object): string[] {
  const { app } = buildApp(parseConfig(config));
  return [new AwsSolutionsChecks(app), new ServerlessChecks(app)].flatMap((pack) =>
    pack
      .validateScope(app)
      .violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} @ ${r.constructPath}`)),
  );
}

describe('cdk-nag AwsSolutions and Serverless on the default stack', () => {
  it('has zero unacknowledged findings', () => {
    expect(findings({})).toEqual([]);
  });
});

describe('cdk-nag AwsSolutions and Serverless on a destroyable dev stack without a schedule', () => {
  it('has zero unacknowledged findings', () => {
    expect(
      findings({ destroyDataOnRemoval: true, environment: 'sandbox', schedule: { enabled: false } }),
    ).toEqual([]);
  });
});

describe('cdk-nag AwsSolutions and Serverless on a stack with QuickSight', () => {
  it('has zero unacknowledged findings', () => {
    expect(
      findings({
        quicksight: {
          enabled: true,
          principalArn: 'arn:aws:quicksight:us-east-1:111122223333:group/default/customer360-analysts',
        },
      }),
    ).toEqual([]);
  });
});

describe('cdk-nag wiring', () => {
  it('fails synthesis when a construct breaks a rule', () => {
    const { app, stack } = buildApp(parseConfig({}));
    new Bucket(stack, 'CarelessBucket');

    expect(() => app.synth()).toThrow(/AwsSolutions-S10'[\s\S]*validation-report\.json/);
  });

  it('fails synthesis on a Serverless finding too', () => {
    const { app, stack } = buildApp(parseConfig({}));
    // Encrypted and TLS-only, so AwsSolutions' SQS2 and SQS4 pass; it has no redrive policy.
    new Queue(stack, 'CarelessQueue', { encryption: QueueEncryption.SQS_MANAGED, enforceSSL: true });

    expect(() => app.synth()).toThrow(/Serverless-SQSRedrivePolicy/);
  });

  const acknowledgements = () => {
    const { stack } = buildApp(parseConfig({}));
    return stack.node.findAll().flatMap((c) =>
      (c.node.metadata ?? [])
        .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
        .flatMap((m) => Object.entries(m.data as Record<string, string>))
        .filter(([id]) => id.includes('AwsSolutions-') || id.includes('Serverless-'))
        .map(([id, reason]) => ({ path: c.node.path, id, reason })),
    );
  };

  it('acknowledges only the access-log bucket for S1, with a reason', () => {
    expect(acknowledgements().filter((a) => /AwsSolutions-S1$/.test(a.id))).toEqual([
      {
        path: 'Customer360-dev/Storage/AccessLogsBucket',
        id: expect.stringMatching(/AwsSolutions-S1$/),
        reason: expect.stringMatching(/server access log bucket itself/),
      },
    ]);
  });

  it('acknowledges in ingestion only wildcard resources of its roles, one finding at a time, with reasons', () => {
    const wildcards = acknowledgements().filter((a) => a.path.startsWith('Customer360-dev/Ingestion/'));
    expect(wildcards.length).toBeGreaterThan(0);
    for (const { path, id, reason } of wildcards) {
      expect(path).toMatch(/^Customer360-dev\/Ingestion\/\w+Role$/);
      expect(id).toMatch(/AwsSolutions-IAM5\[Resource::[^\]]*\*[^\]]*\]$/);
      expect(reason.length).toBeGreaterThan(60);
    }
    // A bare `*` only where AWS offers no resource-level permissions (metrics, EC2 Describe*).
    const bare = wildcards.filter((a) => a.id.endsWith('[Resource::*]'));
    expect(bare.map((a) => `${a.path.split('/').pop()}: ${a.reason.split(' ')[0]}`).sort()).toEqual([
      'ExtractDynamoDbRole: cloudwatch:PutMetricData',
      'ExtractMysqlRole: EC2',
      'ExtractMysqlRole: cloudwatch:PutMetricData',
      'LandHistoryRole: cloudwatch:PutMetricData',
    ]);
  });

  it('acknowledges the Serverless findings it cannot fix, each on its resource with a reason', () => {
    const serverless = acknowledgements()
      .filter((a) => a.id.includes('Serverless-'))
      .map(({ path, id, reason }) => ({ path, id: id.replace(/^.*(Serverless-)/, '$1'), reason }));
    expect(serverless).toEqual([
      {
        path: 'Customer360-dev/Views/EnsureViews',
        id: 'Serverless-LambdaDLQ',
        reason: expect.stringMatching(/only synchronously by the Provider framework/),
      },
      ...['Serverless-LambdaDLQ', 'Serverless-LambdaDefaultMemorySize', 'Serverless-LambdaTracing'].map(
        (id) => ({
          path: 'Customer360-dev/Views/Provider/framework-onEvent',
          id,
          reason: expect.stringMatching(/aws-cdk-lib Provider framework function/),
        }),
      ),
      {
        path: 'Customer360-dev/Pipeline/PrepareQuery',
        id: 'Serverless-LambdaDLQ',
        reason: expect.stringMatching(/only synchronously by the state machine/),
      },
      {
        path: 'Customer360-dev/Pipeline/RunControl',
        id: 'Serverless-LambdaDLQ',
        reason: expect.stringMatching(/only synchronously by the state machine/),
      },
      {
        path: 'Customer360-dev/Pipeline/Retention',
        id: 'Serverless-LambdaDLQ',
        reason: expect.stringMatching(/only synchronously by the state machine/),
      },
      {
        path: 'Customer360-dev/Pipeline/FitModels',
        id: 'Serverless-LambdaDLQ',
        reason: expect.stringMatching(/only synchronously by the state machine/),
      },
      {
        path: 'Customer360-dev/Pipeline/WriteSummaries',
        id: 'Serverless-LambdaDLQ',
        reason: expect.stringMatching(/only synchronously by the state machine/),
      },
      {
        path: 'Customer360-dev/Pipeline/RaiseAlerts',
        id: 'Serverless-LambdaDLQ',
        reason: expect.stringMatching(/only synchronously by the state machine/),
      },
      {
        path: 'Customer360-dev/Monitoring/DeadLetterQueue',
        id: 'Serverless-SQSRedrivePolicy',
        reason: expect.stringMatching(/itself the dead-letter queue/),
      },
      {
        path: 'Customer360-dev/Erasure/Function',
        id: 'Serverless-LambdaDLQ',
        reason: expect.stringMatching(/only synchronously by the erasure state machine/),
      },
    ]);
  });
});
