import { CfnOutput, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { Customer360Config } from '../config/schema.js';
import { Alerting } from '../constructs/alerting.js';
import { AnalyticsViews } from '../constructs/analytics-views.js';
import { DataCatalog } from '../constructs/data-catalog.js';
import { DataLakeStorage } from '../constructs/data-lake-storage.js';
import { Erasure } from '../constructs/erasure.js';
import { Ingestion } from '../constructs/ingestion.js';
import { Pipeline } from '../constructs/pipeline.js';
import { PipelineMonitoring } from '../constructs/pipeline-monitoring.js';
import { QuickSightDashboards } from '../constructs/quicksight-dashboards.js';
import { allTables } from '../schema/tables.js';

export interface Customer360StackProps extends StackProps {
  /** The validated configuration (see lib/config/schema.ts). */
  readonly config: Customer360Config;
}

/** The whole deployment: storage, catalog, ingestion, orchestration and its monitoring. */
export class Customer360Stack extends Stack {
  public readonly storage: DataLakeStorage;
  public readonly catalog: DataCatalog;
  public readonly views: AnalyticsViews;
  /** Only when `quicksight.enabled`. */
  public readonly dashboards?: QuickSightDashboards;
  public readonly ingestion: Ingestion;
  public readonly alerting: Alerting;
  public readonly pipeline: Pipeline;
  public readonly monitoring: PipelineMonitoring;
  public readonly erasure: Erasure;

  constructor(scope: Construct, id: string, props: Customer360StackProps) {
    super(scope, id, props);
    const { config } = props;
    const removalPolicy = config.destroyDataOnRemoval ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;

    this.storage = new DataLakeStorage(this, 'Storage', {
      rawInfrequentAccessAfterDays: config.storage.rawInfrequentAccessAfterDays,
      rawGlacierAfterDays: config.storage.rawGlacierAfterDays,
      noncurrentVersionExpirationDays: config.storage.noncurrentVersionExpirationDays,
      athenaResultsExpirationDays: config.storage.athenaResultsExpirationDays,
      accessLogsExpirationDays: config.storage.accessLogsExpirationDays,
      rawExpirationDays: config.storage.retention.rawDays ?? undefined,
      rejectsExpirationDays: config.storage.retention.rejectsDays ?? undefined,
      removalPolicy,
    });

    this.catalog = new DataCatalog(this, 'Catalog', {
      storage: this.storage,
      tables: allTables,
      databasePrefix: config.catalogPrefix,
      bytesScannedCutoffPerQuery: config.athena.bytesScannedCutoffPerQuery,
      partitionProjectionStart: config.athena.partitionProjectionStart,
      removalPolicy,
    });

    // Created with the stack, QuickSight or not: Power BI and Athena console users read them too.
    this.views = new AnalyticsViews(this, 'Views', {
      catalog: this.catalog,
      storage: this.storage,
      removalPolicy,
    });

    this.ingestion = new Ingestion(this, 'Ingestion', {
      storage: this.storage,
      catalog: this.catalog,
      mysql: config.sources.mysql,
      dynamodb: config.sources.dynamodb,
      history: config.sources.history,
      namePrefix: config.catalogPrefix.replaceAll('_', '-'),
    });

    this.alerting = new Alerting(this, 'Alerting', {
      key: this.storage.key,
      emailRecipients: config.alerts.emailRecipients,
      removalPolicy,
    });

    this.pipeline = new Pipeline(this, 'Pipeline', {
      config,
      alerting: this.alerting,
      storage: this.storage,
      catalog: this.catalog,
      ingestion: this.ingestion,
      removalPolicy,
    });
    // Recipients hear of failures too (each confirms the subscription from the email AWS sends).
    this.alerting.subscribeRecipients(this.pipeline.notificationTopic);

    this.monitoring = new PipelineMonitoring(this, 'Monitoring', {
      stateMachine: this.pipeline.stateMachine,
      topic: this.pipeline.notificationTopic,
      maxHoursWithoutPublish: config.alerts.maxHoursWithoutPublish,
      removalPolicy,
    });

    const namePrefix = config.catalogPrefix.replaceAll('_', '-');
    this.erasure = new Erasure(this, 'Erasure', {
      storage: this.storage,
      dedupeTable: this.alerting.dedupeTable,
      pipelineStateMachineName: `${namePrefix}-pipeline`,
      stateMachineName: `${namePrefix}-erase-customers`,
      removalPolicy,
    });
    if (config.quicksight.enabled) {
      this.dashboards = new QuickSightDashboards(this, 'QuickSight', {
        catalog: this.catalog,
        storage: this.storage,
        views: this.views,
        // Required by the configuration when enabled; the construct rejects an empty one.
        principalArn: config.quicksight.principalArn ?? '',
        idPrefix: config.catalogPrefix.replaceAll('_', '-'),
      });
    }

    new CfnOutput(this, 'StateMachineArn', { value: this.pipeline.stateMachine.stateMachineArn });
    new CfnOutput(this, 'EraseCustomersStateMachineArn', {
      value: this.erasure.stateMachine.stateMachineArn,
      description:
        'Erases customers: start with {"customerIds": ["123"], "requestedBy": "...", "reason": "..."}',
    });
    new CfnOutput(this, 'NotificationTopicArn', { value: this.pipeline.notificationTopic.topicArn });
    new CfnOutput(this, 'RawBucketName', { value: this.storage.rawBucket.bucketName });
    new CfnOutput(this, 'StageBucketName', { value: this.storage.stageBucket.bucketName });
    new CfnOutput(this, 'AnalyticsBucketName', { value: this.storage.analyticsBucket.bucketName });
    new CfnOutput(this, 'AthenaWorkGroup', { value: this.catalog.workGroupName });
    new CfnOutput(this, 'AnalyticsDatabase', { value: this.catalog.databaseNames.analytics });
    // BI clients (docs/power-bi.md) scope their IAM policy to the results prefix and the key, and the
    // Athena ODBC driver wants an output location even though the workgroup enforces its own.
    new CfnOutput(this, 'AthenaResultsBucketName', {
      value: this.storage.athenaResultsBucket.bucketName,
      description: 'Bucket the Athena workgroup writes query results to (under results/)',
    });
    new CfnOutput(this, 'AthenaResultsLocation', {
      value: this.storage.athenaResultsBucket.s3UrlForObject('results/'),
      description: "The workgroup's enforced query result location (ODBC S3OutputLocation)",
    });
    new CfnOutput(this, 'LakeKeyArn', {
      value: this.storage.key.keyArn,
      description:
        'KMS key of the lake buckets and the Athena results: readers need kms:Decrypt and kms:GenerateDataKey',
    });
    new CfnOutput(this, 'HistoryLandingCrawler', {
      value: this.ingestion.crawlerName,
      description: 'Run on demand to see the columns of a new history export: aws glue start-crawler --name',
    });
  }
}
