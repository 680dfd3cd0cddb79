import { fileURLToPath } from 'node:url';
import { ArnFormat, Aws, Stack, Validations } from 'aws-cdk-lib';
import { CfnConnection, CfnCrawler, CfnJob } from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { Construct } from 'constructs';
import type { Customer360Config } from '../config/schema.js';
import {
  rawDynamodbInteractions,
  rawHistoryOrders,
  rawMysqlCustomers,
  rawMysqlOrderItems,
  rawMysqlOrders,
  rawMysqlProducts,
  rawTables,
} from '../schema/tables.js';
import type { TableSchema } from '../schema/types.js';
import type { DataCatalog } from './data-catalog.js';
import type { DataLakeStorage } from './data-lake-storage.js';

export type MysqlSourceConfig = Customer360Config['sources']['mysql'];
export type DynamoDbSourceConfig = Customer360Config['sources']['dynamodb'];
export type HistorySourceConfig = Customer360Config['sources']['history'];
export type MysqlTableName = MysqlSourceConfig['tables'][number];

/** The three ingestion jobs, by source. */
export type IngestionSource = 'mysql' | 'dynamodb' | 'history';

export interface IngestionProps {
  /** The lake the jobs write to (raw bucket) and whose key they encrypt with. */
  readonly storage: DataLakeStorage;
  /** The catalog: raw database (for the crawler) and the Glue security configuration. */
  readonly catalog: DataCatalog;
  /** `sources.mysql`: endpoint, secret, network placement and tables. */
  readonly mysql: MysqlSourceConfig;
  /** `sources.dynamodb`: the interactions table (point-in-time recovery must be enabled on it). */
  readonly dynamodb: DynamoDbSourceConfig;
  /** `sources.history`: landing prefix in the raw bucket, file format and column mapping. */
  readonly history: HistorySourceConfig;
  /**
   * Prefix of the Glue job, connection and crawler names (lowercase letters, digits, hyphens).
   * @default 'customer360'
   */
  readonly namePrefix?: string;
  /**
   * Glue worker type of every job.
   * @default 'G.1X'
   */
  readonly workerType?: string;
  /**
   * Workers per job run (2 is the Spark minimum: a driver and one executor).
   * @default 2
   */
  readonly numberOfWorkers?: number;
  /**
   * Minutes after which Glue stops a run of the MySQL or history job.
   * @default 60
   */
  readonly timeoutMinutes?: number;
  /**
   * Minutes after which Glue stops a run of the DynamoDB job, which waits for the table export
   * (a first full export of a large table can take hours).
   * @default 180
   */
  readonly dynamoDbTimeoutMinutes?: number;
  /**
   * Rows updated less than this many seconds before an extraction starts (on the database clock)
   * are left to the next run, so rows committed late with an earlier `updated_at` are not skipped.
   * @default 5
   */
  readonly safetyLagSeconds?: number;
  /**
   * Rows per committed chunk of the MySQL job (`--chunk_rows`): a first load of a large table is
   * published and committed chunk by chunk, so a run that times out keeps the chunks it committed
   * and the next run goes on from there. Each chunk must be read and written within the timeout.
   * @default 1000000
   */
  readonly mysqlChunkRows?: number;
  /**
   * Whether the MySQL connection must use TLS (`JDBC_ENFORCE_SSL`, and `sslMode=REQUIRED` in the job).
   * @default true
   */
  readonly requireTls?: boolean;
}

const GLUE_SCRIPTS = fileURLToPath(new URL('../../glue-scripts/', import.meta.url));

/**
 * Spark settings (the `--conf` job parameter) that keep Spark's S3 writes inside each role's own
 * prefixes. Glue 5.0 writes `s3://` paths through EMRFS, which by default marks directories with
 * `<dir>_$folder$` objects and inserts or deletes such markers for the parents of what it writes or
 * deletes: `_tmp/mysql/orders_$folder$` or `_tmp/mysql_$folder$` lie outside the
 * `_tmp/mysql/orders/*` a role may write. With these two settings (the ones AWS documents for Glue
 * jobs writing Lake Formation locations) a directory is marked by `<dir>/`, which is inside the
 * written prefix, and EMRFS no longer creates or removes parent markers on its own. Everything else
 * the committer writes (`_temporary/`, `_SUCCESS`, the Parquet parts) is under the output path, the
 * run's staging folder.
 */
