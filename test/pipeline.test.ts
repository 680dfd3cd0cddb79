import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../lib/config/load.js';
import { ALERTS_STATE, DIGEST_STATE, RETENTION_STATE, splitAtModels } from '../lib/constructs/pipeline.js';
import { collectTaskStates, synthesizedDefinition } from '../lib/local/pipeline-runner.js';
import type { SqlModel } from '../lib/sql/models.js';
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
    let name: string | undefined = 'Begin run';
    for (
      let state = name ? states[name] : undefined;
      name && state;
      state = name ? states[name] : undefined
    ) {
      order.push(name);
      name =
        (state.Next as string | undefined) ??
        (state.Type === 'Choice'
          ? ((state.Choices as { Next: string }[] | undefined)?.find((c) => name === 'Extract?' && c.Next)
              ?.Next ?? (state.Default as string))
          : undefined);
    }
    expect(order).toEqual([
      'Begin run',
      'Plan the run',
      'Extract?',
      'Extract sources',
      'Build stage tables wave 1',
      'Build stage tables wave 2',
      'Build stage tables wave 3',
      'Prepare data_quality query',
      'Run data_quality query',
      'Prepare quality gate query',
      'Run quality gate query',
      'Read quality gate',
      'Quality gate passed?',
      'Build marts wave 1',
      'Build marts wave 2',
      'Fit models',
      'Score models wave 1',
      'Score models wave 2',
      'Score models wave 3',
      'Write segment summaries',
      'Publish?',
      'Claim publishing',
      'Publish latest views',
      'Prepare published run record',
      'Run published run record',
      'Complete publishing',
      'Raise alerts',
      'Apply retention',
      'Published',
    ]);
    expect(definition.StartAt).toBe('Begin run');
  });

  it('fits the models after the marts that build their inputs and before the marts that score with them', () => {
    const plan =
      (states['Plan the run']?.Parameters as { plan: Record<string, string[]> } | undefined)?.plan ?? {};
    expect(plan.build_marts_wave_1).toContain('model_features');
    expect(plan.build_marts_wave_2).toEqual(expect.arrayContaining(['model_bgnbd_inputs', 'model_samples']));
    expect(plan.score_models_wave_1?.sort()).toEqual(['churn_risk', 'clv', 'segments']);
    expect(plan.score_models_wave_2).toEqual(['customer_360']);
    // the tables the Lambda writes are published with the marts
    expect(plan.publish_latest_views).toEqual(
      expect.arrayContaining(['clv', 'segments', 'model_runs', 'model_parameters', 'model_clv_by_triple']),
    );
    const fit = states['Fit models'];
    // Only the run's keys go in; the inputs and parameters travel through the run's location in S3.
    expect((fit?.Parameters as { Payload: unknown } | undefined)?.Payload).toEqual({
      'runDate.$': '$.runDate',
      'runId.$': '$.runId',
    });
    expect(fit?.ResultPath).toBe('$.fitted');
    expect(fit?.Catch?.[0]?.Next).toBe('Failed at Fit models');
    expect(fit?.Retry?.[0]?.ErrorEquals).toContain('Lambda.TooManyRequestsException');
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

  it("keeps each extract job's result under $.jobRun, so a skipped extraction keeps its reason", () => {
    for (const source of ['mysql', 'dynamodb', 'history'])
      expect(states[`Extract ${source}`]?.ResultPath, source).toBe('$.jobRun');
    // the Parallel still hands the stage tables its input, not the job results
    expect(states['Extract sources']?.ResultPath).toBeNull();
  });

  it('retries throttling with exponential backoff and full jitter on every task', () => {
    const tasks = collectTaskStates(definition as never);
    expect(tasks.length).toBeGreaterThan(10);
    for (const { name, resource } of tasks) {
      if (resource.includes(':sns:publish')) continue;
      const retry = states[name]?.Retry ?? [];
      expect(retry.length, name).toBeGreaterThan(0);
      for (const retrier of retry) {
        expect(retrier, name).toMatchObject({ JitterStrategy: 'FULL' });
        expect(retrier.BackoffRate, name).toBeGreaterThan(1);
      }
      // Every task has its own time limit: none falls back to a silent default.
      expect(states[name]?.TimeoutSeconds, name).toBeGreaterThan(0);
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
        // Before Begin run there is no run date in the state to name.
        Parameters:
          name === 'Begin run'
            ? { failedState: name, runDate: expect.stringContaining('not settled'), 'error.$': '$.error' }
            : { failedState: name, 'runDate.$': '$.runDate', 'error.$': '$.error' },
        // After publishing, a failure is reported as such and never reads as "nothing was published".
        Next: [ALERTS_STATE, DIGEST_STATE].includes(name)
          ? 'Notify notification failure'
          : name === RETENTION_STATE
            ? 'Notify retention failure'
            : 'Notify failure',
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
    // It says what works: a redrive would resume at the Fail state the catch leads to.
    const parameters = states['Notify failure']?.Parameters as { Message?: { retry?: string } } | undefined;
    const retry = String(parameters?.Message?.retry);
    expect(retry).toContain('start a new execution with the same input');
    expect(retry).not.toMatch(/^.*redrive the execution/);
  });

  it('stops before publishing when a blocking quality check fails', () => {
    expect(states['Quality gate passed?']).toMatchObject({
      Choices: [{ Variable: '$.gate.rows[1]', IsPresent: true, Next: 'Notify quality gate failure' }],
      Default: 'Build marts wave 1',
    });
    expect(states['Notify quality gate failure']?.Next).toBe('Quality gate failed');
  });

  it('extracts and publishes only when the run control says so, and waits its turn to publish', () => {
    expect(states['Begin run']).toMatchObject({
      Parameters: {
        Payload: {
          action: 'begin',
          'input.$': '$',
          'executionName.$': '$$.Execution.Name',
          'startTime.$': '$$.Execution.StartTime',
        },
      },
      ResultPath: '$.run',
    });
    expect(states['Extract?']).toMatchObject({
      Choices: [{ Variable: '$.extract', BooleanEquals: true, Next: 'Extract sources' }],
      Default: 'Build stage tables wave 1',
    });
    expect(states['Publish?']).toMatchObject({
      Choices: [{ Variable: '$.publish', BooleanEquals: false, Next: 'Rebuilt' }],
      Default: 'Claim publishing',
    });
    expect(states['Claim publishing']?.Retry).toContainEqual(
      expect.objectContaining({ ErrorEquals: ['PublishInProgress'] }),
    );
  });

  it('passes every SQL step the run id, so each writes and reads its own location', () => {
    const prepares = collectTaskStates(definition as never).filter((t) => t.name.startsWith('Prepare '));
    expect(prepares.length).toBeGreaterThan(4);
    for (const { name } of prepares) {
      expect(states[name]?.Parameters, name).toMatchObject({
        Payload: { 'runDate.$': '$.runDate', 'runId.$': '$.runId' },
      });
    }
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

  it('ships the SQL files and the configuration as files with the functions, and encrypts the topic', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          SQL_ROOT: '/var/task/sql',
          CONFIG_FILE: '/var/task/customer360.config.json',
        }),
      },
      TracingConfig: { Mode: 'Active' },
    });
    // Not in a variable: Lambda caps all of them at 4 KB, which a long block list passes.
    for (const fn of Object.values(template.findResources('AWS::Lambda::Function'))) {
      expect(JSON.stringify(fn.Properties.Environment ?? {})).not.toContain('blockedEmails');
    }
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
  });
});

