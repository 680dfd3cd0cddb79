import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../lib/config/load.js';
import { collectTaskStates, synthesizedDefinition } from '../lib/local/pipeline-runner.js';
import { synthStack } from './helpers/stack.js';

type State = Record<string, unknown> & {
  Type: string;
  Retry?: { ErrorEquals: string[]; JitterStrategy?: string; BackoffRate?: number; MaxAttempts?: number }[];
  Catch?: { ErrorEquals: string[]; Next: string; ResultPath?: string }[];
};

/** Every state by name, Map and Parallel branches included. */
function allStates(definition: Record<string, unknown>): Record<string, State> {
  const found: Record<string, State> = {};
  const walk = (states: Record<string, State>) => {
    for (const [name, state] of Object.entries(states)) {
      found[name] = state;
      const processor = state.ItemProcessor as { States: Record<string, State> } | undefined;
      if (processor) walk(processor.States);
      for (const branch of (state.Branches as { States: Record<string, State> }[] | undefined) ?? [])
        walk(branch.States);
    }
  };
  walk(definition.States as Record<string, State>);
  return found;
}

describe('Pipeline state machine definition', () => {
  const definition = synthesizedDefinition(parseConfig({}));
  const states = allStates(definition);

  it('runs extract, stage, data quality and its gate, the marts in waves, then publishes', () => {
    const order: string[] = [];
    let name: string | undefined = 'Use the given run date';
    for (
      let state = name ? states[name] : undefined;
      name && state;
      state = name ? states[name] : undefined
    ) {
      order.push(name);
      name =
        (state.Next as string | undefined) ??
        (state.Type === 'Choice' ? (state.Default as string) : undefined);
    }
    expect(order).toEqual([
      'Use the given run date',
      'Extract sources',
      'Build stage tables',
      'Prepare data_quality query',
      'Run data_quality query',
      'Prepare quality gate query',
      'Run quality gate query',
      'Read quality gate',
      'Quality gate passed?',
      'Build marts wave 1',
      'Build marts wave 2',
      'Publish?',
      'Publish latest views',
      'Published',
    ]);
    expect(definition.StartAt).toBe('Run date given?');
  });

  it('extracts the three sources in parallel with Glue .sync jobs, passing the run date', () => {
    const extract = states['Extract sources'];
    const branches = ((extract?.Branches ?? []) as { StartAt: string }[]).map((b) => b.StartAt).sort();
    expect(branches).toEqual(['Extract dynamodb', 'Extract history', 'Extract mysql']);
    expect(states['Extract mysql']).toMatchObject({
      Resource: expect.stringMatching(/:states:::glue:startJobRun\.sync$/),
      Parameters: { JobName: 'customer360-extract-mysql', Arguments: { '--ingest_date.$': '$.runDate' } },
    });
  });

  it('retries throttling with exponential backoff and full jitter on every task', () => {
    const tasks = collectTaskStates(definition as never);
    expect(tasks.length).toBeGreaterThan(10);
    for (const { name, resource } of tasks) {
      if (resource.includes(':sns:publish')) continue;
      const retry = states[name]?.Retry ?? [];
      expect(retry.length, name).toBeGreaterThan(0);
      for (const retrier of retry) {
        expect(retrier, name).toMatchObject({ JitterStrategy: 'FULL', BackoffRate: 2 });
      }
      const errors = retry.flatMap((r) => r.ErrorEquals);
      if (resource.includes(':athena:')) expect(errors, name).toContain('Athena.TooManyRequestsException');
      if (resource.includes(':glue:')) expect(errors, name).toContain('Glue.ConcurrentRunsExceededException');
      if (resource.includes(':lambda:')) expect(errors, name).toContain('Lambda.TooManyRequestsException');
    }
  });

  it('catches every failure into one notification that names the state, then fails the execution', () => {
    const topLevel = Object.entries(definition.States as Record<string, State>).filter(
      ([, s]) => ['Task', 'Map', 'Parallel'].includes(s.Type) && !String(s.Resource ?? '').includes(':sns:'),
    );
    expect(topLevel.length).toBeGreaterThan(8);
    for (const [name, state] of topLevel) {
      expect(state.Catch, name).toEqual([
        { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: `Failed at ${name}` },
      ]);
      expect(states[`Failed at ${name}`]).toMatchObject({
        Type: 'Pass',
        Parameters: { failedState: name, 'runDate.$': '$.runDate', 'error.$': '$.error' },
        Next: 'Notify failure',
      });
    }
    expect(states['Notify failure']).toMatchObject({
      Resource: expect.stringMatching(/:states:::sns:publish$/),
      Parameters: {
        Message: { 'failedState.$': '$.failedState', 'runDate.$': '$.runDate', 'error.$': '$.error' },
      },
      Next: 'Pipeline failed',
    });
    expect(states['Pipeline failed']?.Type).toBe('Fail');
  });

  it('stops before publishing when a blocking quality check fails', () => {
    expect(states['Quality gate passed?']).toMatchObject({
      Choices: [{ Variable: '$.gate.rows[1]', IsPresent: true, Next: 'Notify quality gate failure' }],
      Default: 'Build marts wave 1',
    });
    expect(states['Notify quality gate failure']?.Next).toBe('Quality gate failed');
  });

  it('rebuilds a given date without extracting or publishing, unless a full run is asked for', () => {
    expect(states['Run date given?']).toMatchObject({
      Choices: [{ Variable: '$.runDate', IsPresent: true, Next: 'Full run flag given?' }],
      Default: 'Use the execution start date',
    });
    expect(states['Full run flag given?']).toMatchObject({
      Choices: [{ Variable: '$.full', IsPresent: true, Next: 'Full run?' }],
      Default: 'Rebuild the given run date',
    });
    expect(states['Full run?']).toMatchObject({
      Choices: [{ Variable: '$.full', BooleanEquals: true, Next: 'Use the given run date' }],
      Default: 'Rebuild the given run date',
    });
    expect(states['Rebuild the given run date']).toMatchObject({
      Parameters: { publish: false },
      Next: 'Build stage tables',
    });
    expect(states['Use the given run date']).toMatchObject({
      Parameters: { publish: true },
      Next: 'Extract sources',
    });
    expect(states['Publish?']).toMatchObject({
      Choices: [{ Variable: '$.publish', BooleanEquals: false, Next: 'Rebuilt' }],
      Default: 'Publish latest views',
    });
  });

  it('takes the run date from the input, or else from the execution start', () => {
    expect(states['Use the execution start date']?.Parameters).toMatchObject({
      'runDate.$': "States.ArrayGetItem(States.StringSplit($$.Execution.StartTime, 'T'), 0)",
    });
  });
});