export const EMRFS_FOLDER_MARKERS_OFF = [
  'spark.hadoop.fs.s3.useDirectoryHeaderAsFolderObject=true',
  'spark.hadoop.fs.s3.folderObject.autoAction.disabled=true',
].join(' --conf ');

const RAW_MYSQL_TABLES: Readonly<Record<MysqlTableName, TableSchema>> = {
  customers: rawMysqlCustomers,
  products: rawMysqlProducts,
  orders: rawMysqlOrders,
  order_items: rawMysqlOrderItems,
};

/**
 * The cloud side of ingestion: a Glue JDBC connection to MySQL, three Glue 5.0 PySpark jobs that
 * land the sources in the raw zone (MySQL incrementally on an explicit watermark, DynamoDB through
 * table exports, legacy order files by manifest), and an on-demand crawler over the history landing
 * prefix that shows the columns of a newly dropped export so the column mapping can be set.
 *
 * Each job has its own IAM role: they touch different sources (a database secret and the VPC, a
 * DynamoDB table, the landing prefix), so a role per job keeps each one to its own source, its own
 * raw prefixes and its own state. Job bookmarks are disabled: the jobs keep explicit state objects
 * under `_state/` in the raw bucket (see glue-scripts/), which record what was published rather
 * than what was read and can be inspected and reset by hand. Retries are left to the orchestrator
 * (`MaxRetries` 0) and each job runs once at a time, as its state object is not safe to share.
 */
export class Ingestion extends Construct {
  /** Job names by source, for `glue:startJobRun.sync`. */
  public readonly jobNames: Readonly<Record<IngestionSource, string>>;
  /** Job ARNs by source. */
  public readonly jobArns: Readonly<Record<IngestionSource, string>>;
  public readonly jobs: Readonly<Record<IngestionSource, CfnJob>>;
  /** The role each job runs as. */
  public readonly roles: Readonly<Record<IngestionSource | 'crawler', iam.IRole>>;
  public readonly connectionName: string;
  /** On-demand crawler of the history landing prefix (tables `landing_*` in the raw database). */
  public readonly crawlerName: string;

  private readonly props: IngestionProps;