describe('Pipeline IAM is what the calls need', () => {
  const { template } = synthStack({});
  const statementsOf = (prefix: string) =>
    Object.entries(template.findResources('AWS::IAM::Policy'))
      .filter(([id]) => id.startsWith(prefix))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Record<string, unknown>[]);
  const actions = (statements: Record<string, unknown>[]) => statements.flatMap((s) => [s.Action].flat());

  it('lets the state machine replace only the _latest views, and never delete a table', () => {
    const statements = statementsOf('PipelineStateMachineRole');
    expect(actions(statements)).not.toContain('glue:DeleteTable');
    const writes = statements.filter((s) => [s.Action].flat().includes('glue:UpdateTable'));
    expect(JSON.stringify(writes.map((s) => s.Resource))).toContain('table/customer360_analytics/*_latest');
    expect(JSON.stringify(writes.map((s) => s.Resource))).not.toContain('customer360_stage');
  });

  it('gives the state machine no delete, retention or legal-hold rights on the lake', () => {
    const granted = actions(statementsOf('PipelineStateMachineRole'));
    for (const forbidden of [
      's3:DeleteObject',
      's3:DeleteObject*',
      's3:PutObjectRetention',
      's3:PutObjectLegalHold',
      's3:PutObject*',
    ])
      expect(granted, forbidden).not.toContain(forbidden);
    expect(granted).toContain('s3:PutObject');
  });

  it('lets the prepare function list and delete only, never read or write data', () => {
    const granted = actions(statementsOf('PipelinePrepareQueryRole'));
    expect(granted.filter((a) => String(a).startsWith('s3:')).sort()).toEqual([
      's3:DeleteObject',
      's3:DeleteObject',
      's3:ListBucket',
      's3:ListBucket',
    ]);
  });

  it('lets Fit models read only the model inputs and write only the model outputs', () => {
    const statements = statementsOf('PipelineFitModelsRole');
    const reads = statements.find((s) => [s.Action].flat().includes('s3:GetObject'));
    expect(JSON.stringify(reads?.Resource)).toContain('/model_samples/*');
    expect(JSON.stringify(reads?.Resource)).toContain('/model_bgnbd_inputs/*');
    expect(JSON.stringify(reads?.Resource)).not.toContain('customer_360');
    const writes = statements.find((s) => [s.Action].flat().includes('s3:PutObject'));
    expect(JSON.stringify(writes?.Resource)).toContain('/model_runs/*');
    expect(JSON.stringify(writes?.Resource)).not.toContain('/model_samples/*');
    expect(JSON.stringify(statements)).not.toContain('StorageStageBucket');
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ ANALYTICS_BUCKET: Match.anyValue() }) },
      MemorySize: 2048,
      Timeout: 600,
    });
  });

  it('lets the run control read executions of its own state machine and its _control objects', () => {
    const statements = statementsOf('PipelineRunControlRole');
    const control = statements.find((s) => [s.Action].flat().includes('s3:PutObject'));
    expect(JSON.stringify(control?.Resource)).toContain('/_control/*');
    const list = statements.find((s) => [s.Action].flat().includes('states:ListExecutions'));
    expect(JSON.stringify(list?.Resource)).toContain('stateMachine:customer360-pipeline');
  });
});

