import { Aws, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { CfnWorkGroup } from 'aws-cdk-lib/aws-athena';
import { CfnDatabase, CfnSecurityConfiguration, CfnTable } from 'aws-cdk-lib/aws-glue';
import type { Grant, IGrantable } from 'aws-cdk-lib/aws-iam';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { assertNoPersonalDataInAnalytics, glueColumns } from '../schema/derive.js';
import type { TableSchema, Zone } from '../schema/types.js';
import type { DataLakeStorage } from './data-lake-storage.js';

export interface DataCatalogProps {
  /** The buckets and key the catalog's tables and the workgroup's results live in. */
  readonly storage: DataLakeStorage;
  /** Every table to define; each goes into its zone's database. */
  readonly tables: readonly TableSchema[];
  /**
   * Prefix of the Glue database names: `<prefix>_raw`, `<prefix>_stage`, `<prefix>_analytics`.
   * @default 'customer360'
   */
  readonly databasePrefix?: string;
  /**
   * Athena cancels any query in the workgroup that would scan more bytes than this.
   * @default 100 GiB
   */
  readonly bytesScannedCutoffPerQuery?: number;
  /**
   * First date of the projected date partitions (`yyyy-MM-dd`).
   * @default '2020-01-01'
   */
  readonly partitionProjectionStart?: string;
  /**
   * Whether deleting the stack also deletes the workgroup's saved queries and history.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The Glue Data Catalog side of the lake: a database per zone, a table per declared schema (Parquet,
 * partition projection, so new partitions need no crawler or MSCK REPAIR), the Glue security
 * configuration every job uses, and the Athena workgroup the pipeline and dashboards query through.
 */
export class DataCatalog extends Construct {
  public readonly databaseNames: Readonly<Record<Zone, string>>;
  public readonly securityConfigurationName: string;
  /** The security configuration resource: jobs and crawlers name it, so they depend on it explicitly. */
  public readonly securityConfiguration: CfnSecurityConfiguration;
  public readonly workGroupName: string;
  public readonly workGroup: CfnWorkGroup;
  private readonly tablesByZone = new Map<Zone, Map<string, CfnTable>>();
  private readonly databases = new Map<Zone, CfnDatabase>();
  private readonly storage: DataLakeStorage;

  constructor(scope: Construct, id: string, props: DataCatalogProps) {
    super(scope, id);
    const prefix = props.databasePrefix ?? 'customer360';
    if (!/^[a-z][a-z0-9_]{0,40}$/.test(prefix)) {
      throw new Error(`databasePrefix must be lowercase letters, digits and underscores, got "${prefix}"`);
    }
    const projectionStart = props.partitionProjectionStart ?? '2020-01-01';
    if (!/^\d{4}-\d{2}-\d{2}$/.test(projectionStart)) {
      throw new Error(`partitionProjectionStart must be yyyy-MM-dd, got "${projectionStart}"`);
    }
    assertNoPersonalDataInAnalytics(props.tables);
    this.storage = props.storage;
    const account = Stack.of(this).account;

    const zones: Zone[] = ['raw', 'stage', 'analytics'];
    const databases = this.databases;
    for (const zone of zones) {
      const name = `${prefix}_${zone}`;
      databases.set(
        zone,
        new CfnDatabase(this, `${zone[0]?.toUpperCase()}${zone.slice(1)}Database`, {
          catalogId: account,
          databaseInput: {
            name,
            description: `Customer 360 ${zone} zone`,
            locationUri: props.storage.bucketFor(zone).s3UrlForObject(),
          },
        }),
      );
    }
    this.databaseNames = { raw: `${prefix}_raw`, stage: `${prefix}_stage`, analytics: `${prefix}_analytics` };

    this.securityConfigurationName = `${prefix}-security`;
    this.securityConfiguration = new CfnSecurityConfiguration(this, 'GlueSecurityConfiguration', {
      name: this.securityConfigurationName,
      encryptionConfiguration: {
        s3Encryptions: [{ s3EncryptionMode: 'SSE-KMS', kmsKeyArn: props.storage.key.keyArn }],
        cloudWatchEncryption: { cloudWatchEncryptionMode: 'SSE-KMS', kmsKeyArn: props.storage.key.keyArn },
        jobBookmarksEncryption: {
          jobBookmarksEncryptionMode: 'CSE-KMS',
          kmsKeyArn: props.storage.key.keyArn,
        },
      },
    });

    for (const table of props.tables) {
      const database = databases.get(table.zone);
      if (!database) throw new Error(`Table ${table.name} has unknown zone ${table.zone}`);
      const byName = this.tablesByZone.get(table.zone) ?? new Map<string, CfnTable>();
      if (byName.has(table.name)) throw new Error(`Table ${table.zone}.${table.name} is declared twice`);
      const location = `s3://${props.storage.bucketFor(table.zone).bucketName}/${table.location}`;
      const cfnTable = new CfnTable(this, `${table.zone}-${table.name}`, {
        catalogId: account,
        databaseName: this.databaseNames[table.zone],
        tableInput: {
          name: table.name,
          description: table.description,
          tableType: 'EXTERNAL_TABLE',
          parameters: {
            classification: 'parquet',
            'parquet.compression': 'SNAPPY',
            ...projectionParameters(table, location, projectionStart),
          },
          partitionKeys: glueColumns(table.partitionKeys),
          storageDescriptor: {
            columns: glueColumns(table.columns),
            location,
            inputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
            outputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
            serdeInfo: {
              serializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe',
              parameters: { 'serialization.format': '1' },
            },
          },
        },
      });
      cfnTable.node.addDependency(database);
      byName.set(table.name, cfnTable);
      this.tablesByZone.set(table.zone, byName);
    }

    this.workGroupName = `${prefix.replaceAll('_', '-')}-pipeline`;
    this.workGroup = new CfnWorkGroup(this, 'WorkGroup', {
      name: this.workGroupName,
      description: 'Customer 360 pipeline and dashboards',
      state: 'ENABLED',
      recursiveDeleteOption: (props.removalPolicy ?? RemovalPolicy.RETAIN) === RemovalPolicy.DESTROY,
      workGroupConfiguration: {
        enforceWorkGroupConfiguration: true,
        publishCloudWatchMetricsEnabled: true,
        bytesScannedCutoffPerQuery: props.bytesScannedCutoffPerQuery ?? 100 * 1024 ** 3,
        engineVersion: { selectedEngineVersion: 'Athena engine version 3' },
        resultConfiguration: {
          outputLocation: props.storage.athenaResultsBucket.s3UrlForObject('results/'),
          encryptionConfiguration: { encryptionOption: 'SSE_KMS', kmsKey: props.storage.key.keyArn },
          expectedBucketOwner: Aws.ACCOUNT_ID,
        },
      },
    });
    this.workGroup.applyRemovalPolicy(props.removalPolicy ?? RemovalPolicy.RETAIN);
  }

  /** The Glue database resource of a zone (for dependencies of resources that name it). */
  public databaseFor(zone: Zone): CfnDatabase {
    const database = this.databases.get(zone);
    if (!database) throw new Error(`No database for zone ${zone}`);
    return database;
  }

  /** The Glue table resource declared for a schema table. */
  public tableFor(table: TableSchema): CfnTable {
    const found = this.tablesByZone.get(table.zone)?.get(table.name);
    if (!found) throw new Error(`Table ${table.zone}.${table.name} is not part of this catalog`);
    return found;
  }

  /**
   * Lets the grantee run queries in the workgroup over the given zones: Athena query actions on the
   * workgroup, Glue catalog reads, S3 reads of the zones and read/write of the results location.
   */
  public grantQuery(grantee: IGrantable, zones: readonly Zone[]): Grant {
    const stack = Stack.of(this);
    const grant = iam.Grant.addToPrincipal({
      grantee,
      actions: [
        'athena:StartQueryExecution',
        'athena:GetQueryExecution',
        'athena:GetQueryResults',
        'athena:StopQueryExecution',
        'athena:GetWorkGroup',
      ],
      resourceArns: [
        stack.formatArn({ service: 'athena', resource: 'workgroup', resourceName: this.workGroupName }),
      ],
    });
    iam.Grant.addToPrincipal({
      grantee,
      actions: [
        'glue:GetDatabase',
        'glue:GetDatabases',
        'glue:GetTable',
        'glue:GetTables',
        'glue:GetPartitions',
      ],
      resourceArns: [
        stack.formatArn({ service: 'glue', resource: 'catalog' }),
        ...zones.flatMap((zone) => [
          stack.formatArn({ service: 'glue', resource: 'database', resourceName: this.databaseNames[zone] }),
          stack.formatArn({
            service: 'glue',
            resource: 'table',
            resourceName: `${this.databaseNames[zone]}/*`,
          }),
        ]),
      ],
    });
    for (const zone of zones) this.storage.grantReadZone(grantee, zone);
    // Athena writes and reads results with the caller's credentials; nothing here deletes them (they
    // expire by lifecycle), so no delete, retention or legal-hold rights.
    this.storage.athenaResultsBucket.grantRead(grantee);
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['s3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
      resourceArns: [this.storage.athenaResultsBucket.arnForObjects('*')],
    });
    this.storage.key.grantEncryptDecrypt(grantee);
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['athena:GetDataCatalog'],
      resourceArns: [
        stack.formatArn({ service: 'athena', resource: 'datacatalog', resourceName: 'AwsDataCatalog' }),
      ],
    });
    return grant;
  }
}

/**
 * Athena partition projection, so new partitions are visible at once: dates are projected over a range,
 * the run id is injected (a query must name it with a static equality, so no reader can wander into a
 * run that was never published).
 */
function projectionParameters(table: TableSchema, location: string, start: string): Record<string, string> {
  if (table.partitionKeys.length === 0) return {};
  const params: Record<string, string> = { 'projection.enabled': 'true' };
  for (const key of table.partitionKeys) {
    if (key.type === 'string') {
      params[`projection.${key.name}.type`] = 'injected';
      continue;
    }
    if (key.type !== 'date')
      throw new Error(`Partition key ${table.name}.${key.name} must be a date or a string`);
    params[`projection.${key.name}.type`] = 'date';
    params[`projection.${key.name}.format`] = 'yyyy-MM-dd';
    params[`projection.${key.name}.range`] = `${start},NOW`;
    params[`projection.${key.name}.interval`] = '1';
    params[`projection.${key.name}.interval.unit`] = 'DAYS';
  }
  params['storage.location.template'] =
    `${location}${table.partitionKeys.map((k) => `${k.name}=\${${k.name}}/`).join('')}`;
  return params;
}