  constructor(scope: Construct, id: string, props: IngestionProps) {
    super(scope, id);
    this.props = props;
    const namePrefix = props.namePrefix ?? 'customer360';
    if (!/^[a-z][a-z0-9-]{0,40}$/.test(namePrefix)) {
      throw new Error(`namePrefix must be lowercase letters, digits and hyphens, got "${namePrefix}"`);
    }
    const numberOfWorkers = props.numberOfWorkers ?? 2;
    if (!Number.isInteger(numberOfWorkers) || numberOfWorkers < 2) {
      throw new Error(`numberOfWorkers must be an integer of at least 2, got ${numberOfWorkers}`);
    }
    const safetyLagSeconds = props.safetyLagSeconds ?? 5;
    if (!(safetyLagSeconds >= 0)) {
      throw new Error(`safetyLagSeconds must not be negative, got ${safetyLagSeconds}`);
    }
    const requireTls = props.requireTls ?? true;
    const mysqlChunkRows = props.mysqlChunkRows ?? 1_000_000;
    if (!Number.isInteger(mysqlChunkRows) || mysqlChunkRows < 1) {
      throw new Error(`mysqlChunkRows must be a positive integer, got ${mysqlChunkRows}`);
    }
    checkLandingPrefix(props.history.prefix);
    const stack = Stack.of(this);
    const { storage, catalog, mysql, dynamodb, history } = props;
    const rawBucket = storage.rawBucket;

    this.jobNames = {
      mysql: `${namePrefix}-extract-mysql`,
      dynamodb: `${namePrefix}-extract-dynamodb`,
      history: `${namePrefix}-land-history`,
    };
    const jobArn = (name: string) =>
      stack.formatArn({ service: 'glue', resource: 'job', resourceName: name });
    this.jobArns = {
      mysql: jobArn(this.jobNames.mysql),
      dynamodb: jobArn(this.jobNames.dynamodb),
      history: jobArn(this.jobNames.history),
    };
    this.connectionName = `${namePrefix}-mysql`;
    this.crawlerName = `${namePrefix}-history-landing`;

    // ------------------------------------------------------------ scripts (CDK assets)
    const commonModule = new Asset(this, 'CommonModule', {
      path: `${GLUE_SCRIPTS}common`,
      exclude: ['__pycache__', '*.pyc'],
    });
    const script = (assetId: string, file: string) =>
      new Asset(this, assetId, { path: `${GLUE_SCRIPTS}${file}` });
    const scripts = {
      mysql: script('ExtractMysqlScript', 'extract_mysql.py'),
      dynamodb: script('ExtractDynamoDbScript', 'extract_dynamodb.py'),
      history: script('LandHistoryScript', 'land_history.py'),
    };

    // ------------------------------------------------------------ roles
    const roles = {
      mysql: this.jobRole('ExtractMysqlRole', 'Glue job extracting MySQL tables into the raw zone', [
        scripts.mysql,
        commonModule,
      ]),
      dynamodb: this.jobRole('ExtractDynamoDbRole', 'Glue job exporting the DynamoDB interactions table', [
        scripts.dynamodb,
        commonModule,
      ]),
      history: this.jobRole('LandHistoryRole', 'Glue job landing legacy order files in the raw zone', [
        scripts.history,
        commonModule,
      ]),
      crawler: new iam.Role(this, 'HistoryCrawlerRole', {
        assumedBy: new iam.ServicePrincipal('glue.amazonaws.com'),
        description: 'Glue crawler of the history landing prefix',
      }),
    };
    this.roles = roles;

    // MySQL: its tables' raw prefixes, state and staging; the connection, its secret and the VPC.
    const mysqlTables = mysql.tables.map((table) => RAW_MYSQL_TABLES[table]);
    this.grantRawPrefixes(roles.mysql, {
      readWrite: [
        ...mysqlTables.map((table) => table.location),
        ...mysql.tables.map((table) => `_tmp/mysql/${table}/`),
      ],
      objects: mysql.tables.map((table) => `_state/mysql/${table}.json`),
    });
    addStatement(
      roles.mysql,
      new iam.PolicyStatement({
        sid: 'ReadConnection',
        actions: ['glue:GetConnection'],
        resources: [
          stack.formatArn({ service: 'glue', resource: 'catalog' }),
          stack.formatArn({ service: 'glue', resource: 'connection', resourceName: this.connectionName }),
        ],
      }),
    );
    addStatement(
      roles.mysql,
      new iam.PolicyStatement({
        // Glue resolves the connection's SECRET_ID with GetSecretValue, and the job falls back to
        // the same call when it does not; nothing else about the secret is read.
        sid: 'ReadDatabaseSecret',
        actions: ['secretsmanager:GetSecretValue'],
        resources: secretArns(stack, mysql.secretName),
      }),
    );
    this.grantJdbcNetwork(roles.mysql, mysql.network);

    // DynamoDB: export the one table and follow its exports; the export prefix, state and staging.
    const tableArn = stack.formatArn({
      service: 'dynamodb',
      resource: 'table',
      resourceName: dynamodb.interactionsTableName,
    });
    addStatement(
      roles.dynamodb,
      new iam.PolicyStatement({
        sid: 'ExportTable',
        actions: [
          'dynamodb:DescribeTable',
          'dynamodb:DescribeContinuousBackups',
          'dynamodb:ExportTableToPointInTime',
        ],
        resources: [tableArn],
      }),
    );
    addStatement(
      roles.dynamodb,
      new iam.PolicyStatement({
        sid: 'FollowExports',
        actions: ['dynamodb:DescribeExport'],
        resources: [`${tableArn}/export/*`],
      }),
      'DescribeExport is granted on the exports of the interactions table only; export ids are assigned by DynamoDB when the job requests an export.',
    );
    const exportPrefix = `_exports/dynamodb/${dynamodb.interactionsTableName}/`;
    this.grantRawPrefixes(roles.dynamodb, {
      readWrite: [
        rawDynamodbInteractions.location,
        exportPrefix,
        `_tmp/dynamodb/${dynamodb.interactionsTableName}/`,
      ],
      objects: [`_state/dynamodb/${dynamodb.interactionsTableName}.json`],
    });
    addStatement(
      roles.dynamodb,
      new iam.PolicyStatement({
        // DynamoDB writes the export files with the permissions of the caller, setting their ACL.
        sid: 'WriteExportFiles',
        actions: ['s3:PutObjectAcl'],
        resources: [rawBucket.arnForObjects(`${exportPrefix}*`)],
      }),
      'DynamoDB names the export files (AWSDynamoDB/<export id>/...) under the prefix the job requests for this table.',
    );

    // History: read the landing prefix; write the history table's prefix, manifest and staging.
    this.grantRawPrefixes(roles.history, {
      read: [history.prefix],
      readWrite: [rawHistoryOrders.location, '_tmp/history/manifest/'],
      objects: ['_state/history/manifest.json'],
    });

    // ------------------------------------------------------------ MySQL connection
    const connection = new CfnConnection(this, 'MysqlConnection', {
      catalogId: stack.account,
      connectionInput: {
        name: this.connectionName,
        description: `Customer 360 MySQL source ${mysql.host}:${mysql.port}/${mysql.database}`,
        connectionType: 'JDBC',
        connectionProperties: {
          JDBC_CONNECTION_URL: `jdbc:mysql://${mysql.host}:${mysql.port}/${mysql.database}`,
          SECRET_ID: mysql.secretName,
          JDBC_ENFORCE_SSL: String(requireTls),
        },
        physicalConnectionRequirements: {
          subnetId: mysql.network.subnetId,
          securityGroupIdList: [...mysql.network.securityGroupIds],
          availabilityZone: mysql.network.availabilityZone,
        },
      },
    });

    Validations.of(connection).acknowledge({
      id: 'CloudFormation-Validate::W3010',
      reason:
        'A Glue connection must name the availability zone of its subnet; it comes from sources.mysql.network, not from a hardcoded default.',
    });

    // ------------------------------------------------------------ jobs
    const common: Record<string, string> = {
      '--job-language': 'python',
      // The jobs keep explicit watermarks, export times and manifests in _state/ (see the class doc).
      '--job-bookmark-option': 'job-bookmark-disable',
      '--enable-continuous-cloudwatch-log': 'true',
      '--enable-metrics': 'true',
      '--extra-py-files': commonModule.s3ObjectUrl,
      '--raw_bucket': rawBucket.bucketName,
      '--conf': EMRFS_FOLDER_MARKERS_OFF,
    };
    const job = (
      jobId: string,
      source: IngestionSource,
      description: string,
      timeoutMinutes: number,
      args: Record<string, string>,
      connections?: string[],
    ) => {
      const cfnJob = new CfnJob(this, jobId, {
        name: this.jobNames[source],
        description,
        role: roles[source].roleArn,
        command: { name: 'glueetl', pythonVersion: '3', scriptLocation: scripts[source].s3ObjectUrl },
        glueVersion: '5.0',
        workerType: props.workerType ?? 'G.1X',
        numberOfWorkers,
        timeout: timeoutMinutes,
        maxRetries: 0,
        executionProperty: { maxConcurrentRuns: 1 },
        securityConfiguration: catalog.securityConfigurationName,
        defaultArguments: { ...common, ...args },
        ...(connections ? { connections: { connections } } : {}),
      });
      cfnJob.addResourceDependency(catalog.securityConfiguration);
      return cfnJob;
    };
    this.jobs = {
      mysql: job(
        'ExtractMysqlJob',
        'mysql',
        'Extracts MySQL tables changed since the last watermark into the raw zone',
        props.timeoutMinutes ?? 60,
        {
          '--connection_name': connection.ref,
          '--secret_id': mysql.secretName,
          '--mysql_database': mysql.database,
          '--mysql_tables': mysql.tables.join(','),
          '--safety_lag_seconds': String(safetyLagSeconds),
          '--require_tls': String(requireTls),
          '--chunk_rows': String(mysqlChunkRows),
        },
        [connection.ref],
      ),
      dynamodb: job(
        'ExtractDynamoDbJob',
        'dynamodb',
        'Exports the DynamoDB interactions table (full, then incremental) into the raw zone',
        props.dynamoDbTimeoutMinutes ?? 180,
        {
          '--table_name': dynamodb.interactionsTableName,
          '--kms_key_arn': storage.key.keyArn,
        },
      ),
      history: job(
        'LandHistoryJob',
        'history',
        'Lands new legacy order files from the landing prefix in the raw zone',
        props.timeoutMinutes ?? 60,
        {
          '--history_prefix': history.prefix,
          '--history_format': history.format,
          '--history_columns': JSON.stringify(history.columns),
        },
      ),
    };

    // ------------------------------------------------------------ crawler of the landing prefix
    this.grantRawPrefixes(roles.crawler, { read: [history.prefix] });
    this.grantLogs(roles.crawler, 'crawlers*');
    const rawDatabase = catalog.databaseNames.raw;
    addStatement(
      roles.crawler,
      new iam.PolicyStatement({
        sid: 'CatalogLandingTables',
        actions: [
          'glue:GetDatabase',
          'glue:GetTable',
          'glue:GetTables',
          'glue:CreateTable',
          'glue:UpdateTable',
          'glue:GetPartition',
          'glue:GetPartitions',
          'glue:BatchGetPartition',
          'glue:CreatePartition',
          'glue:BatchCreatePartition',
          'glue:UpdatePartition',
          'glue:BatchUpdatePartition',
        ],
        resources: [
          stack.formatArn({ service: 'glue', resource: 'catalog' }),
          stack.formatArn({ service: 'glue', resource: 'database', resourceName: rawDatabase }),
          stack.formatArn({ service: 'glue', resource: 'table', resourceName: `${rawDatabase}/landing_*` }),
        ],
      }),
      'The crawler names the tables it creates after the landing folders; they are limited to the landing_ prefix of the raw database.',
    );
    addStatement(
      roles.crawler,
      new iam.PolicyStatement({
        sid: 'UseLakeKey',
        actions: ['kms:Decrypt', 'kms:DescribeKey'],
        resources: [storage.key.keyArn],
      }),
    );
    const crawler = new CfnCrawler(this, 'HistoryCrawler', {
      name: this.crawlerName,
      description:
        'On demand: discovers the columns of new legacy order exports so sources.history.columns can be set',
      role: roles.crawler.roleArn,
      databaseName: rawDatabase,
      tablePrefix: 'landing_',
      targets: { s3Targets: [{ path: rawBucket.s3UrlForObject(history.prefix) }] },
      crawlerSecurityConfiguration: catalog.securityConfigurationName,
      schemaChangePolicy: { updateBehavior: 'UPDATE_IN_DATABASE', deleteBehavior: 'LOG' },
      recrawlPolicy: { recrawlBehavior: 'CRAWL_EVERYTHING' },
      configuration: JSON.stringify({
        Version: 1.0,
        Grouping: { TableGroupingPolicy: 'CombineCompatibleSchemas' },
        CrawlerOutput: { Tables: { AddOrUpdateBehavior: 'MergeNewColumns' } },
      }),
    });
    crawler.addResourceDependency(catalog.securityConfiguration);
    crawler.addResourceDependency(catalog.databaseFor('raw'));
  }