describe('Pipeline without a schedule', () => {
  const { template } = synthStack({ schedule: { enabled: false } });

  it('creates no schedule', () => {
    template.resourceCountIs('AWS::Scheduler::Schedule', 0);
  });
});

describe('Pipeline with MySQL and DynamoDB disabled (history only)', () => {
  const input = { sources: { mysql: { enabled: false }, dynamodb: { enabled: false } } } as const;
  const states = allStates(synthesizedDefinition(parseConfig(input)));
  const { template } = synthStack(input);

  it('extracts the history alone: no branch for a disabled source', () => {
    const branches = ((states['Extract sources']?.Branches ?? []) as { StartAt: string }[]).map(
      (b) => b.StartAt,
    );
    expect(branches).toEqual(['Extract history']);
    expect(states['Extract mysql']).toBeUndefined();
    expect(states['Extract dynamodb']).toBeUndefined();
  });

  it('deploys no connection, secret access, job or extract state for them', () => {
    template.resourceCountIs('AWS::Glue::Connection', 0);
    const jobs = template.findResources('AWS::Glue::Job');
    expect(Object.values(jobs).map((j) => (j.Properties as { Name: string }).Name)).toEqual([
      'customer360-land-history',
    ]);
    const text = JSON.stringify(template.toJSON());
    expect(text).not.toContain('secretsmanager:GetSecretValue');
    expect(text).not.toContain('customer360/mysql');
    expect(text).not.toContain('dynamodb:ExportTableToPointInTime');
  });

  it('keeps MySQL when only DynamoDB is off', () => {
    const only = allStates(synthesizedDefinition(parseConfig({ sources: { dynamodb: { enabled: false } } })));
    const branches = ((only['Extract sources']?.Branches ?? []) as { StartAt: string }[])
      .map((b) => b.StartAt)
      .sort();
    expect(branches).toEqual(['Extract history', 'Extract mysql']);
  });
});

