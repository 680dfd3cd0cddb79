import { join } from 'node:path';
import { CustomResource, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Provider } from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import type { DashboardView } from '../schema/dashboards.js';
import type { TableSchema } from '../schema/types.js';
import { type ViewsPlan, viewsPlan } from '../views/plan.js';
import { acknowledge, GRANT_ACTION_WILDCARDS, logicalIdOf } from './acknowledge.js';
import { ESM_BUNDLING } from './bundling.js';
import type { DataCatalog } from './data-catalog.js';
import type { DataLakeStorage } from './data-lake-storage.js';

export interface AnalyticsViewsProps {
  /** The databases and workgroup the views are created in and through. */
  readonly catalog: DataCatalog;
  /** The lake key, which encrypts the function's logs. */
  readonly storage: DataLakeStorage;
  /**
   * Tables that get a `<table>_latest` view.
   * @default every analytics run table (`latestViewTables`)
   */
  readonly latestTables?: readonly TableSchema[];
  /**
   * The `dashboard_*` views, created in this order after the `_latest` views.
   * @default every declared dashboard view (`dashboardViews`)
   */
  readonly dashboardViews?: readonly DashboardView[];
  /**
   * Folder holding `dashboards/<name>.sql`.
   * @default sql/ of this repository
   */
  readonly sqlRoot?: string;
  /**
   * Retention of the function's logs.
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * What happens to the log groups when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

// Each statement is a catalog write that Athena finishes in about a second; about forty of them, four
// at a time for the `_latest` views, fit well inside this.
const FUNCTION_TIMEOUT = Duration.minutes(10);

/**
 * The views readers query, created with the stack: a `<table>_latest` view per analytics run table
 * (empty until the first publish re-points it) and the `dashboard_*` views over them, so QuickSight,
 * Power BI and the Athena console find every view on a fresh deployment. A CloudFormation custom
 * resource runs the statements through Athena on the project's workgroup on every create and on every
 * update whose statements changed (the statements are its properties); deleting the stack leaves the
 * views, as it leaves the database they belong to.
 *
 * The function runs each statement to completion itself (the Provider framework's synchronous mode):
 * the whole set takes about a minute, far inside Lambda's limit, so the framework's polling state
 * machine (isComplete) would add a state machine, a role and log group for nothing.
 */
export class AnalyticsViews extends Construct {
  /** The custom resource: resources that read the views depend on it. */
  public readonly resource: CustomResource;
  public readonly plan: ViewsPlan;
  public readonly function: lambda.IFunction;

  constructor(scope: Construct, id: string, props: AnalyticsViewsProps) {
    super(scope, id);
    const { catalog, storage } = props;
    const stack = Stack.of(this);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const retention = props.logRetention ?? logs.RetentionDays.ONE_YEAR;
    this.plan = viewsPlan({
      databases: catalog.databaseNames,
      workGroup: catalog.workGroupName,
      latestTables: props.latestTables,
      dashboardViews: props.dashboardViews,
      sqlRoot: props.sqlRoot,
    });
    const database = catalog.databaseNames.analytics;

    const functionLogs = new logs.LogGroup(this, 'EnsureViewsLogs', {
      retention,
      removalPolicy,
      encryptionKey: storage.key,
    });
    const role = new iam.Role(this, 'EnsureViewsRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Creates the _latest and dashboard_* views of the analytics database at deploy time',
    });
    functionLogs.grantWrite(role);
    // Athena in the workgroup, reads of the analytics tables (Athena checks a view against them when it
    // creates it), the results location, and the lake key, as the state machine's `Publish latest
    // views` step has them.
    catalog.grantQuery(role, ['analytics']);
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        // CREATE OR REPLACE VIEW writes the view's catalog table. DeleteTable as well (the publish step
        // does without it): a deploy must not fail half-way should Athena replace a view by dropping
        // it. Only the views, never a table CloudFormation manages.
        actions: ['glue:CreateTable', 'glue:UpdateTable', 'glue:DeleteTable', 'glue:GetTable'],
        resources: [
          stack.formatArn({ service: 'glue', resource: 'catalog' }),
          stack.formatArn({ service: 'glue', resource: 'database', resourceName: database }),
          ...['*_latest', 'dashboard_*'].map((view) =>
            stack.formatArn({ service: 'glue', resource: 'table', resourceName: `${database}/${view}` }),
          ),
        ],
      }),
    );

    const fn = new NodejsFunction(this, 'EnsureViews', {
      entry: join(import.meta.dirname, '..', '..', 'lambdas', 'ensure-views', 'index.ts'),
      description: 'Creates the _latest views that do not exist and replaces the dashboard_* views',
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: FUNCTION_TIMEOUT,
      role,
      logGroup: functionLogs,
      tracing: lambda.Tracing.ACTIVE,
      bundling: {
        ...ESM_BUNDLING,
      },
    });
    this.function = fn;

    const frameworkLogs = new logs.LogGroup(this, 'ProviderLogs', {
      retention,
      removalPolicy,
      encryptionKey: storage.key,
    });
    const frameworkRole = new iam.Role(this, 'ProviderRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Relays the views custom resource between CloudFormation and its function',
    });
    frameworkLogs.grantWrite(frameworkRole);
    const provider = new Provider(this, 'Provider', {
      onEventHandler: fn,
      frameworkOnEventRole: frameworkRole,
      logGroup: frameworkLogs,
    });

    this.resource = new CustomResource(this, 'Views', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::AnalyticsViews',
      properties: this.plan,
    });
    // The statements name the database, workgroup and tables by literal name, so CloudFormation cannot
    // infer that they must exist first.
    this.resource.node.addDependency(catalog);

    acknowledgeFindings(database, fn, role, frameworkRole, provider, storage);
  }
}