  /**
   * Lets the grantee (the orchestrator's state machine) run the ingestion jobs and follow their runs,
   * as `glue:startJobRun.sync` does.
   */
  public grantStartJobs(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['glue:StartJobRun', 'glue:GetJobRun', 'glue:GetJobRuns', 'glue:BatchStopJobRun'],
      resourceArns: Object.values(this.jobArns),
    });
  }

  /** A job's role: its scripts, CloudWatch logs and metrics, and the lake key. */
  private jobRole(id: string, description: string, assets: readonly Asset[]): iam.Role {
    const role = new iam.Role(this, id, {
      assumedBy: new iam.ServicePrincipal('glue.amazonaws.com'),
      description,
    });
    addStatement(
      role,
      new iam.PolicyStatement({
        sid: 'ReadScripts',
        actions: ['s3:GetObject'],
        resources: assets.map((asset) => asset.bucket.arnForObjects(asset.s3ObjectKey)),
      }),
    );
    this.grantLogs(role, 'jobs/*');
    addStatement(
      role,
      new iam.PolicyStatement({
        sid: 'PublishMetrics',
        actions: ['cloudwatch:PutMetricData'],
        resources: ['*'],
        conditions: { StringEquals: { 'cloudwatch:namespace': 'Glue' } },
      }),
      'cloudwatch:PutMetricData supports no resource-level permissions; it is limited to the Glue namespace by condition (--enable-metrics).',
    );
    addStatement(
      role,
      new iam.PolicyStatement({
        sid: 'UseLakeKey',
        actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'],
        resources: [this.props.storage.key.keyArn],
      }),
    );
    return role;
  }

  /** Glue's CloudWatch log groups (`/aws-glue/<logGroups>`), encrypted with the lake key. */
  private grantLogs(role: iam.Role, logGroups: string) {
    addStatement(
      role,
      new iam.PolicyStatement({
        sid: 'WriteGlueLogs',
        actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents', 'logs:AssociateKmsKey'],
        resources: [
          `arn:${Aws.PARTITION}:logs:${Aws.REGION}:${Aws.ACCOUNT_ID}:log-group:/aws-glue/${logGroups}`,
        ],
      }),
      'Glue names its log groups and streams after the security configuration, the role and the run id; access is limited to the /aws-glue/ groups Glue writes.',
    );
  }

  /**
   * Object access under raw-bucket prefixes (`read`, `readWrite`) and to exact keys (`objects`,
   * read and written), with listing limited to those prefixes.
   */
  private grantRawPrefixes(
    role: iam.Role,
    access: { read?: readonly string[]; readWrite?: readonly string[]; objects?: readonly string[] },
  ) {
    const bucket = this.props.storage.rawBucket;
    const read = access.read ?? [];
    const readWrite = access.readWrite ?? [];
    const objects = access.objects ?? [];
    const reason =
      'Objects under this raw-bucket prefix are named per run and partition (ingest_date, run id, file name), so they cannot be listed in advance.';
    addStatement(
      role,
      new iam.PolicyStatement({
        sid: 'LocateRawBucket',
        actions: ['s3:GetBucketLocation'],
        resources: [bucket.bucketArn],
      }),
    );
    addStatement(
      role,
      new iam.PolicyStatement({
        sid: 'ListRawPrefixes',
        actions: ['s3:ListBucket'],
        resources: [bucket.bucketArn],
        conditions: {
          StringLike: { 's3:prefix': [...read, ...readWrite, ...objects].map((prefix) => `${prefix}*`) },
        },
      }),
    );
    if (read.length > 0) {
      addStatement(
        role,
        new iam.PolicyStatement({
          sid: 'ReadRawPrefixes',
          actions: ['s3:GetObject'],
          resources: read.map((prefix) => bucket.arnForObjects(`${prefix}*`)),
        }),
        reason,
      );
    }
    if (readWrite.length > 0) {
      addStatement(
        role,
        new iam.PolicyStatement({
          sid: 'WriteRawPrefixes',
          actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'],
          resources: readWrite.map((prefix) => bucket.arnForObjects(`${prefix}*`)),
        }),
        reason,
      );
    }
    if (objects.length > 0) {
      addStatement(
        role,
        new iam.PolicyStatement({
          sid: 'ReadWriteState',
          actions: ['s3:GetObject', 's3:PutObject'],
          resources: objects.map((key) => bucket.arnForObjects(key)),
        }),
      );
    }
  }

  /**
   * What Glue needs to place a JDBC connection in the VPC: describe the network, and create, tag and
   * delete its elastic network interfaces in the configured subnet and security groups.
   */
  private grantJdbcNetwork(role: iam.Role, network: MysqlSourceConfig['network']) {
    const stack = Stack.of(this);
    const ec2Arn = (resource: string, resourceName: string) =>
      stack.formatArn({ service: 'ec2', resource, resourceName });
    addStatement(
      role,
      new iam.PolicyStatement({
        sid: 'DescribeNetwork',
        actions: [
          'ec2:DescribeSubnets',
          'ec2:DescribeSecurityGroups',
          'ec2:DescribeVpcEndpoints',
          'ec2:DescribeRouteTables',
          'ec2:DescribeVpcAttribute',
          'ec2:DescribeNetworkInterfaces',
        ],
        resources: ['*'],
      }),
      'EC2 Describe* actions support no resource-level permissions; they are read-only and needed by Glue to place the JDBC connection in the VPC.',
    );
    const interfaces = ec2Arn('network-interface', '*');
    const interfacesReason =
      'Glue creates and deletes the elastic network interfaces of the JDBC connection; their ids do not exist before a job run.';
    addStatement(
      role,
      new iam.PolicyStatement({
        sid: 'CreateInterfaces',
        actions: ['ec2:CreateNetworkInterface'],
        resources: [
          ec2Arn('subnet', network.subnetId),
          ...network.securityGroupIds.map((group) => ec2Arn('security-group', group)),
          interfaces,
        ],
      }),
      interfacesReason,
    );
    addStatement(
      role,
      new iam.PolicyStatement({
        sid: 'DeleteInterfaces',
        actions: ['ec2:DeleteNetworkInterface'],
        resources: [interfaces],
      }),
      interfacesReason,
    );
    addStatement(
      role,
      new iam.PolicyStatement({
        sid: 'TagInterfaces',
        actions: ['ec2:CreateTags', 'ec2:DeleteTags'],
        resources: [interfaces],
        conditions: { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['aws-glue-service-resource'] } },
      }),
      interfacesReason,
    );
  }
}

