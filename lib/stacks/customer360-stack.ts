import { CfnOutput, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { Customer360Config } from '../config/schema.js';
import { DataCatalog } from '../constructs/data-catalog.js';
import { DataLakeStorage } from '../constructs/data-lake-storage.js';
import { allTables } from '../schema/tables.js';

export interface Customer360StackProps extends StackProps {
  /** The validated configuration (see lib/config/schema.ts). */
  readonly config: Customer360Config;
}

/** The whole deployment: storage, catalog, and (as later parts land) ingestion and orchestration. */
export class Customer360Stack extends Stack {
  public readonly storage: DataLakeStorage;
  public readonly catalog: DataCatalog;

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
      removalPolicy,
    });

    this.catalog = new DataCatalog(this, 'Catalog', {
      storage: this.storage,
      tables: allTables,
      databasePrefix: config.catalogPrefix,
      bytesScannedCutoffPerQuery: config.athena.bytesScannedCutoffPerQuery,
      removalPolicy,
    });

    new CfnOutput(this, 'RawBucketName', { value: this.storage.rawBucket.bucketName });
    new CfnOutput(this, 'StageBucketName', { value: this.storage.stageBucket.bucketName });
    new CfnOutput(this, 'AnalyticsBucketName', { value: this.storage.analyticsBucket.bucketName });
    new CfnOutput(this, 'AthenaWorkGroup', { value: this.catalog.workGroupName });
    new CfnOutput(this, 'AnalyticsDatabase', { value: this.catalog.databaseNames.analytics });
  }
}
