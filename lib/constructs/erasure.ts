import { join } from 'node:path';
import { ArnFormat, Duration, RemovalPolicy, Size, Stack, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { ESM_BUNDLING } from './bundling.js';
import type { DataLakeStorage } from './data-lake-storage.js';

export interface ErasureProps {
  readonly storage: DataLakeStorage;
  /** The sent-alerts table (see `Alerting`): erasure deletes the customers' items. */
  readonly dedupeTable: dynamodb.ITable;
  /** The pipeline's state machine name: erasure waits while one of its executions runs. */
  readonly pipelineStateMachineName: string;
  /**
   * Name of the erasure state machine.
   * @default '<pipeline name without -pipeline>-erase-customers'
   */
  readonly stateMachineName?: string;
  /**
   * Retention of the function's and the state machine's logs.
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * What happens to the log groups when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Memory of the function that reads and rewrites Parquet files (DuckDB in it uses up to 3 GB).
   * @default 4096
   */
  readonly memoryMb?: number;
}

/** States whose failures the erasure waits out (retried with backoff) rather than fails on. */
export const ERASURE_WAIT_ERRORS = ['PipelineRunning', 'ErasureInProgress'] as const;
const FUNCTION_TIMEOUT = Duration.minutes(15);

/**
 * Erasing customers on request: the state machine `<prefix>-erase-customers` takes
 * `{ "customerIds": ["123"], "requestedBy": "...", "reason": "..." }` and runs the erasure core
 * (lib/erase/core.ts) in one function: Begin erasure (lock, resolve, suppression list) -> Erase tables (a
 * Map over every table that can hold a customer's rows; each table is gone through a time budget at a
 * time, every object version) -> Finish erasure (sent alerts, the erasure log, unlock). A failure releases
 * the lock and fails the execution; running it again with the same input finishes the job.
 *
 * The function reads and rewrites Parquet with DuckDB, whose Node binding is native: it runs on x86_64 and
 * is bundled with its node_modules (deploy from linux-x64 or with Docker bundling).
 */
export class Erasure extends Construct {
  public readonly stateMachine: sfn.StateMachine;
  public readonly function: lambda.IFunction;
  public readonly role: iam.IRole;

  constructor(scope: Construct, id: string, props: ErasureProps) {
    super(scope, id);
    const { storage } = props;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const retention = props.logRetention ?? logs.RetentionDays.ONE_YEAR;
    const memoryMb = props.memoryMb ?? 4096;
    if (memoryMb < 2048 || memoryMb > 10_240)
      throw new Error(
        `Erasure memoryMb: got ${memoryMb}; expected 2048 to 10240 (DuckDB needs room to rewrite a file)`,
      );
    const stack = Stack.of(this);
    const stateMachineName =
      props.stateMachineName ?? `${props.pipelineStateMachineName.replace(/-pipeline$/, '')}-erase-customers`;
    const pipelineArn = stack.formatArn({
      service: 'states',
      resource: 'stateMachine',
      resourceName: props.pipelineStateMachineName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });

    const functionLogs = new logs.LogGroup(this, 'FunctionLogs', {
      retention,
      removalPolicy,
      encryptionKey: storage.key,
    });
    const role = new iam.Role(this, 'FunctionRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description:
        'Erases customers: reads and rewrites the lake buckets, their sent alerts, the control objects',
    });
    this.role = role;
    functionLogs.grantWrite(role);
    const root = join(import.meta.dirname, '..', '..');
    const fn = new NodejsFunction(this, 'Function', {
      entry: join(root, 'lambdas', 'erase-customers', 'index.ts'),
      runtime: lambda.Runtime.NODEJS_24_X,
      // DuckDB's prebuilt binding for Lambda is linux-x64.
      architecture: lambda.Architecture.X86_64,
      memorySize: memoryMb,
      ephemeralStorageSize: Size.gibibytes(10),
      timeout: FUNCTION_TIMEOUT,
      role,
      logGroup: functionLogs,
      tracing: lambda.Tracing.ACTIVE,
      environment: {
        BUCKETS: JSON.stringify({
          raw: storage.rawBucket.bucketName,
          stage: storage.stageBucket.bucketName,
          analytics: storage.analyticsBucket.bucketName,
        }),
        PIPELINE_STATE_MACHINE_ARN: pipelineArn,
        ALERTS_TABLE: props.dedupeTable.tableName,
      },
      bundling: {
        ...ESM_BUNDLING,
        nodeModules: ['@duckdb/node-api', '@duckdb/node-bindings'],
      },
    });
    this.function = fn;

    // The lake, and only the lake: list every version, read any version, put the rewritten file, delete
    // a version for good. The control objects (the erasure lock, the published run) are in the analytics
    // bucket; the erasure log and per-table results under the raw bucket's _control/.
    const buckets = [storage.rawBucket, storage.stageBucket, storage.analyticsBucket];
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:ListBucket', 's3:ListBucketVersions'],
        resources: buckets.map((b) => b.bucketArn),
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [
          's3:GetObject',
          's3:GetObjectVersion',
          's3:PutObject',
          's3:DeleteObject',
          's3:DeleteObjectVersion',
        ],
        resources: buckets.map((b) => b.arnForObjects('*')),
      }),
    );
    storage.key.grantEncryptDecrypt(role);
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['dynamodb:DeleteItem'], resources: [props.dedupeTable.tableArn] }),
    );
    // Only to see whether a pipeline execution is running (the two never overlap).
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['states:ListExecutions'], resources: [pipelineArn] }),
    );

    const step = (id: string, payload: Record<string, unknown>, resultPath: string | undefined) => {
      const task = new tasks.LambdaInvoke(this, id, {
        lambdaFunction: fn,
        payload: sfn.TaskInput.fromObject(payload),
        retryOnServiceExceptions: false,
        payloadResponseOnly: true,
        resultPath: resultPath ?? sfn.JsonPath.DISCARD,
        taskTimeout: sfn.Timeout.duration(FUNCTION_TIMEOUT.plus(Duration.minutes(1))),
      });
      task.addRetry({
        errors: [
          'Lambda.ServiceException',
          'Lambda.AWSLambdaException',
          'Lambda.SdkClientException',
          'Lambda.TooManyRequestsException',
        ],
        interval: Duration.seconds(2),
        backoffRate: 2,
        maxAttempts: 6,
        jitterStrategy: sfn.JitterType.FULL,
      });
      return task;
    };

    const refused = new sfn.Fail(this, 'Erasure refused', {
      error: 'ErasureRefused',
      cause:
        'The input was invalid, an id is unknown, or a pipeline run did not end in time; nothing was erased.',
    });
    const begin = step(
      'Begin erasure',
      { action: 'begin', 'input.$': '$', 'executionName.$': '$$.Execution.Name' },
      '$.erasure',
    );
    // A pipeline run holds the lake for up to hours: wait it out (about 6 hours in all).
    begin.addRetry({
      errors: [...ERASURE_WAIT_ERRORS],
      interval: Duration.minutes(2),
      backoffRate: 1.5,
      maxAttempts: 12,
      maxDelay: Duration.minutes(45),
      jitterStrategy: sfn.JitterType.FULL,
    });
    begin.addCatch(refused, { errors: [sfn.Errors.ALL], resultPath: '$.error' });

    const eraseTable = step(
      'Erase table',
      { action: 'erase_table', 'erasureId.$': '$.erasureId', 'table.$': '$.table', 'after.$': '$.after' },
      '$.progress',
    );
    const nextPart = new sfn.Pass(this, 'Rest of the table', {
      parameters: { 'erasureId.$': '$.erasureId', 'table.$': '$.table', 'after.$': '$.progress.after' },
    });
    nextPart.next(eraseTable);
    const tableDone = new sfn.Choice(this, 'Table done?')
      .when(sfn.Condition.booleanEquals('$.progress.done', true), new sfn.Succeed(this, 'Table erased'))
      .otherwise(nextPart);
    const tablesMap = new sfn.Map(this, 'Erase tables', {
      itemsPath: '$.erasure.tables',
      itemSelector: { 'table.$': '$$.Map.Item.Value', 'erasureId.$': '$.erasure.erasureId', after: null },
      maxConcurrency: 2,
      resultPath: sfn.JsonPath.DISCARD,
    });
    tablesMap.itemProcessor(eraseTable.next(tableDone));

    const failed = new sfn.Fail(this, 'Erasure failed', {
      error: 'ErasureFailed',
      cause:
        'A step failed after the suppression list was written: the customers stay out of every new run; start again with the same input to finish the rewrite.',
    });
    const abort = step(
      'Release the lock',
      { action: 'abort', 'erasureId.$': '$.erasure.erasureId' },
      undefined,
    );
    abort.next(failed);
    tablesMap.addCatch(abort, { errors: [sfn.Errors.ALL], resultPath: '$.error' });

    const finish = step(
      'Finish erasure',
      {
        action: 'finish',
        'erasureId.$': '$.erasure.erasureId',
        'customerIds.$': '$.erasure.customerIds',
        'requestedBy.$': '$.erasure.requestedBy',
        'requestedAt.$': '$.erasure.requestedAt',
        'reason.$': '$.erasure.reason',
      },
      '$.log',
    );
    finish.addCatch(abort, { errors: [sfn.Errors.ALL], resultPath: '$.error' });

    const machineLogs = new logs.LogGroup(this, 'StateMachineLogs', {
      retention,
      removalPolicy,
      encryptionKey: storage.key,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName,
      definitionBody: sfn.DefinitionBody.fromChainable(
        begin.next(tablesMap).next(finish).next(new sfn.Succeed(this, 'Erased')),
      ),
      tracingEnabled: true,
      // Inputs and outputs carry ids and counts only (emails are never an input), so they may be logged.
      logs: { destination: machineLogs, level: sfn.LogLevel.ALL, includeExecutionData: true },
      timeout: Duration.hours(24),
      comment:
        'Customer 360 erasure: begin (lock, resolve, suppress) -> erase every table -> finish (alerts, log, unlock)',
    });
    storage.key.grantEncryptDecrypt(this.stateMachine.role);

    const id_ = (construct: Construct) =>
      stack.getLogicalId(
        (construct.node.defaultChild ?? construct) as unknown as import('aws-cdk-lib').CfnElement,
      );
    const reasons: [string, string][] = [
      ...buckets.map(
        (b) =>
          [
            `Resource::<${id_(b)}.Arn>/*`,
            'Erasure rewrites any object of this lake bucket that holds a row of the customer, in any table, partition or version: which ones is known only when it reads them.',
          ] as [string, string],
      ),
      ['Action::kms:ReEncrypt*', 'The KMS grant to encrypt and decrypt objects with the lake key only.'],
      [
        'Action::kms:GenerateDataKey*',
        'The KMS grant to encrypt and decrypt objects with the lake key only.',
      ],
      [
        'Resource::*',
        'X-Ray segments (PutTraceSegments, PutTelemetryRecords) have no resource-level permissions.',
      ],
    ];
    for (const [finding, reason] of reasons)
      Validations.of(role).acknowledge({ id: `AwsSolutions-IAM5[${finding}]`, reason });
    for (const [finding, reason] of [
      [`Resource::<${id_(fn)}.Arn>:*`, 'Invocation of the versions of the erasure function.'],
      ['Action::kms:ReEncrypt*', 'The KMS grant for the encrypted state machine logs, lake key only.'],
      ['Action::kms:GenerateDataKey*', 'The KMS grant for the encrypted state machine logs, lake key only.'],
      ['Resource::*', 'X-Ray and CloudWatch Logs delivery actions have no resource-level permissions.'],
    ] as const)
      Validations.of(this.stateMachine.role).acknowledge({ id: `AwsSolutions-IAM5[${finding}]`, reason });
    Validations.of(fn).acknowledge({
      id: 'Serverless-LambdaDLQ',
      reason:
        'Invoked only synchronously by the erasure state machine: a failed invocation is a task error that the definition retries and catches.',
    });
  }
}