/**
 * The landing prefix must be apart from the raw tables and the jobs' `_`-prefixed folders: files
 * dropped there would otherwise be read as table data, and the landing job could overwrite them.
 */
function checkLandingPrefix(prefix: string): void {
  if (prefix.startsWith('_')) {
    throw new Error(
      `sources.history.prefix "${prefix}" must not start with "_" (reserved for job state and staging)`,
    );
  }
  for (const table of rawTables) {
    if (prefix.startsWith(table.location) || table.location.startsWith(prefix)) {
      throw new Error(
        `sources.history.prefix "${prefix}" overlaps the raw table ${table.name} (${table.location}); use a separate prefix such as landing/history/`,
      );
    }
  }
}

/** ARNs of a Secrets Manager secret given by name (or ARN), with the random suffix AWS appends. */
export function secretArns(stack: Stack, nameOrArn: string): string[] {
  if (nameOrArn.startsWith('arn:')) {
    // A complete ARN already ends in the suffix; a partial one (without it) needs `-??????`.
    return [nameOrArn, `${nameOrArn}-??????`];
  }
  return [
    stack.formatArn({
      service: 'secretsmanager',
      resource: 'secret',
      resourceName: `${nameOrArn}-??????`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    }),
  ];
}

/**
 * Adds a statement to a role's policy. Resources with a `*` must come with a reason, which is
 * recorded as a cdk-nag acknowledgement (AwsSolutions-IAM5) of exactly those resources on that role.
 */