describe('splitAtModels: the model tables are explicit dependencies of the plan', () => {
  const mart = (name: string, reads: string[]): SqlModel => ({
    name,
    file: `${name}.sql`,
    kind: 'table',
    sql: '',
    uses: [],
    reads,
  });

  it('puts a mart after Fit models when it reads a model output, directly or through another mart', () => {
    const marts = [
      mart('model_features', ['stage.orders']),
      mart('model_samples', ['analytics.model_features']),
      mart('clv', ['analytics.model_features', 'analytics.model_clv_by_triple']),
      mart('customer_360', ['analytics.clv', 'analytics.rfm']),
      mart('rfm', ['stage.orders']),
    ];
    const { before, after } = splitAtModels(marts, new Map(marts.map((m) => [m.name, m])));
    expect(before.map((m) => m.name)).toEqual(['model_features', 'model_samples', 'rfm']);
    expect(after.map((m) => m.name)).toEqual(['clv', 'customer_360']);
  });

  it('refuses a model input that would need the models first', () => {
    const marts = [mart('model_samples', ['analytics.model_parameters'])];
    expect(() => splitAtModels(marts, new Map(marts.map((m) => [m.name, m])))).toThrow(
      /model_samples is an input of Fit models but reads what Fit models writes/,
    );
  });
});

describe('Alerting, summaries and digest resources', () => {
  const { template } = synthStack({
    alerts: {
      emailRecipients: ['ops@example.com', 'marketing@example.com'],
      senderEmail: 'c360@example.com',
    },
  });
  const statementsOf = (prefix: string) =>
    Object.entries(template.findResources('AWS::IAM::Policy'))
      .filter(([id]) => id.startsWith(prefix))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Record<string, unknown>[]);

  it('subscribes each recipient by email to the alerts topic and the failure topic', () => {
    const subscriptions = Object.values(template.findResources('AWS::SNS::Subscription'));
    expect(subscriptions.map((s) => s.Properties.Endpoint).sort()).toEqual([
      'marketing@example.com',
      'marketing@example.com',
      'ops@example.com',
      'ops@example.com',
    ]);
    expect(new Set(subscriptions.map((s) => s.Properties.Protocol))).toEqual(new Set(['email']));
    template.hasResourceProperties('AWS::SNS::Topic', {
      DisplayName: 'Customer 360 alerts',
      KmsMasterKeyId: Match.anyValue(),
    });
  });

  it('remembers sent alerts in an encrypted table with a TTL and point-in-time recovery', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'alert_key', KeyType: 'HASH' }],
      TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: Match.objectLike({ SSEEnabled: true, SSEType: 'KMS' }),
    });
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain' });
  });

  it('lets the summaries call only the configured model, and the digest send only as the sender', () => {
    const bedrock = statementsOf('PipelineWriteSummariesRole').find((s) =>
      [s.Action].flat().includes('bedrock:InvokeModel'),
    );
    expect(JSON.stringify(bedrock?.Resource)).toContain('foundation-model/amazon.nova-lite-v1:0');
    const ses = statementsOf('PipelineSendDigestRole').find((s) =>
      [s.Action].flat().includes('ses:SendEmail'),
    );
    expect(JSON.stringify(ses?.Resource)).toContain('identity/c360@example.com');
    expect(JSON.stringify(ses?.Resource)).toContain('identity/example.com');
    expect(JSON.stringify(statementsOf('PipelineRaiseAlertsRole'))).not.toContain('bedrock');
  });

  it('sends the digest after the alerts, only in runs that publish', () => {
    const states = allStates(
      synthesizedDefinition(
        parseConfig({
          alerts: { emailRecipients: ['ops@example.com'], senderEmail: 'c360@example.com' },
        }),
      ),
    );
    expect(states['Complete publishing']?.Next).toBe('Raise alerts');
    expect(states['Raise alerts']?.Next).toBe('Send digest');
    expect(states['Send digest']?.Next).toBe('Apply retention');
    expect(states['Write segment summaries']?.Next).toBe('Publish?');
  });
});
