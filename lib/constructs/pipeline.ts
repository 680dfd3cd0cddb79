import { join } from 'node:path';
import { Aws, Duration, RemovalPolicy, Stack, TimeZone, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import type { Customer360Config } from '../config/schema.js';
import { loadModels, type SqlModel, tableModelsInOrder } from '../sql/models.js';
import type { DataCatalog } from './data-catalog.js';
import type { DataLakeStorage } from './data-lake-storage.js';

export type ExtractSource = 'mysql' | 'dynamodb' | 'history';

/** What the pipeline needs of the ingestion jobs (see `Ingestion`). */
export interface IngestionJobs {
  readonly jobNames: Readonly<Record<ExtractSource, string>>;
  grantStartJobs(grantee: iam.IGrantable): iam.Grant;
}

export interface PipelineProps {
  readonly config: Customer360Config;
  readonly storage: DataLakeStorage;
  readonly catalog: DataCatalog;
  readonly ingestion: IngestionJobs;
  /**
   * The SQL models to run.
   * @default every model under sql/
   */
  readonly models?: ReadonlyMap<string, SqlModel>;
  /**
   * Retention of the pipeline's logs.
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * What happens to log groups when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/** The name of the state a failure is reported from; also the prefix of the catch's Pass state. */
export const FAILURE_NOTIFICATION_STATE = 'Notify failure';
export const QUALITY_NOTIFICATION_STATE = 'Notify quality gate failure';

const ATHENA_TRANSIENT = [
  'Athena.TooManyRequestsException',
  'Athena.ThrottlingException',
  'Athena.InternalServerException',
];
const GLUE_TRANSIENT = [
  'Glue.ConcurrentRunsExceededException',
  'Glue.ThrottlingException',
  'Glue.InternalServiceException',
  'Glue.OperationTimeoutException',
];
const LAMBDA_TRANSIENT = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
];

/** Groups table models into waves: a model runs in the first wave after every model it reads. */
export function modelWaves(models: readonly SqlModel[]): string[][] {
  const names = new Set(models.map((m) => m.name));
  const level = new Map<string, number>();
  for (const model of models) {
    const reads = model.reads
      .map((r) => r.split('.')[1] ?? '')
      .filter((r) => names.has(r) && r !== model.name);
    const wave = Math.max(0, ...reads.map((r) => (level.get(r) ?? 0) + 1));
    level.set(model.name, wave);
  }
  const waves: string[][] = [];
  for (const model of models) {
    const wave = level.get(model.name) ?? 0;
    waves[wave] = [...(waves[wave] ?? []), model.name];
  }
  return waves.filter((w) => w.length > 0);
}

/**
 * The Customer 360 state machine, on an EventBridge Scheduler schedule: extract (Glue, in parallel) ->
 * stage (Athena) -> data quality and its gate -> marts (Athena, in dependency waves) -> publish the
 * `latest` views. Input `{ "runDate": "YYYY-MM-DD" }` reruns or backfills a date; without it the run
 * date is the execution's start date. Every step retries throttling with backoff and jitter, and a
 * failure sends one SNS notification naming the state, the cause and the run date.
 *
 * The local runner executes this very definition, read from the synthesized template.
 */
export class Pipeline extends Construct {
  public readonly stateMachine: sfn.StateMachine;
  public readonly notificationTopic: sns.ITopic;
  public readonly prepareQueryFunction: lambda.IFunction;

  constructor(scope: Construct, id: string, props: PipelineProps) {
    super(scope, id);
    const { config, storage, catalog } = props;
    const models = props.models ?? loadModels();
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const retention = props.logRetention ?? logs.RetentionDays.ONE_YEAR;

    const topic = new sns.Topic(this, 'Notifications', {
      displayName: 'Customer 360 pipeline',
      masterKey: storage.key,
      enforceSSL: true,
    });
    this.notificationTopic = topic;

    const functionLogs = new logs.LogGroup(this, 'PrepareQueryLogs', {
      retention,
      removalPolicy,
      encryptionKey: storage.key,
    });
    const functionRole = new iam.Role(this, 'PrepareQueryRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Renders SQL steps and empties their target partitions',
    });
    functionLogs.grantWrite(functionRole);
    const root = join(import.meta.dirname, '..', '..');
    const prepare = new NodejsFunction(this, 'PrepareQuery', {
      entry: join(root, 'lambdas', 'prepare-query', 'index.ts'),
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 512,
      timeout: Duration.minutes(5),
      role: functionRole,
      logGroup: functionLogs,
      tracing: lambda.Tracing.ACTIVE,
      environment: {
        PIPELINE_CONFIG: JSON.stringify(config),
        DATABASES: JSON.stringify(catalog.databaseNames),
        BUCKETS: JSON.stringify({
          raw: storage.rawBucket.bucketName,
          stage: storage.stageBucket.bucketName,
          analytics: storage.analyticsBucket.bucketName,
        }),
        SQL_ROOT: '/var/task/sql',
      },
      bundling: {
        format: OutputFormat.ESM,
        target: 'node24',
        minify: true,
        sourceMap: true,
        banner: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
        // The SQL files travel with the function, which renders them for each run date.
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          afterBundling: (inputDir: string, outputDir: string) => [
            `cp -r "${inputDir}/sql" "${outputDir}/sql"`,
          ],
        },
      },
    });
    storage.stageBucket.grantReadWrite(prepare);
    storage.analyticsBucket.grantReadWrite(prepare);
    storage.stageBucket.grantDelete(prepare);
    storage.analyticsBucket.grantDelete(prepare);
    this.prepareQueryFunction = prepare;

    // ---------------------------------------------------------------- building blocks
    const failureNotice = new tasks.SnsPublish(this, FAILURE_NOTIFICATION_STATE, {
      topic,
      subject: 'Customer 360 pipeline failed',
      message: sfn.TaskInput.fromObject({
        event: 'pipeline_failed',
        'failedState.$': '$.failedState',
        'runDate.$': '$.runDate',
        'error.$': '$.error',
        'execution.$': '$$.Execution.Id',
        retry:
          'Fix the cause, then redrive the execution (console or aws stepfunctions redrive-execution) to resume from the failed state, or start a new execution with the same runDate to rebuild the date.',
      }),
      resultPath: sfn.JsonPath.DISCARD,
    });
    const failed = new sfn.Fail(this, 'Pipeline failed', {
      error: 'PipelineFailed',
      cause: 'A step failed; the notification names the state, the cause and the run date.',
    });
    failureNotice.next(failed);

    const catchInto = (
      step: sfn.TaskStateBase | sfn.CustomState | sfn.Parallel | sfn.Map,
      stateName: string,
    ) => {
      const record = new sfn.Pass(this, `Failed at ${stateName}`, {
        parameters: {
          failedState: stateName,
          'runDate.$': '$.runDate',
          'error.$': '$.error',
        },
      });
      record.next(failureNotice);
      step.addCatch(record, { errors: [sfn.Errors.ALL], resultPath: '$.error' });
    };

    const athenaRetry: sfn.RetryProps = {
      errors: ATHENA_TRANSIENT,
      interval: Duration.seconds(5),
      backoffRate: 2,
      maxAttempts: 6,
      maxDelay: Duration.minutes(2),
      jitterStrategy: sfn.JitterType.FULL,
    };
    const lambdaRetry: sfn.RetryProps = {
      errors: LAMBDA_TRANSIENT,
      interval: Duration.seconds(2),
      backoffRate: 2,
      maxAttempts: 6,
      jitterStrategy: sfn.JitterType.FULL,
    };

    /** Prepare (Lambda: render SQL, empty the partition) then run (Athena, .sync). */
    const sqlStep = (label: string, payload: Record<string, unknown>) => {
      const prepareTask = new tasks.LambdaInvoke(this, `Prepare ${label}`, {
        lambdaFunction: prepare,
        payload: sfn.TaskInput.fromObject(payload),
        retryOnServiceExceptions: false,
        resultSelector: { 'queryString.$': '$.Payload.queryString', 'database.$': '$.Payload.database' },
        resultPath: '$.query',
      });
      prepareTask.addRetry(lambdaRetry);
      const runTask = athenaTask(this, `Run ${label}`, 'startQueryExecution.sync', {
        Parameters: {
          'QueryString.$': '$.query.queryString',
          WorkGroup: catalog.workGroupName,
          // Prepared statements name every table with its database; the context only satisfies the API.
          QueryExecutionContext: { Database: catalog.databaseNames.analytics },
        },
        ResultSelector: { 'queryExecutionId.$': '$.QueryExecution.QueryExecutionId' },
        ResultPath: '$.execution',
      });
      runTask.addRetry(athenaRetry);
      return { first: prepareTask, last: runTask, chain: prepareTask.next(runTask) };
    };

    /** A Map over the model names planned for it; each item is prepared and run. */
    const modelMap = (label: string, itemLabel: string, kind: 'model' | 'latest_view') => {
      const map = new sfn.Map(this, label, {
        itemsPath: sfn.JsonPath.stringAt(`$.plan.${mapKey(label)}`),
        itemSelector: { 'name.$': '$$.Map.Item.Value', 'runDate.$': '$.runDate' },
        maxConcurrency: 4,
        resultPath: sfn.JsonPath.DISCARD,
      });
      map.itemProcessor(sqlStep(itemLabel, { kind, 'name.$': '$.name', 'runDate.$': '$.runDate' }).chain);
      catchInto(map, label);
      return map;
    };

    // ---------------------------------------------------------------- the plan
    const stageModels = tableModelsInOrder(models, 'stage').map((m) => m.name);
    const analytics = tableModelsInOrder(models, 'analytics').filter((m) => m.name !== 'data_quality');
    const martWaves = modelWaves(analytics);
    const published = tableModelsInOrder(models, 'analytics').map((m) => m.name);
    const plan: Record<string, readonly string[]> = {
      [mapKey('Build stage tables')]: stageModels,
      [mapKey('Publish latest views')]: published,
    };
    martWaves.forEach((wave, index) => {
      plan[mapKey(`Build marts wave ${index + 1}`)] = wave;
    });

    // Input contract. `{}` (the schedule): extract, build and publish for the execution's start date.
    // `{ "runDate": D }`: rebuild D from the raw zone as it stands, publishing nothing, so a backfill
    // reproduces what D's data allows and never moves the dashboards back in time. `{ "runDate": D,
    // "full": true }`: extract into D's raw partition and publish, as a scheduled run of D would (a
    // missed day caught up the next morning, or a simulated day offline).
    const runDateGiven = new sfn.Choice(this, 'Run date given?');
    const fullFlagGiven = new sfn.Choice(this, 'Full run flag given?');
    const fullRun = new sfn.Choice(this, 'Full run?');
    const useGiven = new sfn.Pass(this, 'Use the given run date', {
      parameters: { 'runDate.$': '$.runDate', publish: true, plan },
    });
    const rebuildGiven = new sfn.Pass(this, 'Rebuild the given run date', {
      parameters: { 'runDate.$': '$.runDate', publish: false, plan },
    });
    const useStart = new sfn.Pass(this, 'Use the execution start date', {
      parameters: {
        'runDate.$': "States.ArrayGetItem(States.StringSplit($$.Execution.StartTime, 'T'), 0)",
        publish: true,
        plan,
      },
    });

    const extract = new sfn.Parallel(this, 'Extract sources', { resultPath: sfn.JsonPath.DISCARD });
    for (const source of ['mysql', 'dynamodb', 'history'] as const) {
      const job = new tasks.GlueStartJobRun(this, `Extract ${source}`, {
        glueJobName: props.ingestion.jobNames[source],
        integrationPattern: sfn.IntegrationPattern.RUN_JOB,
        arguments: sfn.TaskInput.fromObject({ '--ingest_date.$': '$.runDate' }),
        resultPath: sfn.JsonPath.DISCARD,
      });
      job.addRetry({
        errors: GLUE_TRANSIENT,
        interval: Duration.seconds(30),
        backoffRate: 2,
        maxAttempts: 5,
        maxDelay: Duration.minutes(10),
        jitterStrategy: sfn.JitterType.FULL,
      });
      extract.branch(job);
    }
    catchInto(extract, 'Extract sources');

    const stage = modelMap('Build stage tables', 'stage query', 'model');

    const quality = sqlStep('data_quality query', {
      kind: 'model',
      name: 'data_quality',
      'runDate.$': '$.runDate',
    });
    catchInto(quality.first, 'Prepare data_quality query');
    catchInto(quality.last, 'Run data_quality query');
    const gateQuery = sqlStep('quality gate query', { kind: 'quality_gate', 'runDate.$': '$.runDate' });
    catchInto(gateQuery.first, 'Prepare quality gate query');
    catchInto(gateQuery.last, 'Run quality gate query');
    const readGate = athenaTask(this, 'Read quality gate', 'getQueryResults', {
      Parameters: { 'QueryExecutionId.$': '$.execution.queryExecutionId' },
      ResultSelector: { 'rows.$': '$.ResultSet.Rows' },
      ResultPath: '$.gate',
    });
    readGate.addRetry(athenaRetry);
    catchInto(readGate, 'Read quality gate');
    const qualityNotice = new tasks.SnsPublish(this, QUALITY_NOTIFICATION_STATE, {
      topic,
      subject: 'Customer 360 run stopped by the quality gate',
      message: sfn.TaskInput.fromObject({
        event: 'quality_gate_failed',
        'runDate.$': '$.runDate',
        'failedChecks.$': '$.gate.rows',
        'execution.$': '$$.Execution.Id',
        retry:
          'Nothing was published for this date. Fix the source, then start an execution with the same runDate.',
      }),
      resultPath: sfn.JsonPath.DISCARD,
    });
    qualityNotice.next(
      new sfn.Fail(this, 'Quality gate failed', {
        error: 'QualityGateFailed',
        cause: 'Blocking data-quality checks failed; see analytics.data_quality for the run date.',
      }),
    );
    // Row 0 of Athena's result is the header: a row 1 means at least one blocking check failed.
    const gate = new sfn.Choice(this, 'Quality gate passed?').when(
      sfn.Condition.isPresent('$.gate.rows[1]'),
      qualityNotice,
    );

    const publish = modelMap('Publish latest views', 'latest view', 'latest_view');
    const waves = martWaves.map((_wave, index) =>
      modelMap(`Build marts wave ${index + 1}`, `mart query wave ${index + 1}`, 'model'),
    );
    const publishChoice = new sfn.Choice(this, 'Publish?')
      .when(sfn.Condition.booleanEquals('$.publish', false), new sfn.Succeed(this, 'Rebuilt'))
      .otherwise(publish.next(new sfn.Succeed(this, 'Published')));
    let martChain: sfn.Chain = sfn.Chain.start(waves[0] ?? publishChoice);
    for (const wave of waves.slice(1)) martChain = martChain.next(wave);
    if (waves.length > 0) martChain.next(publishChoice);
    gate.otherwise(martChain);

    const build = stage.next(quality.chain).next(gateQuery.chain).next(readGate).next(gate);
    extract.next(build);
    runDateGiven.when(sfn.Condition.isPresent('$.runDate'), fullFlagGiven).otherwise(useStart);
    fullFlagGiven.when(sfn.Condition.isPresent('$.full'), fullRun).otherwise(rebuildGiven);
    fullRun.when(sfn.Condition.booleanEquals('$.full', true), useGiven).otherwise(rebuildGiven);
    useGiven.next(extract);
    useStart.next(extract);
    rebuildGiven.next(build);

    // ---------------------------------------------------------------- the state machine
    const machineLogs = new logs.LogGroup(this, 'StateMachineLogs', {
      retention,
      removalPolicy,
      encryptionKey: storage.key,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: `${config.catalogPrefix.replaceAll('_', '-')}-pipeline`,
      definitionBody: sfn.DefinitionBody.fromChainable(runDateGiven),
      tracingEnabled: true,
      logs: { destination: machineLogs, level: sfn.LogLevel.ALL, includeExecutionData: true },
      timeout: Duration.hours(12),
      comment: 'Customer 360: extract -> stage -> quality gate -> marts -> publish',
    });
    const role = this.stateMachine.role;
    props.ingestion.grantStartJobs(role);
    catalog.grantQuery(role, ['raw', 'stage', 'analytics']);
    storage.stageBucket.grantReadWrite(role);
    storage.analyticsBucket.grantReadWrite(role);
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        // UNLOAD and CREATE VIEW write table metadata and partitions of the stage and analytics databases.
        actions: [
          'glue:CreateTable',
          'glue:UpdateTable',
          'glue:DeleteTable',
          'glue:GetTable',
          'glue:GetTables',
        ],
        resources: [
          Stack.of(this).formatArn({ service: 'glue', resource: 'catalog' }),
          ...(['stage', 'analytics'] as const).flatMap((zone) => [
            Stack.of(this).formatArn({
              service: 'glue',
              resource: 'database',
              resourceName: catalog.databaseNames[zone],
            }),
            Stack.of(this).formatArn({
              service: 'glue',
              resource: 'table',
              resourceName: `${catalog.databaseNames[zone]}/*`,
            }),
          ]),
        ],
      }),
    );

    acknowledgeGrantWildcards(functionRole, [
      ...S3_GRANT_ACTIONS,
      ...KMS_GRANT_ACTIONS,
      `Resource::<${logicalId(storage.stageBucket)}.Arn>/*`,
      `Resource::<${logicalId(storage.analyticsBucket)}.Arn>/*`,
      'Resource::*',
    ]);
    acknowledgeGrantWildcards(role, [
      ...S3_GRANT_ACTIONS,
      ...KMS_GRANT_ACTIONS,
      ...(['rawBucket', 'stageBucket', 'analyticsBucket', 'athenaResultsBucket'] as const).map(
        (bucket) => `Resource::<${logicalId(storage[bucket])}.Arn>/*`,
      ),
      `Resource::<${logicalId(prepare)}.Arn>:*`,
      ...(['raw', 'stage', 'analytics'] as const).map(
        (zone) =>
          `Resource::arn:<AWS::Partition>:glue:<AWS::Region>:<AWS::AccountId>:table/${catalog.databaseNames[zone]}/*`,
      ),
      'Resource::*',
    ]);

    if (config.schedule.enabled) {
      const scheduleRole = new iam.Role(this, 'ScheduleRole', {
        assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com'),
        description: 'Starts the Customer 360 pipeline on its schedule',
      });
      new scheduler.Schedule(this, 'Schedule', {
        description: 'Runs the Customer 360 pipeline; the run date is the execution start date',
        schedule: scheduler.ScheduleExpression.expression(
          config.schedule.expression,
          timeZone(config.schedule.timezone),
        ),
        target: new targets.StepFunctionsStartExecution(this.stateMachine, {
          input: scheduler.ScheduleTargetInput.fromObject({}),
          role: scheduleRole,
          retryAttempts: 2,
        }),
      });
    }

    // cdk-nag Serverless findings on this construct's resources, acknowledged in one place.
    Validations.of(prepare).acknowledge({
      id: 'Serverless-LambdaDLQ',
      reason:
        'Invoked only synchronously by the state machine (LambdaInvoke, request-response): a failed invocation is a task error that the definition retries and catches; a dead-letter queue only ever receives failed asynchronous invocations.',
    });
  }
}

