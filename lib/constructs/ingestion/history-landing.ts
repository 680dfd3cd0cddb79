import { Stack } from 'aws-cdk-lib';
import { CfnCrawler, type CfnJob } from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import type { Customer360Config } from '../../config/schema.js';
import { rawHistoryOrders, rawTables } from '../../schema/tables.js';
import {
  addStatement,
  type GlueJobBaseProps,
  glueJobRole,
  glueSparkJob,
  grantGlueLogs,
  grantRawPrefixes,
  jobScript,
} from './glue-job.js';

export type HistorySourceConfig = Customer360Config['sources']['history'];

export interface HistoryLandingProps extends GlueJobBaseProps {
  /** `sources.history`: landing prefix in the raw bucket, file format and column mapping. */
  readonly history: HistorySourceConfig;
  /** The name of the on-demand crawler of the landing prefix. */
  readonly crawlerName: string;
  /**
   * Minutes after which Glue stops a run.
   * @default 60
   */
  readonly timeoutMinutes?: number;
}

/**
 * The history landing: the job (glue-scripts/land_history.py) that lands new legacy order files
 * from the landing prefix by manifest, its role, and an on-demand crawler over the landing prefix
 * that shows the columns of a newly dropped export so the column mapping can be set.
 *
 * The resources are created in `scope` (the `Ingestion` parent) rather than under this construct,
 * so their logical ids, and with them the deployed job, crawler and roles, stay those of the
 * earlier single-class construct. One per scope.
 */
export class HistoryLanding extends Construct {
  public readonly job: CfnJob;
  public readonly role: iam.Role;
  public readonly crawlerRole: iam.Role;

  constructor(scope: Construct, id: string, props: HistoryLandingProps) {
    super(scope, id);
    const { history, storage, catalog } = props;
    checkLandingPrefix(history.prefix);
    const stack = Stack.of(scope);

    const script = jobScript(scope, 'LandHistoryScript', 'land_history.py');
    const role = glueJobRole(
      scope,
      'LandHistoryRole',
      'Glue job landing legacy order files in the raw zone',
      [script, props.commonModule],
      storage,
    );
    this.role = role;
    // Read the landing prefix; write the history table's prefix, manifest and staging.
    grantRawPrefixes(role, storage.rawBucket, {
      read: [history.prefix],
      readWrite: [rawHistoryOrders.location, '_tmp/history/manifest/'],
      objects: ['_state/history/manifest.json'],
    });

    this.job = glueSparkJob(scope, 'LandHistoryJob', {
      ...props,
      description: 'Lands new legacy order files from the landing prefix in the raw zone',
      role,
      script,
      timeoutMinutes: props.timeoutMinutes ?? 60,
      arguments: {
        '--history_prefix': history.prefix,
        '--history_format': history.format,
        '--history_columns': JSON.stringify(history.columns),
      },
    });

    const crawlerRole = new iam.Role(scope, 'HistoryCrawlerRole', {
      assumedBy: new iam.ServicePrincipal('glue.amazonaws.com'),
      description: 'Glue crawler of the history landing prefix',
    });
    this.crawlerRole = crawlerRole;
    grantRawPrefixes(crawlerRole, storage.rawBucket, { read: [history.prefix] });
    grantGlueLogs(crawlerRole, 'crawlers*');
    const rawDatabase = catalog.databaseNames.raw;
    addStatement(
      crawlerRole,
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
      crawlerRole,
      new iam.PolicyStatement({
        sid: 'UseLakeKey',
        actions: ['kms:Decrypt', 'kms:DescribeKey'],
        resources: [storage.key.keyArn],
      }),
    );
    const crawler = new CfnCrawler(scope, 'HistoryCrawler', {
      name: props.crawlerName,
      description:
        'On demand: discovers the columns of new legacy order exports so sources.history.columns can be set',
      role: crawlerRole.roleArn,
      databaseName: rawDatabase,
      tablePrefix: 'landing_',
      targets: { s3Targets: [{ path: storage.rawBucket.s3UrlForObject(history.prefix) }] },
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
