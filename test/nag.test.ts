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

  it('acknowledges only the access-log bucket for S1, with a reason', () => {
    const { stack } = buildApp(parseConfig({}));
    const acknowledged = stack.node.findAll().flatMap((c) =>
      (c.node.metadata ?? [])
        .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
        .flatMap((m) => Object.entries(m.data as Record<string, string>))
        .filter(([id]) => id.includes('AwsSolutions-'))
        .map(([id, reason]) => ({ path: c.node.path, id, reason })),
    );
    expect(acknowledged).toEqual([
      {
        path: 'Customer360-dev/Storage/AccessLogsBucket',
        id: expect.stringMatching(/AwsSolutions-S1$/),
        reason: expect.stringMatching(/server access log bucket itself/),
      },
    ]);
  });
});
