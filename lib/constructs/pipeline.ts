import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArnFormat, Aws, Duration, RemovalPolicy, Stack, TimeZone, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import type { Customer360Config } from '../config/schema.js';
import { modelClvByTriple, modelParameters, modelRuns } from '../schema/marts/models.js';
import { publishedRuns } from '../schema/marts/published-runs.js';
import { ephemeralClosure, loadModels, type SqlModel, tableModelsInOrder } from '../sql/models.js';
import { ESM_BUNDLING } from './bundling.js';
import type { DataCatalog } from './data-catalog.js';
import type { DataLakeStorage } from './data-lake-storage.js';

export type ExtractSource = 'mysql' | 'dynamodb' | 'history';

/** What the pipeline needs of the ingestion jobs (see `Ingestion`). */
export interface IngestionJobs {
  /** Jobs of the enabled sources: a source without one gets no branch in `Extract sources`. */
  readonly jobNames: Readonly<Partial<Record<ExtractSource, string>>>;
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
  /** Where alerts go and what remembers them (see `Alerting`). */
  readonly alerting: AlertingResources;
}

/** What the pipeline needs of the alerting resources. */
export interface AlertingResources {
  readonly alertsTopic: sns.ITopic;
  readonly dedupeTable: dynamodb.ITable;
}

/** The state that writes segment_summaries, before publishing. */
export const SUMMARIES_STATE = 'Write segment summaries';
/** The irreversible states, after publishing and only in runs that publish. */
export const ALERTS_STATE = 'Raise alerts';
export const DIGEST_STATE = 'Send digest';
/** The last state of a run that publishes: deletes expired runs (lib/retention/retention.ts). */
export const RETENTION_STATE = 'Apply retention';

/** Every object of a run location, `<table>/run_date=D/run_id=R/...`, as an IAM resource pattern. */
export const RUN_LOCATION_OBJECTS = '*/run_date=*/run_id=*/*';
/** Tables written by a Lambda before publishing, published with the marts. */
export const SUMMARY_OUTPUT_TABLES: readonly string[] = ['segment_summaries'];

/** The name of the state a failure is reported from; also the prefix of the catch's Pass state. */
export const FAILURE_NOTIFICATION_STATE = 'Notify failure';
export const QUALITY_NOTIFICATION_STATE = 'Notify quality gate failure';

const LAMBDA_TIMEOUT = Duration.minutes(5);
// Fitting reads bounded samples and the distinct (x, t_x, T) triples, so its cost does not follow the
// customer count; sized from the benchmark (docs/models.md, "Cost") with room to spare.
const FIT_MODELS_TIMEOUT = Duration.minutes(10);
export const FIT_MODELS_MEMORY_MB = 2048;
export const FIT_MODELS_STATE = 'Fit models';

/** Tables the Fit models Lambda writes; marts that read them run after it. */
export const MODEL_OUTPUT_TABLES: readonly string[] = [
  modelRuns.name,
  modelParameters.name,
  modelClvByTriple.name,
];
/** Tables the Fit models Lambda reads; they are built before it. */
export const MODEL_INPUT_TABLES: readonly string[] = ['model_bgnbd_inputs', 'model_samples'];
// One Athena statement; the workgroup's scan cutoff usually stops a runaway query long before.
const ATHENA_TIMEOUT = Duration.hours(1);
// Above the longest Glue job timeout (the DynamoDB export job's 180 minutes by default).
const GLUE_TASK_TIMEOUT = Duration.hours(4);

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

/**
 * Groups table models (given in dependency order) into waves: a model runs in the first wave after
 * every model whose table it reads, directly or through the ephemeral models it inlines.
 */
