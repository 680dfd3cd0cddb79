import { Stack } from 'aws-cdk-lib';
import type { CfnJob } from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { Construct } from 'constructs';
import type { DataCatalog } from './data-catalog.js';
import type { DataLakeStorage } from './data-lake-storage.js';
import { DynamoDbExtraction, type DynamoDbSourceConfig } from './ingestion/dynamodb-extraction.js';
import { GLUE_SCRIPTS } from './ingestion/glue-job.js';
import { HistoryLanding, type HistorySourceConfig } from './ingestion/history-landing.js';
import { MysqlExtraction, type MysqlSourceConfig } from './ingestion/mysql-extraction.js';

export { DynamoDbExtraction, type DynamoDbExtractionProps } from './ingestion/dynamodb-extraction.js';
export { EMRFS_FOLDER_MARKERS_OFF, secretArns } from './ingestion/glue-job.js';
export { HistoryLanding, type HistoryLandingProps } from './ingestion/history-landing.js';
export {
  MysqlExtraction,
  type MysqlExtractionProps,
  type MysqlTableName,
} from './ingestion/mysql-extraction.js';
export type { DynamoDbSourceConfig, HistorySourceConfig, MysqlSourceConfig };

/** The three ingestion jobs, by source. */
export type IngestionSource = 'mysql' | 'dynamodb' | 'history';

export interface IngestionProps {
  /** The lake the jobs write to (raw bucket) and whose key they encrypt with. */
  readonly storage: DataLakeStorage;
  /** The catalog: raw database (for the crawler) and the Glue security configuration. */
  readonly catalog: DataCatalog;
  /** `sources.mysql`: endpoint, secret, network placement and tables; no job when not `enabled`. */
  readonly mysql: MysqlSourceConfig;
  /**
   * `sources.dynamodb`: the interactions table (point-in-time recovery must be enabled on it); no
   * job when not `enabled`.
   */
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

/**
 * The cloud side of ingestion: three Glue 5.0 PySpark jobs that land the sources in the raw zone,
 * each its own construct with its own role and grants: MySQL incrementally on an explicit watermark
 * through a Glue JDBC connection ({@link MysqlExtraction}), DynamoDB through table exports
 * ({@link DynamoDbExtraction}), and legacy order files by manifest with an on-demand crawler of
 * their landing prefix ({@link HistoryLanding}). This parent names them, validates the shared
 * settings, ships the shared module, and lets the orchestrator start them.
 *
 * A role per job keeps each one to its own source (a database secret and the VPC, a DynamoDB
 * table, the landing prefix), its own raw prefixes and its own state. Job bookmarks are disabled:
 * the jobs keep explicit state objects under `_state/` in the raw bucket (see glue-scripts/), which
 * record what was published rather than what was read and can be inspected and reset by hand.
 * Retries are left to the orchestrator (`MaxRetries` 0) and each job runs once at a time, as its
 * state object is not safe to share.
 */
export class Ingestion extends Construct {
  /** Job names by source, for `glue:startJobRun.sync`; only the enabled sources have one. */
  public readonly jobNames: Readonly<Partial<Record<IngestionSource, string>>>;
  /** Job ARNs by source (enabled sources only). */
  public readonly jobArns: Readonly<Partial<Record<IngestionSource, string>>>;
  public readonly jobs: Readonly<Partial<Record<IngestionSource, CfnJob>>> &
    Readonly<Record<'history', CfnJob>>;
  /** The role each job runs as (enabled sources only). */
  public readonly roles: Readonly<Partial<Record<IngestionSource, iam.IRole>>> &
    Readonly<Record<'history' | 'crawler', iam.IRole>>;
  /** The Glue JDBC connection's name; undefined when `sources.mysql.enabled` is false. */
  public readonly connectionName: string | undefined;
  /** On-demand crawler of the history landing prefix (tables `landing_*` in the raw database). */
  public readonly crawlerName: string;

  constructor(scope: Construct, id: string, props: IngestionProps) {
    super(scope, id);
    const namePrefix = props.namePrefix ?? 'customer360';
    if (!/^[a-z][a-z0-9-]{0,40}$/.test(namePrefix)) {
      throw new Error(`namePrefix must be lowercase letters, digits and hyphens, got "${namePrefix}"`);
    }
    const numberOfWorkers = props.numberOfWorkers ?? 2;
    if (!Number.isInteger(numberOfWorkers) || numberOfWorkers < 2) {
      throw new Error(`numberOfWorkers must be an integer of at least 2, got ${numberOfWorkers}`);
    }
    const stack = Stack.of(this);

    // Disabled sources get no job, role, connection or state: nothing to deploy for a database the
    // retailer does not have.
    const enabled: Record<IngestionSource, boolean> = {
      mysql: props.mysql.enabled,
      dynamodb: props.dynamodb.enabled,
      history: true,
    };
    const allNames: Record<IngestionSource, string> = {
      mysql: `${namePrefix}-extract-mysql`,
      dynamodb: `${namePrefix}-extract-dynamodb`,
      history: `${namePrefix}-land-history`,
    };
    const sources = (Object.keys(allNames) as IngestionSource[]).filter((source) => enabled[source]);
    this.jobNames = Object.fromEntries(sources.map((source) => [source, allNames[source]]));
    const jobArn = (name: string) =>
      stack.formatArn({ service: 'glue', resource: 'job', resourceName: name });
    this.jobArns = Object.fromEntries(sources.map((source) => [source, jobArn(allNames[source])]));
    this.connectionName = props.mysql.enabled ? `${namePrefix}-mysql` : undefined;
    this.crawlerName = `${namePrefix}-history-landing`;

    const commonModule = new Asset(this, 'CommonModule', {
      path: `${GLUE_SCRIPTS}common`,
      exclude: ['__pycache__', '*.pyc'],
    });
    const shared = {
      storage: props.storage,
      catalog: props.catalog,
      commonModule,
      workerType: props.workerType,
      numberOfWorkers,
    };
    const mysql =
      this.connectionName === undefined
        ? undefined
        : new MysqlExtraction(this, 'Mysql', {
            ...shared,
            jobName: allNames.mysql,
            mysql: props.mysql,
            connectionName: this.connectionName,
            timeoutMinutes: props.timeoutMinutes,
            safetyLagSeconds: props.safetyLagSeconds,
            requireTls: props.requireTls,
            chunkRows: props.mysqlChunkRows,
          });
    const dynamodb = props.dynamodb.enabled
      ? new DynamoDbExtraction(this, 'DynamoDb', {
          ...shared,
          jobName: allNames.dynamodb,
          dynamodb: props.dynamodb,
          timeoutMinutes: props.dynamoDbTimeoutMinutes,
        })
      : undefined;
    const history = new HistoryLanding(this, 'History', {
      ...shared,
      jobName: allNames.history,
      history: props.history,
      crawlerName: this.crawlerName,
      timeoutMinutes: props.timeoutMinutes,
    });
    this.jobs = {
      ...(mysql ? { mysql: mysql.job } : {}),
      ...(dynamodb ? { dynamodb: dynamodb.job } : {}),
      history: history.job,
    };
    this.roles = {
      ...(mysql ? { mysql: mysql.role } : {}),
      ...(dynamodb ? { dynamodb: dynamodb.role } : {}),
      history: history.role,
      crawler: history.crawlerRole,
    };
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
}
