import { Stack } from 'aws-cdk-lib';
import type { CfnJob } from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import type { Customer360Config } from '../../config/schema.js';
import { rawDynamodbInteractions } from '../../schema/tables.js';
import {
  addStatement,
  type GlueJobBaseProps,
  glueJobRole,
  glueSparkJob,
  grantRawPrefixes,
  jobScript,
} from './glue-job.js';

export type DynamoDbSourceConfig = Customer360Config['sources']['dynamodb'];

export interface DynamoDbExtractionProps extends GlueJobBaseProps {
  /** `sources.dynamodb`: the interactions table (point-in-time recovery must be enabled on it). */
  readonly dynamodb: DynamoDbSourceConfig;
  /**
   * Minutes after which Glue stops a run, which waits for the table export (a first full export
   * of a large table can take hours).
   * @default 180
   */
  readonly timeoutMinutes?: number;
}

/**
 * The DynamoDB extraction: the job (glue-scripts/extract_dynamodb.py) and its role, which may
 * export and follow the exports of the one interactions table, and write its export prefix, raw
 * prefix, staging and state. The job runs outside the VPC.
 *
 * The resources are created in `scope` (the `Ingestion` parent) rather than under this construct,
 * so their logical ids, and with them the deployed job and role, stay those of the earlier
 * single-class construct. One per scope.
 */
export class DynamoDbExtraction extends Construct {
  public readonly job: CfnJob;
  public readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: DynamoDbExtractionProps) {
    super(scope, id);
    const { dynamodb, storage } = props;
    const stack = Stack.of(scope);

    const script = jobScript(scope, 'ExtractDynamoDbScript', 'extract_dynamodb.py');
    const role = glueJobRole(
      scope,
      'ExtractDynamoDbRole',
      'Glue job exporting the DynamoDB interactions table',
      [script, props.commonModule],
      storage,
    );
    this.role = role;

    const tableArn = stack.formatArn({
      service: 'dynamodb',
      resource: 'table',
      resourceName: dynamodb.interactionsTableName,
    });
    addStatement(
      role,
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
      role,
      new iam.PolicyStatement({
        sid: 'FollowExports',
        actions: ['dynamodb:DescribeExport'],
        resources: [`${tableArn}/export/*`],
      }),
      'DescribeExport is granted on the exports of the interactions table only; export ids are assigned by DynamoDB when the job requests an export.',
    );
    const exportPrefix = `_exports/dynamodb/${dynamodb.interactionsTableName}/`;
    grantRawPrefixes(role, storage.rawBucket, {
      readWrite: [
        rawDynamodbInteractions.location,
        exportPrefix,
        `_tmp/dynamodb/${dynamodb.interactionsTableName}/`,
      ],
      objects: [`_state/dynamodb/${dynamodb.interactionsTableName}.json`],
    });
    addStatement(
      role,
      new iam.PolicyStatement({
        // DynamoDB writes the export files with the permissions of the caller, setting their ACL.
        sid: 'WriteExportFiles',
        actions: ['s3:PutObjectAcl'],
        resources: [storage.rawBucket.arnForObjects(`${exportPrefix}*`)],
      }),
      'DynamoDB names the export files (AWSDynamoDB/<export id>/...) under the prefix the job requests for this table.',
    );

    this.job = glueSparkJob(scope, 'ExtractDynamoDbJob', {
      ...props,
      description: 'Exports the DynamoDB interactions table (full, then incremental) into the raw zone',
      role,
      script,
      timeoutMinutes: props.timeoutMinutes ?? 180,
      arguments: {
        '--table_name': dynamodb.interactionsTableName,
        '--kms_key_arn': storage.key.keyArn,
      },
    });
  }
}