export function modelWaves(models: readonly SqlModel[], all?: ReadonlyMap<string, SqlModel>): string[][] {
  const names = new Set(models.map((m) => m.name));
  const level = new Map<string, number>();
  for (const model of models) {
    const inlined = all ? ephemeralClosure(model, all).flatMap((m) => m.reads) : [];
    const reads = [...model.reads, ...inlined]
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
 * Splits the marts (given in dependency order) at `Fit models`: a mart that reads a table the Lambda
 * writes (MODEL_OUTPUT_TABLES), directly, through an ephemeral model or through another such mart,
 * runs after it; every other mart runs before. The SQL reads alone cannot order a Lambda, so the model
 * tables are the explicit dependencies. The Lambda's own inputs must be built before it.
 */
export function splitAtModels(
  marts: readonly SqlModel[],
  all: ReadonlyMap<string, SqlModel>,
): { before: SqlModel[]; after: SqlModel[] } {
  const after = new Set<string>();
  for (const mart of marts) {
    const reads = [...mart.reads, ...ephemeralClosure(mart, all).flatMap((m) => m.reads)]
      .filter((r) => r.startsWith('analytics.'))
      .map((r) => r.slice('analytics.'.length));
    if (reads.some((r) => MODEL_OUTPUT_TABLES.includes(r) || after.has(r))) after.add(mart.name);
  }
  const before = marts.filter((m) => !after.has(m.name));
  for (const input of MODEL_INPUT_TABLES) {
    if (after.has(input))
      throw new Error(`SQL model ${input} is an input of Fit models but reads what Fit models writes`);
  }
  return { before, after: marts.filter((m) => after.has(m.name)) };
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
  public readonly runControlFunction: lambda.IFunction;
  public readonly fitModelsFunction: lambda.IFunction;
  /** Deletes expired runs (lib/retention/retention.ts), in the `Apply retention` state. */
  public readonly retentionFunction: lambda.IFunction;

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

    const root = join(import.meta.dirname, '..', '..');
    // The configuration travels as a file in each function's bundle: Lambda caps all environment
    // variables at 4 KB together, which a real list of blocked emails alone exceeds.
    const configFile = join(mkdtempSync(join(tmpdir(), 'c360-config-')), 'customer360.config.json');
    writeFileSync(configFile, JSON.stringify(config));
    const stack = Stack.of(this);
    const stateMachineName = `${config.catalogPrefix.replaceAll('_', '-')}-pipeline`;
    // Known by name, so the functions can name the state machine without a reference cycle.
    const stateMachineArn = stack.formatArn({
      service: 'states',
      resource: 'stateMachine',
      resourceName: stateMachineName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    const buckets = JSON.stringify({
      raw: storage.rawBucket.bucketName,
      stage: storage.stageBucket.bucketName,
      analytics: storage.analyticsBucket.bucketName,
    });
    const pipelineFunction = (
      name: string,
      description: string,
      environment: Record<string, string>,
      copySql: boolean,
      sizing: { memorySize?: number; timeout?: Duration } = {},
    ): { fn: NodejsFunction; role: iam.Role } => {
      const functionLogs = new logs.LogGroup(this, `${name}Logs`, {
        retention,
        removalPolicy,
        encryptionKey: storage.key,
      });
      const functionRole = new iam.Role(this, `${name}Role`, {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        description,
      });
      functionLogs.grantWrite(functionRole);
      const fn = new NodejsFunction(this, name, {
        entry: join(root, 'lambdas', kebab(name), 'index.ts'),
        runtime: lambda.Runtime.NODEJS_24_X,
        architecture: lambda.Architecture.ARM_64,
        memorySize: sizing.memorySize ?? 512,
        timeout: sizing.timeout ?? LAMBDA_TIMEOUT,
        role: functionRole,
        logGroup: functionLogs,
        tracing: lambda.Tracing.ACTIVE,
        environment: { CONFIG_FILE: '/var/task/customer360.config.json', ...environment },
        bundling: {
          ...ESM_BUNDLING,
          commandHooks: {
            beforeBundling: () => [],
            beforeInstall: () => [],
            afterBundling: (inputDir: string, outputDir: string) => [
              `cp "${configFile}" "${outputDir}/customer360.config.json"`,
              // The SQL files travel with the prepare function, which renders them for each run.
              ...(copySql ? [`cp -r "${inputDir}/sql" "${outputDir}/sql"`] : []),
            ],
          },
        },
      });
      return { fn, role: functionRole };
    };

    const { fn: prepare, role: functionRole } = pipelineFunction(
      'PrepareQuery',
      'Renders SQL steps and empties the run-owned location each writes',
      { DATABASES: JSON.stringify(catalog.databaseNames), BUCKETS: buckets, SQL_ROOT: '/var/task/sql' },
      true,
    );
    // It lists and empties the run's own target prefix before an UNLOAD; it never reads or writes data.
    for (const bucket of [storage.stageBucket, storage.analyticsBucket]) {
      functionRole.addToPrincipalPolicy(
        new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [bucket.bucketArn] }),
      );
      functionRole.addToPrincipalPolicy(
        new iam.PolicyStatement({ actions: ['s3:DeleteObject'], resources: [bucket.arnForObjects('*')] }),
      );
    }
    this.prepareQueryFunction = prepare;

    const { fn: control, role: controlRole } = pipelineFunction(
      'RunControl',
      'Settles each run (date, run id, one execution per date) and serializes publishing',
      {
        BUCKETS: buckets,
        STATE_MACHINE_ARN: stateMachineArn,
        PIPELINE_NAME: stateMachineName,
      },
      false,
    );
    controlRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
        resources: [storage.analyticsBucket.arnForObjects('_control/*')],
      }),
    );
    // It lists the run records; deleting runs is the retention function's, not this one's.
    controlRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [storage.analyticsBucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': ['_control/*'] } },
      }),
    );
    storage.key.grantEncryptDecrypt(controlRole);
    const executionArns = stack.formatArn({
      service: 'states',
      resource: 'execution',
      resourceName: `${stateMachineName}:*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    const grantSeeExecutions = (grantee: iam.Role) => {
      grantee.addToPrincipalPolicy(
        new iam.PolicyStatement({ actions: ['states:ListExecutions'], resources: [stateMachineArn] }),
      );
      grantee.addToPrincipalPolicy(
        new iam.PolicyStatement({ actions: ['states:DescribeExecution'], resources: [executionArns] }),
      );
    };
    grantSeeExecutions(controlRole);
    this.runControlFunction = control;

    const { fn: retentionFn, role: retentionRole } = pipelineFunction(
      'Retention',
      "Deletes expired runs' stage and analytics locations after a publish, never the published run or a snapshot base",
      { BUCKETS: buckets, STATE_MACHINE_ARN: stateMachineArn },
      false,
    );
    grantRetention(retentionRole, storage);
    grantSeeExecutions(retentionRole);
    this.retentionFunction = retentionFn;

    const { fn: fit, role: fitRole } = pipelineFunction(
      'FitModels',
      "Fits BG/NBD, Gamma-Gamma, the churn model and K-Means on a run's model inputs and writes their parameters",
      { ANALYTICS_BUCKET: storage.analyticsBucket.bucketName },
      false,
      { memorySize: FIT_MODELS_MEMORY_MB, timeout: FIT_MODELS_TIMEOUT },
    );
    // Reads only the model inputs and writes only the model outputs, each under its own table prefix.
    fitRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [storage.analyticsBucket.bucketArn],
        conditions: {
          StringLike: {
            's3:prefix': [...MODEL_INPUT_TABLES, ...MODEL_OUTPUT_TABLES].map((t) => `${t}/*`),
          },
        },
      }),
    );
    fitRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetObject'],
        resources: MODEL_INPUT_TABLES.map((t) => storage.analyticsBucket.arnForObjects(`${t}/*`)),
      }),
    );
    fitRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:PutObject', 's3:DeleteObject'],
        resources: MODEL_OUTPUT_TABLES.map((t) => storage.analyticsBucket.arnForObjects(`${t}/*`)),
      }),
    );
    storage.key.grantEncryptDecrypt(fitRole);
    this.fitModelsFunction = fit;

    // ---------------------------------------------------------------- summaries, alerts, digest
    const readRunOutput = (role: iam.Role, tables: readonly string[]) => {
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['s3:ListBucket'],
          resources: [storage.analyticsBucket.bucketArn],
          conditions: { StringLike: { 's3:prefix': tables.map((t) => `${t}/*`) } },
        }),
      );
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['s3:GetObject'],
          resources: tables.map((t) => storage.analyticsBucket.arnForObjects(`${t}/*`)),
        }),
      );
      storage.key.grantDecrypt(role);
    };
    const analyticsEnvironment = { ANALYTICS_BUCKET: storage.analyticsBucket.bucketName };
    const { fn: summarize, role: summarizeRole } = pipelineFunction(
      'WriteSummaries',
      "Writes the run's segment summaries with Bedrock from aggregate figures (or a template)",
      analyticsEnvironment,
      false,
    );
    readRunOutput(summarizeRole, ['segment_figures', 'segment_summaries']);
    summarizeRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:PutObject', 's3:DeleteObject'],
        resources: [storage.analyticsBucket.arnForObjects('segment_summaries/*')],
      }),
    );
    storage.key.grantEncryptDecrypt(summarizeRole);
    if (config.bedrock.enabled) {
      summarizeRole.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['bedrock:InvokeModel'],
          resources: bedrockResources(stack, config.bedrock.modelId),
        }),
      );
    }
    const { fn: alertFn, role: alertRole } = pipelineFunction(
      'RaiseAlerts',
      "Publishes the run's new fraud flags and high-value churn risk to the alerts topic, once per customer and window",
      {
        ...analyticsEnvironment,
        ALERTS_TOPIC_ARN: props.alerting.alertsTopic.topicArn,
        ALERTS_TABLE: props.alerting.dedupeTable.tableName,
      },
      false,
    );
    readRunOutput(alertRole, ['alert_candidates']);
    props.alerting.alertsTopic.grantPublish(alertRole);
    props.alerting.dedupeTable.grantReadWriteData(alertRole);
    const sendsDigest = config.alerts.senderEmail !== undefined && config.alerts.emailRecipients.length > 0;
    let digestFn: NodejsFunction | undefined;
    let digestRole: iam.Role | undefined;
    if (sendsDigest) {
      const created = pipelineFunction(
        'SendDigest',
        "Sends the run's digest email through SES, once per run date",
        { ...analyticsEnvironment, ALERTS_TABLE: props.alerting.dedupeTable.tableName },
        false,
      );
      digestFn = created.fn;
      digestRole = created.role;
      readRunOutput(digestRole, ['alert_candidates', 'segment_figures', 'data_quality']);
      props.alerting.dedupeTable.grantReadWriteData(digestRole);
      const sender = config.alerts.senderEmail ?? '';
      digestRole.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['ses:SendEmail'],
          // The sender's address and its domain (whichever is the verified identity), nothing else.
          resources: [sender, sender.split('@')[1] ?? sender].map((identity) =>
            stack.formatArn({ service: 'ses', resource: 'identity', resourceName: identity }),
          ),
        }),
      );
    }

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
        published: 'Unchanged: a run is visible only once it publishes, and this one did not.',
        retry:
          'Fix the cause, then start a new execution with the same input; it writes a new run of its own. (A redrive would resume at the final Fail state and rerun nothing.)',
      }),
      resultPath: sfn.JsonPath.DISCARD,
      taskTimeout: sfn.Timeout.duration(Duration.minutes(1)),
    });
    const failed = new sfn.Fail(this, 'Pipeline failed', {
      error: 'PipelineFailed',
      cause: 'A step failed; the notification names the state, the cause and the run date.',
    });
    failureNotice.next(failed);

    const catchInto = (
      step: sfn.TaskStateBase | sfn.CustomState | sfn.Parallel | sfn.Map,
      stateName: string,
      runDate = '$.runDate',
      // After publishing, failures go to a notice that says the run is published.
      notice: sfn.IChainable = failureNotice,
    ) => {
      const record = new sfn.Pass(this, `Failed at ${stateName}`, {
        parameters: {
          failedState: stateName,
          ...(runDate.startsWith('$') ? { 'runDate.$': runDate } : { runDate }),
          'error.$': '$.error',
        },
      });
      record.next(notice);
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
    // A task that outlives its Lambda's own timeout is lost; Step Functions then fails it by name.
    const lambdaTaskTimeout = sfn.Timeout.duration(LAMBDA_TIMEOUT.plus(Duration.minutes(1)));

    const controlStep = (
      id: string,
      payload: Record<string, unknown>,
      extra: Partial<tasks.LambdaInvokeProps>,
    ) => {
      const step = new tasks.LambdaInvoke(this, id, {
        lambdaFunction: control,
        payload: sfn.TaskInput.fromObject(payload),
        retryOnServiceExceptions: false,
        taskTimeout: lambdaTaskTimeout,
        ...extra,
      });
      step.addRetry(lambdaRetry);
      return step;
    };

    /** Prepare (Lambda: render SQL, empty the run's own location) then run (Athena, .sync). */
    const sqlStep = (label: string, payload: Record<string, unknown>) => {
      const prepareTask = new tasks.LambdaInvoke(this, `Prepare ${label}`, {
        lambdaFunction: prepare,
        payload: sfn.TaskInput.fromObject(payload),
        retryOnServiceExceptions: false,
        resultSelector: { 'queryString.$': '$.Payload.queryString', 'database.$': '$.Payload.database' },
        resultPath: '$.query',
        taskTimeout: lambdaTaskTimeout,
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
        TimeoutSeconds: ATHENA_TIMEOUT.toSeconds(),
      });
      runTask.addRetry(athenaRetry);
      return { first: prepareTask, last: runTask, chain: prepareTask.next(runTask) };
    };

    const runKeys = { 'runDate.$': '$.runDate', 'runId.$': '$.runId' };
    const runPayload = { ...runKeys, 'snapshot.$': '$.snapshot' };

    /** A Map over the model names planned for it; each item is prepared and run. */
    const modelMap = (label: string, itemLabel: string, kind: 'model' | 'latest_view') => {
      const map = new sfn.Map(this, label, {
        itemsPath: sfn.JsonPath.stringAt(`$.plan.${mapKey(label)}`),
        itemSelector: { 'name.$': '$$.Map.Item.Value', ...runPayload },
        maxConcurrency: 4,
        resultPath: sfn.JsonPath.DISCARD,
      });
      map.itemProcessor(sqlStep(itemLabel, { kind, 'name.$': '$.name', ...runPayload }).chain);
      catchInto(map, label);
      return map;
    };

    // ---------------------------------------------------------------- the plan
    // Shared intermediates (identity resolution) are tables of an earlier wave: built once, read many.
    const stageWaves = modelWaves(tableModelsInOrder(models, 'stage'), models);
    const analytics = tableModelsInOrder(models, 'analytics').filter((m) => m.name !== 'data_quality');
    const { before: beforeModels, after: afterModels } = splitAtModels(analytics, models);
    const martWaves = modelWaves(beforeModels, models);
    const scoringWaves = modelWaves(afterModels, models);
    const published = [
      ...tableModelsInOrder(models, 'analytics').map((m) => m.name),
      ...MODEL_OUTPUT_TABLES,
      ...SUMMARY_OUTPUT_TABLES,
    ];
    const plan: Record<string, readonly string[]> = {
      [mapKey('Publish latest views')]: published,
    };
    stageWaves.forEach((wave, index) => {
      plan[mapKey(`Build stage tables wave ${index + 1}`)] = wave;
    });
    martWaves.forEach((wave, index) => {
      plan[mapKey(`Build marts wave ${index + 1}`)] = wave;
    });
    scoringWaves.forEach((wave, index) => {
      plan[mapKey(`Score models wave ${index + 1}`)] = wave;
    });

    // Input contract (see RunMode in lib/pipeline/run-control.ts): `{}` daily run of the start date in
    // the schedule's time zone; `{runDate, full: true}` catch-up (extract and publish, never over a newer
    // published date unless `force: true`); `{runDate}` backfill (no extraction, no publishing);
    // `{runDate, rebuild: true}` stages from all of raw instead of the last published snapshot.
    const begin = controlStep(
      'Begin run',
      {
        action: 'begin',
        'input.$': '$',
        'executionId.$': '$$.Execution.Id',
        'executionName.$': '$$.Execution.Name',
        'startTime.$': '$$.Execution.StartTime',
      },
      {
        resultSelector: Object.fromEntries(
          ['runDate', 'runId', 'mode', 'extract', 'publish', 'force', 'snapshot'].map((k) => [
            `${k}.$`,
            `$.Payload.${k}`,
          ]),
        ),
        resultPath: '$.run',
      },
    );
    // An erasure rewrites the lake (lib/constructs/erasure.ts): the run waits for it, then begins.
    begin.addRetry({
      errors: ['ErasureInProgress'],
      interval: Duration.minutes(1),
      backoffRate: 2,
      maxAttempts: 6,
      maxDelay: Duration.minutes(30),
      jitterStrategy: sfn.JitterType.FULL,
    });
    catchInto(begin, 'Begin run', 'not settled: the run did not begin');
    const planRun = new sfn.Pass(this, 'Plan the run', {
      parameters: {
        'runDate.$': '$.run.runDate',
        'runId.$': '$.run.runId',
        'mode.$': '$.run.mode',
        'extract.$': '$.run.extract',
        'publish.$': '$.run.publish',
        'force.$': '$.run.force',
        'snapshot.$': '$.run.snapshot',
        plan,
      },
    });
    const extractChoice = new sfn.Choice(this, 'Extract?');

    const extract = new sfn.Parallel(this, 'Extract sources', { resultPath: sfn.JsonPath.DISCARD });
    for (const source of ['mysql', 'dynamodb', 'history'] as const) {
      const jobName = props.ingestion.jobNames[source];
      if (jobName === undefined) continue;
      // A custom state rather than GlueStartJobRun: that construct turns its timeout into the job run's
      // own Timeout argument and leaves the state without TimeoutSeconds, and a state without one
      // gets a 60-second limit in the local interpreter. The grant comes from `grantStartJobs`.
      const job = new sfn.CustomState(this, `Extract ${source}`, {
        stateJson: {
          Type: 'Task',
          Resource: `arn:${Aws.PARTITION}:states:::glue:startJobRun.sync`,
          Parameters: {
            JobName: jobName,
            Arguments: { '--ingest_date.$': '$.runDate' },
          },
          // Kept (not `null`), so a run's history shows what each job did; the local runner reads a
          // skipped extraction's reason here. The Parallel discards it before the stage tables.
          ResultPath: '$.jobRun',
          // The job's own timeout stops it first; this bounds a job Step Functions lost sight of.
          TimeoutSeconds: GLUE_TASK_TIMEOUT.toSeconds(),
        },
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

    const stageMaps = stageWaves.map((_wave, index) =>
      modelMap(`Build stage tables wave ${index + 1}`, `stage query wave ${index + 1}`, 'model'),
    );
    const [firstStage, ...laterStages] = stageMaps;
    if (!firstStage) throw new Error('No stage models under sql/stage');
    let stage: sfn.Chain = sfn.Chain.start(firstStage);
    for (const wave of laterStages) stage = stage.next(wave);

    const quality = sqlStep('data_quality query', { kind: 'model', name: 'data_quality', ...runPayload });
    catchInto(quality.first, 'Prepare data_quality query');
    catchInto(quality.last, 'Run data_quality query');
    const gateQuery = sqlStep('quality gate query', { kind: 'quality_gate', ...runPayload });
    catchInto(gateQuery.first, 'Prepare quality gate query');
    catchInto(gateQuery.last, 'Run quality gate query');
    const readGate = athenaTask(this, 'Read quality gate', 'getQueryResults', {
      Parameters: { 'QueryExecutionId.$': '$.execution.queryExecutionId' },
      ResultSelector: { 'rows.$': '$.ResultSet.Rows' },
      ResultPath: '$.gate',
      TimeoutSeconds: 60,
    });
    readGate.addRetry(athenaRetry);
    catchInto(readGate, 'Read quality gate');
    const qualityNotice = new tasks.SnsPublish(this, QUALITY_NOTIFICATION_STATE, {
      topic,
      subject: 'Customer 360 run stopped by the quality gate',
      message: sfn.TaskInput.fromObject({
        event: 'quality_gate_failed',
        'runDate.$': '$.runDate',
        'runId.$': '$.runId',
        // Row 0 of Athena's result is the header; the failed checks are the rows after it.
        'columns.$': '$.gate.rows[0].Data[*].VarCharValue',
        'failedChecks.$': '$.gate.rows[1:]',
        'execution.$': '$$.Execution.Id',
        retry:
          'Nothing was published: readers still see the previous run. Fix the source, then start an execution with the same input.',
      }),
      resultPath: sfn.JsonPath.DISCARD,
      taskTimeout: sfn.Timeout.duration(Duration.minutes(1)),
    });
    qualityNotice.next(
      new sfn.Fail(this, 'Quality gate failed', {
        error: 'QualityGateFailed',
        cause:
          'Blocking data-quality checks failed; the notification lists them, and analytics.data_quality has them for the run.',
      }),
    );
    // Row 0 of Athena's result is the header: a row 1 means at least one blocking check failed.
    const gate = new sfn.Choice(this, 'Quality gate passed?').when(
      sfn.Condition.isPresent('$.gate.rows[1]'),
      qualityNotice,
    );

    const claim = controlStep(
      'Claim publishing',
      {
        action: 'claim_publish',
        ...runKeys,
        'executionId.$': '$$.Execution.Id',
        'force.$': '$.force',
      },
      { resultSelector: { 'previous.$': '$.Payload.previous' }, resultPath: '$.claim' },
    );
    // Another execution is publishing: wait for it (publishing is serialized per deployment).
    claim.addRetry({
      errors: ['PublishInProgress'],
      interval: Duration.seconds(20),
      backoffRate: 1.5,
      maxAttempts: 12,
      maxDelay: Duration.minutes(5),
      jitterStrategy: sfn.JitterType.FULL,
    });
    catchInto(claim, 'Claim publishing');
    const publish = modelMap('Publish latest views', 'latest view', 'latest_view');
    const record = sqlStep('published run record', {
      kind: 'record_publish',
      ...runPayload,
      'executionId.$': '$$.Execution.Id',
      'previous.$': '$.claim.previous',
    });
    catchInto(record.first, 'Prepare published run record');
    catchInto(record.last, 'Run published run record');
    const complete = controlStep(
      'Complete publishing',
      { action: 'complete_publish', ...runKeys, 'executionId.$': '$$.Execution.Id' },
      { resultSelector: { 'published.$': '$.Payload.published' }, resultPath: '$.completed' },
    );
    catchInto(complete, 'Complete publishing');

    const waves = martWaves.map((_wave, index) =>
      modelMap(`Build marts wave ${index + 1}`, `mart query wave ${index + 1}`, 'model'),
    );
    const fitModels = new tasks.LambdaInvoke(this, FIT_MODELS_STATE, {
      lambdaFunction: fit,
      payload: sfn.TaskInput.fromObject(runKeys),
      retryOnServiceExceptions: false,
      // The inputs and parameters travel through the run's location in S3; only a summary comes back.
      resultSelector: { 'models.$': '$.Payload.models', 'triples.$': '$.Payload.triples' },
      resultPath: '$.fitted',
      taskTimeout: sfn.Timeout.duration(FIT_MODELS_TIMEOUT.plus(Duration.minutes(1))),
    });
    fitModels.addRetry(lambdaRetry);
    catchInto(fitModels, FIT_MODELS_STATE);
    const scoring = scoringWaves.map((_wave, index) =>
      modelMap(`Score models wave ${index + 1}`, `scoring query wave ${index + 1}`, 'model'),
    );
    const summaries = new tasks.LambdaInvoke(this, SUMMARIES_STATE, {
      lambdaFunction: summarize,
      payload: sfn.TaskInput.fromObject(runKeys),
      retryOnServiceExceptions: false,
      // Kept in the execution's output (and the local run summary): what the summaries cost.
      resultSelector: Object.fromEntries(
        ['segments', 'fromBedrock', 'fallbacks', 'inputTokens', 'outputTokens', 'estimatedCostUsd'].map(
          (k) => [`${k}.$`, `$.Payload.${k}`],
        ),
      ),
      resultPath: '$.summaries',
      taskTimeout: lambdaTaskTimeout,
    });
    summaries.addRetry(lambdaRetry);
    catchInto(summaries, SUMMARIES_STATE);
    const steps: (sfn.Map | tasks.LambdaInvoke)[] = [...waves, fitModels, ...scoring, summaries];

    // After publishing: irreversible, so a failure is reported and never unpublishes; the run stays
    // published, and the execution ends failed so the failure cannot be missed.
    const notificationFailure = new tasks.SnsPublish(this, 'Notify notification failure', {
      topic,
      subject: 'Customer 360 run published, but its alerts or digest failed',
      message: sfn.TaskInput.fromObject({
        event: 'notifications_failed',
        'failedState.$': '$.failedState',
        'runDate.$': '$.runDate',
        'error.$': '$.error',
        'execution.$': '$$.Execution.Id',
        published: 'Yes: the run is published; only the alerts or the digest did not (all) go out.',
        retry:
          'Fix the cause, then start a new execution with the same input: alerts and digests already sent are not sent again.',
      }),
      resultPath: sfn.JsonPath.DISCARD,
      taskTimeout: sfn.Timeout.duration(Duration.minutes(1)),
    });
    notificationFailure.next(
      new sfn.Fail(this, 'Published, notifications failed', {
        error: 'NotificationsFailed',
        cause: 'The run is published; the notification names the state that failed and why.',
      }),
    );
    const afterPublish = (id: string, fn: lambda.IFunction) => {
      const step = new tasks.LambdaInvoke(this, id, {
        lambdaFunction: fn,
        payload: sfn.TaskInput.fromObject(runKeys),
        retryOnServiceExceptions: false,
        resultPath: sfn.JsonPath.DISCARD,
        taskTimeout: lambdaTaskTimeout,
      });
      step.addRetry(lambdaRetry);
      catchInto(step, id, '$.runDate', notificationFailure);
      return step;
    };
    let notifications: sfn.Chain = sfn.Chain.start(afterPublish(ALERTS_STATE, alertFn));
    if (digestFn) notifications = notifications.next(afterPublish(DIGEST_STATE, digestFn));

    // Last, after the alerts (which matter more): a failure is reported and never touches the published
    // run; the next publish's pass deletes what this one did not.
    const retentionFailure = new tasks.SnsPublish(this, 'Notify retention failure', {
      topic,
      subject: 'Customer 360 run published, but retention failed',
      message: sfn.TaskInput.fromObject({
        event: 'retention_failed',
        'failedState.$': '$.failedState',
        'runDate.$': '$.runDate',
        'error.$': '$.error',
        'execution.$': '$$.Execution.Id',
        published: 'Yes: the run is published; only expired runs were not (all) deleted.',
        retry:
          'Fix the cause (the error names it); the next run that publishes deletes whatever is still expired.',
      }),
      resultPath: sfn.JsonPath.DISCARD,
      taskTimeout: sfn.Timeout.duration(Duration.minutes(1)),
    });
    retentionFailure.next(
      new sfn.Fail(this, 'Published, retention failed', {
        error: 'RetentionFailed',
        cause: 'The run is published; the notification names the error.',
      }),
    );
    const applyRetention = new tasks.LambdaInvoke(this, RETENTION_STATE, {
      lambdaFunction: retentionFn,
      payload: sfn.TaskInput.fromObject(runKeys),
      retryOnServiceExceptions: false,
      resultSelector: {
        'deletedRuns.$': '$.Payload.deletedRuns',
        'deletedObjects.$': '$.Payload.deletedObjects',
      },
      resultPath: '$.retention',
      taskTimeout: lambdaTaskTimeout,
    });
    applyRetention.addRetry(lambdaRetry);
    catchInto(applyRetention, RETENTION_STATE, '$.runDate', retentionFailure);
    const publishChoice = new sfn.Choice(this, 'Publish?')
      .when(sfn.Condition.booleanEquals('$.publish', false), new sfn.Succeed(this, 'Rebuilt'))
      .otherwise(
        claim
          .next(publish)
          .next(record.chain)
          .next(complete)
          .next(notifications)
          .next(applyRetention)
          .next(new sfn.Succeed(this, 'Published')),
      );
    let martChain: sfn.Chain = sfn.Chain.start(steps[0] ?? publishChoice);
    for (const step of steps.slice(1)) martChain = martChain.next(step);
    if (steps.length > 0) martChain.next(publishChoice);
    gate.otherwise(martChain);

    const build = stage.next(quality.chain).next(gateQuery.chain).next(readGate).next(gate);
    extract.next(build);
    extractChoice.when(sfn.Condition.booleanEquals('$.extract', true), extract).otherwise(firstStage);
    begin.next(planRun).next(extractChoice);

    // ---------------------------------------------------------------- the state machine
    const machineLogs = new logs.LogGroup(this, 'StateMachineLogs', {
      retention,
      removalPolicy,
      encryptionKey: storage.key,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName,
      definitionBody: sfn.DefinitionBody.fromChainable(begin),
      tracingEnabled: true,
      logs: { destination: machineLogs, level: sfn.LogLevel.ALL, includeExecutionData: true },
      timeout: Duration.hours(12),
      comment:
        'Customer 360: begin -> extract -> stage -> quality gate -> marts -> fit models -> scoring -> publish (write-audit-publish)',
    });
    const role = this.stateMachine.role;
    props.ingestion.grantStartJobs(role);
    catalog.grantQuery(role, ['raw', 'stage', 'analytics']);
    // Athena writes UNLOAD output with the caller's credentials: put objects in the two zones a run
    // writes, nothing else (no delete, retention or legal hold; the prepare function empties targets).
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
        resources: [storage.stageBucket.arnForObjects('*'), storage.analyticsBucket.arnForObjects('*')],
      }),
    );
    storage.key.grantEncryptDecrypt(role);
    // Publishing to the encrypted topic needs the topic key's data keys, granted here, not by accident.
    topic.grantPublish(role);
    storage.key.grant(role, 'kms:GenerateDataKey*', 'kms:Decrypt');
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        // CREATE OR REPLACE VIEW writes the `_latest` views of the analytics database, and only those:
        // the tables CloudFormation manages are out of reach.
        actions: ['glue:CreateTable', 'glue:UpdateTable', 'glue:GetTable'],
        resources: [
          stack.formatArn({ service: 'glue', resource: 'catalog' }),
          stack.formatArn({
            service: 'glue',
            resource: 'database',
            resourceName: catalog.databaseNames.analytics,
          }),
          stack.formatArn({
            service: 'glue',
            resource: 'table',
            resourceName: `${catalog.databaseNames.analytics}/*_latest`,
          }),
        ],
      }),
    );

    acknowledgeGrantWildcards(functionRole, [
      `Resource::<${logicalId(storage.stageBucket)}.Arn>/*`,
      `Resource::<${logicalId(storage.analyticsBucket)}.Arn>/*`,
      'Resource::*',
    ]);
    acknowledgeGrantWildcards(controlRole, [
      ...KMS_GRANT_ACTIONS,
      `Resource::<${logicalId(storage.analyticsBucket)}.Arn>/_control/*`,
      `Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:${stateMachineName}:*`,
      'Resource::*',
    ]);
    acknowledgeGrantWildcards(retentionRole, [
      ...[storage.stageBucket, storage.analyticsBucket].map(
        (bucket) => `Resource::<${logicalId(bucket)}.Arn>/${RUN_LOCATION_OBJECTS}`,
      ),
      `Resource::<${logicalId(storage.analyticsBucket)}.Arn>/_control/*`,
      `Resource::<${logicalId(storage.analyticsBucket)}.Arn>/_control/runs/*`,
      `Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:${stateMachineName}:*`,
      'Resource::*',
    ]);
    const runOutputFindings = (tables: readonly string[]) =>
      tables.map((table) => `Resource::<${logicalId(storage.analyticsBucket)}.Arn>/${table}/*`);
    acknowledgeGrantWildcards(summarizeRole, [
      ...KMS_GRANT_ACTIONS,
      ...runOutputFindings(['segment_figures', 'segment_summaries']),
      'Resource::*',
    ]);
    acknowledgeGrantWildcards(alertRole, [
      ...KMS_GRANT_ACTIONS,
      ...runOutputFindings(['alert_candidates']),
      'Resource::*',
    ]);
    if (digestRole)
      acknowledgeGrantWildcards(digestRole, [
        ...KMS_GRANT_ACTIONS,
        ...runOutputFindings(['alert_candidates', 'segment_figures', 'data_quality']),
        'Resource::*',
      ]);
    acknowledgeGrantWildcards(fitRole, [
      ...KMS_GRANT_ACTIONS,
      ...[...MODEL_INPUT_TABLES, ...MODEL_OUTPUT_TABLES].map(
        (table) => `Resource::<${logicalId(storage.analyticsBucket)}.Arn>/${table}/*`,
      ),
      'Resource::*',
    ]);
    acknowledgeGrantWildcards(role, [
      ...S3_GRANT_ACTIONS,
      ...KMS_GRANT_ACTIONS,
      ...(['rawBucket', 'stageBucket', 'analyticsBucket', 'athenaResultsBucket'] as const).map(
        (bucket) => `Resource::<${logicalId(storage[bucket])}.Arn>/*`,
      ),
      `Resource::<${logicalId(prepare)}.Arn>:*`,
      `Resource::<${logicalId(control)}.Arn>:*`,
      `Resource::<${logicalId(retentionFn)}.Arn>:*`,
      `Resource::<${logicalId(fit)}.Arn>:*`,
      `Resource::<${logicalId(summarize)}.Arn>:*`,
      `Resource::<${logicalId(alertFn)}.Arn>:*`,
      ...(digestFn ? [`Resource::<${logicalId(digestFn)}.Arn>:*`] : []),
      ...(['raw', 'stage', 'analytics'] as const).map(
        (zone) =>
          `Resource::arn:<AWS::Partition>:glue:<AWS::Region>:<AWS::AccountId>:table/${catalog.databaseNames[zone]}/*`,
      ),
      `Resource::arn:<AWS::Partition>:glue:<AWS::Region>:<AWS::AccountId>:table/${catalog.databaseNames.analytics}/*_latest`,
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
    for (const fn of [
      prepare,
      control,
      retentionFn,
      fit,
      summarize,
      alertFn,
      ...(digestFn ? [digestFn] : []),
    ]) {
      Validations.of(fn).acknowledge({
        id: 'Serverless-LambdaDLQ',
        reason:
          'Invoked only synchronously by the state machine (LambdaInvoke, request-response): a failed invocation is a task error that the definition retries and catches; a dead-letter queue only ever receives failed asynchronous invocations.',
      });
    }
  }
}