function addStatement(role: iam.Role, statement: iam.PolicyStatement, wildcardReason?: string): void {
  role.addToPrincipalPolicy(statement);
  const stack = Stack.of(role);
  const wildcards = statement.resources.map((resource) => nagResourceName(stack.resolve(resource)));
  for (const resource of wildcards.filter((name) => name.includes('*'))) {
    if (wildcardReason === undefined) {
      throw new Error(
        `Statement ${statement.sid ?? ''} of ${role.node.path} has a wildcard resource ${resource}`,
      );
    }
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${resource}]`,
      reason: wildcardReason,
    });
  }
}

/**
 * A resolved resource as cdk-nag names it in a finding: references flattened to `<Logical.Attr>`
 * and `<Ref>`, joins concatenated (cdk-nag's flattenCfnReference).
 */
function nagResourceName(node: unknown): string {
  if (node === undefined) return '';
  if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/}/g, '>');
  if (typeof node === 'object' && node !== null) {
    const record = node as Record<string, unknown>;
    const join = record['Fn::Join'];
    if (Array.isArray(join)) {
      const [delimiter, items] = join as [string, unknown[]];
      return items.map(nagResourceName).join(delimiter);
    }
    if ('Fn::Sub' in record) return nagResourceName(record['Fn::Sub']);
    const getAtt = record['Fn::GetAtt'];
    if (Array.isArray(getAtt)) return `<${nagResourceName(getAtt[0])}.${nagResourceName(getAtt[1])}>`;
    if ('Fn::ImportValue' in record) return nagResourceName(record['Fn::ImportValue']);
    if ('Ref' in record) return `<${nagResourceName(record.Ref)}>`;
  }
  return JSON.stringify(node);
}
