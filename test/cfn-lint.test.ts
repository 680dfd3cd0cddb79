import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { synthStack } from './helpers/stack.js';

/**
 * Runs the installed cfn-lint (pip package cfn-lint, on the machine image) on the synthesized template.
 *
 * Errors always fail. Warnings fail too, except the ones listed in ACCEPTED_WARNINGS with the reason:
 * cfn-lint's warnings on this template are the ones that matter later (a legacy property, a runtime
 * near end of life, a hard-coded value), so a new one should be looked at, not scroll past.
 * Informational findings are advice and are not collected.
 */

interface Finding {
  readonly Level: 'Error' | 'Warning' | 'Informational';
  readonly Message: string;
  readonly Rule: { readonly Id: string };
  readonly Location: { readonly Path: readonly (string | number)[] };
}

interface AcceptedWarning {
  readonly rule: string;
  /** Matches the finding's path, joined with `/`. */
  readonly path: RegExp;
  readonly reason: string;
}

const ACCEPTED_WARNINGS: readonly AcceptedWarning[] = [
  {
    rule: 'W3005',
    path: /^Resources\/(PipelinePrepareQuery|PipelineRunControl|PipelineRetention|PipelineFitModels|PipelineWriteSummaries|PipelineRaiseAlerts|PipelineSendDigest|PipelineStateMachine|ViewsEnsureViews|ViewsProviderframeworkonEvent|ErasureFunction|ErasureStateMachine)[0-9A-F]{8}\/DependsOn\//,
    reason:
      'aws-cdk-lib adds DependsOn on the role of a Lambda function and of a state machine beside the GetAtt of its ARN; redundant, harmless, and not ours to remove.',
  },
  {
    rule: 'W3010',
    path: /^Resources\/IngestionMysqlConnection[0-9A-F]{8}\/Properties\/ConnectionInput\/PhysicalConnectionRequirements\/AvailabilityZone$/,
    reason:
      "A Glue JDBC connection must name its subnet's availability zone; it is the configuration key sources.mysql.network.availabilityZone, not a constant in code.",
  },
];

const workDir = mkdtempSync(join(tmpdir(), 'c360-cfn-lint-'));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

/** Lints a template with cfn-lint and returns its findings. */
function cfnLint(template: unknown, name: string): Finding[] {
  const file = join(workDir, `${name}.json`);
  writeFileSync(file, JSON.stringify(template, null, 1));
  const run = spawnSync('cfn-lint', ['--format', 'json', '--', file], { encoding: 'utf8' });
  if (run.error) {
    throw new Error(
      `Could not run cfn-lint (${run.error.message}); expected the cfn-lint command of the pip package cfn-lint on PATH.`,
    );
  }
  // Exit codes are bit flags (2 error, 4 warning, 8 informational); 1 is a crash, with no JSON.
  if (run.status === 1 || run.stdout.trim() === '') {
    if (run.status === 0) return [];
    throw new Error(`cfn-lint failed on ${file} (exit ${run.status}): ${run.stderr}`);
  }
  return JSON.parse(run.stdout) as Finding[];
}

const show = (f: Finding) => `${f.Rule.Id} ${f.Location.Path.join('/')}: ${f.Message}`;

describe.each([
  ['default test configuration', {}],
  [
    'QuickSight enabled',
    {
      quicksight: {
        enabled: true,
        principalArn: 'arn:aws:quicksight:us-east-1:111122223333:group/default/customer360-analysts',
      },
    },
  ],
])('cfn-lint on the synthesized stack (%s)', (name, config) => {
  const { template } = synthStack(config);
  const findings = cfnLint(template.toJSON(), name.replaceAll(' ', '-'));

  it('finds no errors', () => {
    const errors = findings.filter((f) => f.Level === 'Error').map(show);
    expect(errors, `cfn-lint errors:\n${errors.join('\n')}`).toEqual([]);
  });

  it('finds no warnings beyond the accepted ones, each accepted for its reason', () => {
    const unexpected = findings
      .filter((f) => f.Level === 'Warning')
      .filter(
        (f) => !ACCEPTED_WARNINGS.some((a) => a.rule === f.Rule.Id && a.path.test(f.Location.Path.join('/'))),
      )
      .map(show);
    expect(unexpected, `cfn-lint warnings:\n${unexpected.join('\n')}`).toEqual([]);
  });
});

describe('the cfn-lint harness', () => {
  it('reports an error cfn-lint finds, with its rule and path', () => {
    // A bucket with a property CloudFormation does not have: cfn-lint's E3002.
    const broken = {
      AWSTemplateFormatVersion: '2010-09-09',
      Resources: { Broken: { Type: 'AWS::S3::Bucket', Properties: { NoSuchProperty: true } } },
    };
    const errors = cfnLint(broken, 'broken').filter((f) => f.Level === 'Error');
    expect(errors.map(show)).toEqual([expect.stringMatching(/^E3002 Resources\/Broken\/Properties/)]);
  });
});