describe('Pipeline resources', () => {
  const { template } = synthStack({
    schedule: { expression: 'cron(30 4 * * ? *)', timezone: 'Europe/Paris' },
  });

  it('traces with X-Ray and logs every event to an encrypted log group', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: Match.objectLike({ Level: 'ALL', IncludeExecutionData: true }),
    });
  });

  it('schedules the pipeline with EventBridge Scheduler from the configuration', () => {
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(30 4 * * ? *)',
      ScheduleExpressionTimezone: 'Europe/Paris',
      State: 'ENABLED',
      Target: Match.objectLike({ Arn: { Ref: Match.stringLikeRegexp('PipelineStateMachine') }, Input: '{}' }),
    });
  });

  it('lets the state machine start only the ingestion jobs and query only its workgroup', () => {
    const policies = Object.entries(template.findResources('AWS::IAM::Policy')).filter(([id]) =>
      id.startsWith('PipelineStateMachineRole'),
    );
    const statements = policies.flatMap(
      ([, p]) => p.Properties.PolicyDocument.Statement as Record<string, unknown>[],
    );
    const glue = statements.find((s) => [s.Action].flat().includes('glue:StartJobRun'));
    expect(JSON.stringify(glue?.Resource)).toMatch(/job\/customer360-extract-(mysql|dynamodb|history)/);
    const athena = statements.find((s) => [s.Action].flat().includes('athena:StartQueryExecution'));
    expect(JSON.stringify(athena?.Resource)).toContain('workgroup/customer360-pipeline');
  });

  it('lets the prepare function delete objects in the stage and analytics zones, never raw', () => {
    const policies = Object.entries(template.findResources('AWS::IAM::Policy')).filter(([id]) =>
      id.startsWith('PipelinePrepareQueryRole'),
    );
    const deletes = policies
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Record<string, unknown>[])
      .filter((s) => [s.Action].flat().some((a) => String(a).startsWith('s3:DeleteObject')));
    const resources = JSON.stringify(deletes.map((s) => s.Resource));
    expect(resources).toContain('StorageStageBucket');
    expect(resources).toContain('StorageAnalyticsBucket');
    expect(resources).not.toContain('StorageRawBucket');
  });

  it('ships the SQL files with the prepare function and encrypts the notification topic', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({ SQL_ROOT: '/var/task/sql', PIPELINE_CONFIG: Match.anyValue() }),
      },
      TracingConfig: { Mode: 'Active' },
    });
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
  });
});

describe('Pipeline without a schedule', () => {
  const { template } = synthStack({ schedule: { enabled: false } });

  it('creates no schedule', () => {
    template.resourceCountIs('AWS::Scheduler::Schedule', 0);
  });
});