/** cdk-nag findings of the custom resource's two functions and roles, each with its reason. */
function acknowledgeFindings(
  database: string,
  fn: lambda.IFunction,
  role: iam.IRole,
  frameworkRole: iam.IRole,
  provider: Provider,
  storage: DataLakeStorage,
): void {
  acknowledge(role, {
    ...GRANT_ACTION_WILDCARDS,
    [`AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:glue:<AWS::Region>:<AWS::AccountId>:table/${database}/*]`]:
      'Reads of the tables and views of the analytics database: Athena checks a view against the tables it selects from when it creates it.',
    [`AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:glue:<AWS::Region>:<AWS::AccountId>:table/${database}/*_latest]`]:
      'Writes of the _latest views only (one per run table), which this function creates when missing; the tables CloudFormation manages are out of reach.',
    [`AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:glue:<AWS::Region>:<AWS::AccountId>:table/${database}/dashboard_*]`]:
      'Writes of the dashboard_* views only, which this function replaces on every deploy; the tables CloudFormation manages are out of reach.',
    [`AwsSolutions-IAM5[Resource::<${logicalIdOf(storage.analyticsBucket)}.Arn>/*]`]:
      'Objects of the analytics bucket: reading published_runs (to re-point an upgraded view) reads its files under run-date prefixes known only at run time.',
    [`AwsSolutions-IAM5[Resource::<${logicalIdOf(storage.athenaResultsBucket)}.Arn>/*]`]:
      "Athena writes and reads each statement's result under its own query id in the results bucket.",
    'AwsSolutions-IAM5[Resource::*]':
      'X-Ray tracing actions (PutTraceSegments, PutTelemetryRecords), which do not support resource-level permissions.',
  });
  acknowledge(frameworkRole, {
    [`AwsSolutions-IAM5[Resource::<${logicalIdOf(fn)}.Arn>:*]`]:
      'The Provider framework invokes the versions of the one views function, and nothing else.',
  });
  acknowledge(fn, {
    'Serverless-LambdaDLQ':
      'Invoked only synchronously by the Provider framework: a failure fails the deploy with its message; a dead-letter queue only ever receives failed asynchronous invocations.',
  });
  const framework = provider.node.findChild('framework-onEvent');
  acknowledge(framework, {
    'Serverless-LambdaDLQ':
      'The aws-cdk-lib Provider framework function: it reports every failure to CloudFormation itself (the deploy fails and rolls back), so a dead-letter queue would hold requests nobody replays.',
    'Serverless-LambdaDefaultMemorySize':
      'The aws-cdk-lib Provider framework function, whose memory is not configurable; it only relays the request to the views function, which is sized.',
    'Serverless-LambdaTracing':
      'The aws-cdk-lib Provider framework function, which has no tracing option; the views function it invokes is traced.',
  });
}