const S3_GRANT_ACTIONS = ['s3:GetObject*', 's3:GetBucket*', 's3:List*', 's3:DeleteObject*', 's3:Abort*'].map(
  (action) => `Action::${action}`,
);
const KMS_GRANT_ACTIONS = ['kms:ReEncrypt*', 'kms:GenerateDataKey*'].map((action) => `Action::${action}`);

const GRANT_REASONS: readonly [RegExp, string][] = [
  [
    /^Action::s3:/,
    'Action wildcards of the S3 L2 grants (read/write/delete of objects), limited to the lake buckets named in the same statement.',
  ],
  [
    /^Action::kms:/,
    'Action wildcards of the KMS grant that lets the role encrypt and decrypt objects with the lake key only.',
  ],
  [
    /^Resource::<.*Bucket.*\.Arn>\/\*$/,
    'Objects of one lake bucket: partitions are written and replaced under run-date prefixes that are only known at run time.',
  ],
  [/^Resource::<.*PrepareQuery.*\.Arn>:\*$/, 'Invocation of the versions of the one prepare-query function.'],
  [
    /^Resource::arn:.*:glue:.*:table\//,
    'Tables of one Glue database of the lake: queries read them and publishing replaces the latest views.',
  ],
  [
    /^Resource::\*$/,
    'X-Ray tracing and Step Functions log delivery actions, which do not support resource-level permissions.',
  ],
];

