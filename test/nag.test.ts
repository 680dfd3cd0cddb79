import { Validations } from 'aws-cdk-lib';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../lib/app.js';
import { parseConfig } from '../lib/config/load.js';

/** Unacknowledged AwsSolutions findings, as `rule @ construct path` lines. */
function findings(config: object): string[] {
  const { app } = buildApp(parseConfig(config));
  const result = new AwsSolutionsChecks(app).validateScope(app);
  return result.violations.flatMap((v) =>
    v.violatingResources.map((r) => `${v.ruleName} @ ${r.constructPath}`),
  );
}

describe('cdk-nag AwsSolutions on the default stack', () => {
  it('has zero unacknowledged findings', () => {
    expect(findings({})).toEqual([]);
  });
});

describe('cdk-nag AwsSolutions on a destroyable dev stack', () => {
  it('has zero unacknowledged findings', () => {
    expect(findings({ destroyDataOnRemoval: true, environment: 'sandbox' })).toEqual([]);
  });
});

describe('cdk-nag wiring', () => {
  it('fails synthesis when a construct breaks a rule', () => {
    const { app, stack } = buildApp(parseConfig({}));
    new Bucket(stack, 'CarelessBucket');

    expect(() => app.synth()).toThrow(/AwsSolutions-S10'[\s\S]*validation-report\.json/);
  });

  const acknowledgements = () => {
    const { stack } = buildApp(parseConfig({}));
    return stack.node.findAll().flatMap((c) =>
      (c.node.metadata ?? [])
        .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
        .flatMap((m) => Object.entries(m.data as Record<string, string>))
        .filter(([id]) => id.includes('AwsSolutions-'))
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
});