/**
 * What retention may touch: list the stage and analytics buckets, delete objects of run locations
 * there (never `published_runs`, the publish history, which shares the layout), read the run-control
 * objects and delete run records. Nothing in the raw bucket: raw expires by lifecycle rules.
 */
function grantRetention(role: iam.Role, storage: DataLakeStorage): void {
  for (const bucket of [storage.stageBucket, storage.analyticsBucket]) {
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [bucket.bucketArn] }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:DeleteObject'],
        resources: [bucket.arnForObjects(RUN_LOCATION_OBJECTS)],
      }),
    );
  }
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      effect: iam.Effect.DENY,
      actions: ['s3:DeleteObject'],
      resources: [storage.analyticsBucket.arnForObjects(`${publishedRuns.location}*`)],
    }),
  );
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['s3:GetObject'],
      resources: [storage.analyticsBucket.arnForObjects('_control/*')],
    }),
  );
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['s3:DeleteObject'],
      resources: [storage.analyticsBucket.arnForObjects('_control/runs/*')],
    }),
  );
  // Reading the run-control objects, which the lake key encrypts.
  storage.key.grantDecrypt(role);
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
  [
    /^Resource::<.*(PrepareQuery|RunControl|Retention|FitModels|WriteSummaries|RaiseAlerts|SendDigest).*\.Arn>:\*$/,
    'Invocation of the versions of one pipeline function.',
  ],
  [
    /^Resource::<.*Bucket.*\.Arn>\/_control\/\*$/,
    'The run-control objects (published run, run records) under the _control/ prefix of the analytics bucket.',
  ],
  [
    /^Resource::<.*Bucket.*\.Arn>\/_control\/runs\/\*$/,
    'The run records under _control/runs/: retention deletes the record of each run it expires.',
  ],
  [
    /^Resource::<.*(Stage|Analytics)Bucket.*\.Arn>\/\*\/run_date=\*\/run_id=\*\/\*$/,
    'Objects of run locations (<table>/run_date=D/run_id=R/) in one lake bucket: retention deletes expired runs, whose dates and ids are known only at run time; published_runs is denied explicitly.',
  ],
  [
    /^Resource::<.*AnalyticsBucket.*\.Arn>\/(model_[a-z_]+|segment_figures|segment_summaries|alert_candidates|data_quality)\/\*$/,
    "One analytics table's objects: a Lambda reads the run's input table or replaces its output table under run-date and run-id prefixes known only at run time.",
  ],
  [
    /^Resource::arn:.*:states:.*:execution:/,
    'Executions of this one state machine: a new run checks whether another execution of its date is running.',
  ],
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

function kebab(name: string): string {
  return name.replace(/([a-z])([A-Z])/g, '$1-$2').toLowerCase();
}

function mapKey(label: string): string {
  return label.toLowerCase().replace(/[^a-z0-9]+/g, '_');
}

function timeZone(name: string): TimeZone {
  return TimeZone.of(name);
}

/**
 * What `bedrock:InvokeModel` needs for a model id: the foundation model in this region, or, for an
 * inference profile (`us.`, `eu.`, `apac.`, `global.` prefixes), the profile and the model in the regions
 * it routes to.
 */
function bedrockResources(stack: Stack, modelId: string): string[] {
  const profile = /^(us|eu|apac|global)\.(.+)$/.exec(modelId);
  if (!profile) return [`arn:${Aws.PARTITION}:bedrock:${Aws.REGION}::foundation-model/${modelId}`];
  return [
    stack.formatArn({ service: 'bedrock', resource: 'inference-profile', resourceName: modelId }),
    `arn:${Aws.PARTITION}:bedrock:*::foundation-model/${profile[2]}`,
  ];
}
