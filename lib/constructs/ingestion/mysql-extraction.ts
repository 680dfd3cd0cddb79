import { Stack, Validations } from 'aws-cdk-lib';
import { CfnConnection, type CfnJob } from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import type { Customer360Config } from '../../config/schema.js';
import {
  rawMysqlCustomers,
  rawMysqlKeys,
  rawMysqlOrderItems,
  rawMysqlOrders,
  rawMysqlProducts,
} from '../../schema/tables.js';
import type { TableSchema } from '../../schema/types.js';
import {
  addStatement,
  type GlueJobBaseProps,
  glueJobRole,
  glueSparkJob,
  grantRawPrefixes,
  jobScript,
  secretArns,
} from './glue-job.js';

export type MysqlSourceConfig = Customer360Config['sources']['mysql'];
export type MysqlTableName = MysqlSourceConfig['tables'][number];

const RAW_MYSQL_TABLES: Readonly<Record<MysqlTableName, TableSchema>> = {
  customers: rawMysqlCustomers,
  products: rawMysqlProducts,
  orders: rawMysqlOrders,
  order_items: rawMysqlOrderItems,
};

export interface MysqlExtractionProps extends GlueJobBaseProps {
  /** `sources.mysql`: endpoint, secret, network placement and tables. */
  readonly mysql: MysqlSourceConfig;
  /** The Glue JDBC connection's name. */
  readonly connectionName: string;
  /**
   * Minutes after which Glue stops a run.
   * @default 60
   */
  readonly timeoutMinutes?: number;
  /**
   * Rows updated less than this many seconds before an extraction starts (on the database clock)
   * are left to the next run, so rows committed late with an earlier `updated_at` are not skipped.
   * @default 5
   */
  readonly safetyLagSeconds?: number;
  /**
   * Whether the connection must use TLS (`JDBC_ENFORCE_SSL`, and `sslMode=REQUIRED` in the job).
   * @default true
   */
  readonly requireTls?: boolean;
  /**
   * Rows per committed chunk (`--chunk_rows`).
   * @default 1000000
   */
  readonly chunkRows?: number;
}

/**
 * The MySQL extraction: a Glue JDBC connection placed in the configured subnet, the job
 * (glue-scripts/extract_mysql.py) and its role, which may read the one secret and connection, place
 * the connection's network interfaces, and write its tables' raw prefixes, staging and state.
 *
 * The resources are created in `scope` (the `Ingestion` parent) rather than under this construct,
 * so their logical ids, and with them the deployed job, role and connection, stay those of the
 * earlier single-class construct. One per scope.
 */
export class MysqlExtraction extends Construct {
  public readonly job: CfnJob;
  public readonly role: iam.Role;
  public readonly connection: CfnConnection;

  constructor(scope: Construct, id: string, props: MysqlExtractionProps) {
    super(scope, id);
    const safetyLagSeconds = props.safetyLagSeconds ?? 5;
    if (!(safetyLagSeconds >= 0)) {
      throw new Error(`safetyLagSeconds must not be negative, got ${safetyLagSeconds}`);
    }
    const chunkRows = props.chunkRows ?? 1_000_000;
    if (!Number.isInteger(chunkRows) || chunkRows < 1) {
      throw new Error(`mysqlChunkRows must be a positive integer, got ${chunkRows}`);
    }
    const requireTls = props.requireTls ?? true;
    const { mysql, connectionName } = props;
    const stack = Stack.of(scope);

    const script = jobScript(scope, 'ExtractMysqlScript', 'extract_mysql.py');
    const role = glueJobRole(
      scope,
      'ExtractMysqlRole',
      'Glue job extracting MySQL tables into the raw zone',
      [script, props.commonModule],
      props.storage,
    );
    this.role = role;

    // Its tables' raw prefixes, state and staging, and those of their key scans (hard deletes); the
    // connection, its secret and the VPC.
    grantRawPrefixes(role, props.storage.rawBucket, {
      readWrite: [
        ...mysql.tables.map((table) => RAW_MYSQL_TABLES[table].location),
        ...mysql.tables.map((table) => `_tmp/mysql/${table}/`),
        rawMysqlKeys.location,
        ...mysql.tables.map((table) => `_tmp/mysql/${table}.keys/`),
      ],
      objects: [
        ...mysql.tables.map((table) => `_state/mysql/${table}.json`),
        ...mysql.tables.map((table) => `_state/mysql/${table}.keys.json`),
      ],
    });
    addStatement(
      role,
      new iam.PolicyStatement({
        sid: 'ReadConnection',
        actions: ['glue:GetConnection'],
        resources: [
          stack.formatArn({ service: 'glue', resource: 'catalog' }),
          stack.formatArn({ service: 'glue', resource: 'connection', resourceName: connectionName }),
        ],
      }),
    );
    addStatement(
      role,
      new iam.PolicyStatement({
        // Glue resolves the connection's SECRET_ID with GetSecretValue, and the job falls back to
        // the same call when it does not; nothing else about the secret is read.
        sid: 'ReadDatabaseSecret',
        actions: ['secretsmanager:GetSecretValue'],
        resources: secretArns(stack, mysql.secretName),
      }),
    );
    grantJdbcNetwork(role, mysql.network);

    this.connection = new CfnConnection(scope, 'MysqlConnection', {
      catalogId: stack.account,
      connectionInput: {
        name: connectionName,
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
    Validations.of(this.connection).acknowledge({
      id: 'CloudFormation-Validate::W3010',
      reason:
        'A Glue connection must name the availability zone of its subnet; it comes from sources.mysql.network, not from a hardcoded default.',
    });

    this.job = glueSparkJob(scope, 'ExtractMysqlJob', {
      ...props,
      description: 'Extracts MySQL tables changed since the last watermark into the raw zone',
      role,
      script,
      timeoutMinutes: props.timeoutMinutes ?? 60,
      arguments: {
        '--connection_name': this.connection.ref,
        '--secret_id': mysql.secretName,
        '--mysql_database': mysql.database,
        '--mysql_tables': mysql.tables.join(','),
        '--safety_lag_seconds': String(safetyLagSeconds),
        '--require_tls': String(requireTls),
        '--chunk_rows': String(chunkRows),
        '--key_scan_every_days': String(mysql.deleteDetection.everyDays),
      },
      connections: [this.connection.ref],
    });
  }
}

/**
 * What Glue needs to place a JDBC connection in the VPC: describe the network, and create, tag and
 * delete its elastic network interfaces in the configured subnet and security groups.
 */
function grantJdbcNetwork(role: iam.Role, network: MysqlSourceConfig['network']): void {
  const stack = Stack.of(role);
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