/** Acknowledges the cdk-nag IAM5 findings that L2 grants produce on a role, each with its reason. */
function acknowledgeGrantWildcards(role: iam.IRole, findings: readonly string[]): void {
  for (const finding of findings) {
    const reason = GRANT_REASONS.find(([pattern]) => pattern.test(finding))?.[1];
    if (!reason) throw new Error(`No reason recorded for IAM5 finding ${finding}`);
    Validations.of(role).acknowledge({ id: `AwsSolutions-IAM5[${finding}]`, reason });
  }
}

function logicalId(construct: Construct): string {
  const child = construct.node.defaultChild ?? construct;
  return Stack.of(construct).getLogicalId(child as unknown as import('aws-cdk-lib').CfnElement);
}

/** A Step Functions service-integration task for Athena, with only the IAM the caller grants. */
function athenaTask(
  scope: Construct,
  id: string,
  action: string,
  fields: Record<string, unknown>,
): sfn.CustomState {
  return new sfn.CustomState(scope, id, {
    stateJson: { Type: 'Task', Resource: `arn:${Aws.PARTITION}:states:::athena:${action}`, ...fields },
  });
}

function mapKey(label: string): string {
  return label.toLowerCase().replace(/[^a-z0-9]+/g, '_');
}

function timeZone(name: string): TimeZone {
  return TimeZone.of(name);
}
