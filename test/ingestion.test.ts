import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../lib/config/load.js';
import { DataCatalog } from '../lib/constructs/data-catalog.js';
import { DataLakeStorage } from '../lib/constructs/data-lake-storage.js';
import {
  DynamoDbExtraction,
  HistoryLanding,
  Ingestion,
  type IngestionProps,
  MysqlExtraction,
} from '../lib/constructs/ingestion.js';
import { allTables } from '../lib/schema/tables.js';
import { synthStack } from './helpers/stack.js';

interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

const actionsOf = (statement: Statement) => [statement.Action].flat();
const resourcesOf = (statement: Statement) => [statement.Resource].flat().map((r) => JSON.stringify(r));

/** The statements of the policies attached to the role whose logical id matches. */
function statementsOf(template: Template, role: RegExp): Statement[] {
  return Object.values(template.findResources('AWS::IAM::Policy')).flatMap((policy) => {
    const roles = (policy.Properties.Roles as { Ref: string }[]).map((r) => r.Ref);
    return roles.some((ref) => role.test(ref))
      ? (policy.Properties.PolicyDocument.Statement as Statement[])
      : [];
  });
}

function statementWith(statements: Statement[], action: string): Statement {
  const found = statements.find((s) => actionsOf(s).includes(action));
  if (!found) throw new Error(`No statement grants ${action}`);
  return found;
}

/** The logical id of the one resource of a type whose properties match. */
function logicalId(template: Template, type: string, properties: object): string {
  const ids = Object.keys(template.findResources(type, { Properties: properties }));
  expect(ids).toHaveLength(1);
  return ids[0] ?? '';
}

const MYSQL_ROLE = /^IngestionExtractMysqlRole/;
const DYNAMODB_ROLE = /^IngestionExtractDynamoDbRole/;
const HISTORY_ROLE = /^IngestionLandHistoryRole/;
const CRAWLER_ROLE = /^IngestionHistoryCrawlerRole/;

describe('Ingestion in the default Customer 360 stack', () => {
  const { app, template } = synthStack();
  const assembly = app.synth();

  it('creates a JDBC connection to the configured MySQL database, placed in the configured subnet', () => {
    template.resourceCountIs('AWS::Glue::Connection', 1);
    template.hasResourceProperties('AWS::Glue::Connection', {
      CatalogId: { Ref: 'AWS::AccountId' },
      ConnectionInput: {
        Name: 'customer360-mysql',
        ConnectionType: 'JDBC',
        Description: Match.anyValue(),
        ConnectionProperties: {
          JDBC_CONNECTION_URL:
            'jdbc:mysql://customer360-db.cluster-example.us-east-1.rds.amazonaws.com:3306/retail',
          SECRET_ID: 'customer360/mysql',
          JDBC_ENFORCE_SSL: 'true',
        },
        PhysicalConnectionRequirements: {
          SubnetId: 'subnet-00000000',
          SecurityGroupIdList: ['sg-00000000'],
          AvailabilityZone: 'us-east-1a',
        },
      },
    });
  });

  const jobs = [
    { source: 'mysql', name: 'customer360-extract-mysql', script: 'extract_mysql.py', timeout: 60 },
    { source: 'dynamodb', name: 'customer360-extract-dynamodb', script: 'extract_dynamodb.py', timeout: 180 },
    { source: 'history', name: 'customer360-land-history', script: 'land_history.py', timeout: 60 },
  ] as const;

  it('keeps the logical ids of the deployed jobs, roles, connection and crawler', () => {
    // A changed logical id would make CloudFormation replace a resource whose name is fixed (the
    // job, connection and crawler names), which fails. CDK's id is the path's names (less
    // `Resource`) and the first 8 hex digits of the MD5 of the path: e.g. md5("Ingestion/
    // ExtractMysqlJob") starts 6cbe1db6, md5("Ingestion/ExtractMysqlRole/Resource") fda3c1f4.
    const ids = Object.keys(template.toJSON().Resources).filter((id) => id.startsWith('Ingestion'));
    expect(ids.sort()).toEqual([
      'IngestionExtractDynamoDbJobA04D47B9',
      'IngestionExtractDynamoDbRole93BF15A6',
      'IngestionExtractDynamoDbRoleDefaultPolicy91C6A663',
      'IngestionExtractMysqlJob6CBE1DB6',
      'IngestionExtractMysqlRoleDefaultPolicyBDD5F93E',
      'IngestionExtractMysqlRoleFDA3C1F4',
      'IngestionHistoryCrawler142D51A1',
      'IngestionHistoryCrawlerRole2A2063B5',
      'IngestionHistoryCrawlerRoleDefaultPolicy67C9EC26',
      'IngestionLandHistoryJob9045FEEF',
      'IngestionLandHistoryRole58DDE382',
      'IngestionLandHistoryRoleDefaultPolicy7389E917',
      'IngestionMysqlConnectionB8B314DB',
    ]);
  });

  it('creates one Glue job per source', () => {
    template.resourceCountIs('AWS::Glue::Job', 3);
  });

  it.each(jobs)('runs $name as a Glue 5.0 Python 3 Spark job with the lake security configuration', (job) => {
    template.hasResourceProperties('AWS::Glue::Job', {
      Name: job.name,
      Command: {
        Name: 'glueetl',
        PythonVersion: '3',
        ScriptLocation: {
          'Fn::Sub': Match.stringLikeRegexp('^s3://cdk-[a-z0-9]+-assets-.+/[0-9a-f]{64}\\.py$'),
        },
      },
      GlueVersion: '5.0',
      WorkerType: 'G.1X',
      NumberOfWorkers: 2,
      Timeout: job.timeout,
      MaxRetries: 0,
      ExecutionProperty: { MaxConcurrentRuns: 1 },
      SecurityConfiguration: 'customer360-security',
      Role: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Ingestion.+Role'), 'Arn'] },
      DefaultArguments: Match.objectLike({
        '--job-language': 'python',
        '--job-bookmark-option': 'job-bookmark-disable',
        '--enable-continuous-cloudwatch-log': 'true',
        '--enable-metrics': 'true',
        '--extra-py-files': { 'Fn::Sub': Match.stringLikeRegexp('/[0-9a-f]{64}\\.zip$') },
        '--raw_bucket': { Ref: Match.stringLikeRegexp('^StorageRawBucket') },
        '--conf':
          'spark.hadoop.fs.s3.useDirectoryHeaderAsFolderObject=true --conf spark.hadoop.fs.s3.folderObject.autoAction.disabled=true',
      }),
    });
  });

  it('keeps the folder markers of Spark writes inside the prefixes each job may write', () => {
    // The object keys a role may put, as globs (`*` matches any run of characters).
    const writable = (role: RegExp) =>
      resourcesOf(statementWith(statementsOf(template, role), 's3:PutObject')).map((resource) => {
        const glob = /"\/([^"]+)"\]\]\}$/.exec(resource)?.[1] ?? '';
        return new RegExp(`^${glob.replace(/[.$]/g, '\\$&').replace(/\*/g, '.*')}$`);
      });
    const mayWrite = (role: RegExp, key: string) => writable(role).some((glob) => glob.test(key));
    // Worked by hand from EMRFS's marker names for the staging folder of one run: with directory
    // headers, `<dir>/` for the folder and its parent; by default `<dir>_$folder$` and the parent's.
    const staging = [
      { role: MYSQL_ROLE, folder: '_tmp/mysql/orders' },
      { role: DYNAMODB_ROLE, folder: '_tmp/dynamodb/customer-interactions' },
      { role: HISTORY_ROLE, folder: '_tmp/history/manifest' },
    ];
    for (const { role, folder } of staging) {
      expect(mayWrite(role, `${folder}/20240501T030000Z-0a1b2c3d/`)).toBe(true);
      expect(mayWrite(role, `${folder}/20240501T030000Z-0a1b2c3d/_temporary/0/`)).toBe(true);
      expect(mayWrite(role, `${folder}/`)).toBe(true);
      expect(mayWrite(role, `${folder}_$folder$`)).toBe(false);
      expect(mayWrite(role, '_tmp_$folder$')).toBe(false);
    }
  });

  it.each(jobs)('ships $script as the script of $name', (job) => {
    const [resource] = Object.values(
      template.findResources('AWS::Glue::Job', { Properties: { Name: job.name } }),
    );
    const location = resource?.Properties.Command.ScriptLocation['Fn::Sub'] as string;
    const hash = /([0-9a-f]{64})\.py$/.exec(location)?.[1];
    const staged = join(assembly.directory, `asset.${hash}.py`);
    expect(readFileSync(staged, 'utf8')).toBe(readFileSync(join('glue-scripts', job.script), 'utf8'));
  });

  it('ships the shared module to every job, without bytecode caches', () => {
    const [resource] = Object.values(template.findResources('AWS::Glue::Job'));
    const location = resource?.Properties.DefaultArguments['--extra-py-files']['Fn::Sub'] as string;
    const hash = /([0-9a-f]{64})\.zip$/.exec(location)?.[1];
    const staged = join(assembly.directory, `asset.${hash}`);
    expect(readdirSync(staged)).toEqual(['c360_glue.py']);
    expect(existsSync(join(staged, '__pycache__'))).toBe(false);
  });

  it('passes the MySQL job its connection, database, tables, safety lag and TLS requirement', () => {
    const connection = logicalId(template, 'AWS::Glue::Connection', {});
    template.hasResourceProperties('AWS::Glue::Job', {
      Name: 'customer360-extract-mysql',
      Connections: { Connections: [{ Ref: connection }] },
      DefaultArguments: Match.objectLike({
        '--connection_name': { Ref: connection },
        '--secret_id': 'customer360/mysql',
        '--chunk_rows': '1000000',
        '--key_scan_every_days': '1',
        '--mysql_database': 'retail',
        '--mysql_tables': 'customers,products,orders,order_items',
        '--safety_lag_seconds': '5',
        '--require_tls': 'true',
      }),
    });
  });

  it('passes the DynamoDB job its table and the lake key for the export, outside the VPC', () => {
    template.hasResourceProperties('AWS::Glue::Job', {
      Name: 'customer360-extract-dynamodb',
      Connections: Match.absent(),
      DefaultArguments: Match.objectLike({
        '--table_name': 'customer-interactions',
        '--kms_key_arn': { 'Fn::GetAtt': [Match.stringLikeRegexp('^StorageKey'), 'Arn'] },
      }),
    });
  });

  it('passes the history job the landing prefix, format and column mapping', () => {
    template.hasResourceProperties('AWS::Glue::Job', {
      Name: 'customer360-land-history',
      Connections: Match.absent(),
      DefaultArguments: Match.objectLike({
        '--history_prefix': 'landing/history/',
        '--history_format': 'csv',
        '--history_columns': Match.serializedJson({
          customer: 'customer_id',
          orderDate: 'date',
          amount: 'amount',
          quantity: 'quantity',
        }),
      }),
    });
  });

  it('creates the jobs after the security configuration they name', () => {
    const securityConfiguration = logicalId(template, 'AWS::Glue::SecurityConfiguration', {});
    for (const resource of Object.values(template.findResources('AWS::Glue::Job'))) {
      expect(resource.DependsOn).toContain(securityConfiguration);
    }
  });

  it('crawls the landing prefix on demand into landing_ tables of the raw database', () => {
    template.resourceCountIs('AWS::Glue::Crawler', 1);
    template.hasResourceProperties('AWS::Glue::Crawler', {
      Name: 'customer360-history-landing',
      DatabaseName: 'customer360_raw',
      TablePrefix: 'landing_',
      CrawlerSecurityConfiguration: 'customer360-security',
      Schedule: Match.absent(),
      Role: { 'Fn::GetAtt': [Match.stringLikeRegexp('^IngestionHistoryCrawlerRole'), 'Arn'] },
      Targets: {
        S3Targets: [
          {
            Path: {
              'Fn::Join': [
                '',
                ['s3://', { Ref: Match.stringLikeRegexp('^StorageRawBucket') }, '/landing/history/'],
              ],
            },
          },
        ],
      },
      SchemaChangePolicy: { UpdateBehavior: 'UPDATE_IN_DATABASE', DeleteBehavior: 'LOG' },
      Configuration: Match.serializedJson(
        Match.objectLike({ Grouping: { TableGroupingPolicy: 'CombineCompatibleSchemas' } }),
      ),
    });
  });

  it('gives each job and the crawler its own Glue role, without managed policies', () => {
    const roles = template.findResources('AWS::IAM::Role', {
      Properties: {
        AssumeRolePolicyDocument: {
          Statement: [Match.objectLike({ Principal: { Service: 'glue.amazonaws.com' } })],
        },
      },
    });
    const ids = Object.keys(roles).sort();
    expect(ids).toHaveLength(4);
    for (const pattern of [MYSQL_ROLE, DYNAMODB_ROLE, HISTORY_ROLE, CRAWLER_ROLE]) {
      expect(ids.filter((id) => pattern.test(id))).toHaveLength(1);
    }
    for (const role of Object.values(roles)) expect(role.Properties.ManagedPolicyArns).toBeUndefined();
  });

  it('grants no wildcard actions', () => {
    for (const role of [MYSQL_ROLE, DYNAMODB_ROLE, HISTORY_ROLE, CRAWLER_ROLE]) {
      const actions = statementsOf(template, role).flatMap(actionsOf);
      expect(actions.length).toBeGreaterThan(0);
      expect(actions.filter((action) => action.includes('*'))).toEqual([]);
    }
  });

  it('lets only the MySQL job read the database secret, by its name with the random suffix', () => {
    const secret = statementWith(statementsOf(template, MYSQL_ROLE), 'secretsmanager:GetSecretValue');
    expect(resourcesOf(secret)).toEqual([expect.stringContaining(':secret:customer360/mysql-??????"')]);
    // Only the value: Glue resolves the connection's secret with it, and so does the job's fallback.
    const secretActions = statementsOf(template, MYSQL_ROLE)
      .flatMap(actionsOf)
      .filter((action) => action.startsWith('secretsmanager:'));
    expect(secretActions).toEqual(['secretsmanager:GetSecretValue']);
    for (const role of [DYNAMODB_ROLE, HISTORY_ROLE, CRAWLER_ROLE]) {
      const actions = statementsOf(template, role).flatMap(actionsOf);
      expect(actions.filter((action) => action.startsWith('secretsmanager:'))).toEqual([]);
    }
  });

  it('lets only the DynamoDB job export, and only the interactions table', () => {
    const statements = statementsOf(template, DYNAMODB_ROLE);
    const exportTable = statementWith(statements, 'dynamodb:ExportTableToPointInTime');
    expect(resourcesOf(exportTable)).toEqual([
      expect.stringMatching(/:table\/customer-interactions"\]\]\}$/),
    ]);
    const describeExport = statementWith(statements, 'dynamodb:DescribeExport');
    expect(resourcesOf(describeExport)).toEqual([
      expect.stringMatching(/:table\/customer-interactions\/export\/\*"\]\]\}$/),
    ]);
    for (const role of [MYSQL_ROLE, HISTORY_ROLE, CRAWLER_ROLE]) {
      const actions = statementsOf(template, role).flatMap(actionsOf);
      expect(actions.filter((action) => action.startsWith('dynamodb:'))).toEqual([]);
    }
  });

  it('limits each job to its own raw prefixes and state', () => {
    const writes = (role: RegExp) =>
      resourcesOf(statementWith(statementsOf(template, role), 's3:PutObject')).join(' ');
    const mysql = resourcesOf(statementWith(statementsOf(template, MYSQL_ROLE), 's3:PutObject'));
    // each table's raw prefix and staging, the key scans' raw prefix and each table's key staging
    expect(mysql).toHaveLength(13);
    for (const resource of mysql)
      expect(resource).toMatch(
        /"\/((_tmp\/)?mysql\/(customers|products|orders|order_items)\/\*|mysql\/keys\/\*|_tmp\/mysql\/(customers|products|orders|order_items)\.keys\/\*)"/,
      );
    expect(writes(DYNAMODB_ROLE)).toContain('/dynamodb/interactions/*');
    expect(writes(DYNAMODB_ROLE)).toContain('/_exports/dynamodb/customer-interactions/*');
    expect(writes(DYNAMODB_ROLE)).not.toContain('mysql');
    expect(writes(HISTORY_ROLE)).toContain('/history/orders/*');
    expect(writes(HISTORY_ROLE)).not.toContain('landing');

    const state = statementsOf(template, MYSQL_ROLE).find((s) => s.Sid === 'ReadWriteState');
    expect(
      state &&
        resourcesOf(state)
          .map((r) => /\/_state\/[^"]+/.exec(r)?.[0])
          .sort(),
    ).toEqual([
      '/_state/mysql/customers.json',
      '/_state/mysql/customers.keys.json',
      '/_state/mysql/order_items.json',
      '/_state/mysql/order_items.keys.json',
      '/_state/mysql/orders.json',
      '/_state/mysql/orders.keys.json',
      '/_state/mysql/products.json',
      '/_state/mysql/products.keys.json',
    ]);

    const list = statementWith(statementsOf(template, HISTORY_ROLE), 's3:ListBucket');
    expect(list.Condition).toEqual({
      StringLike: {
        's3:prefix': [
          'landing/history/*',
          'history/orders/*',
          '_tmp/history/manifest/*',
          '_state/history/manifest.json*',
        ],
      },
    });
    const crawlerReads = statementWith(statementsOf(template, CRAWLER_ROLE), 's3:GetObject');
    expect(resourcesOf(crawlerReads)).toEqual([expect.stringContaining('"/landing/history/*"')]);
    expect(statementsOf(template, CRAWLER_ROLE).flatMap(actionsOf)).not.toContain('s3:PutObject');
  });

  it('uses the lake key, and writes logs only to the Glue log groups', () => {
    for (const role of [MYSQL_ROLE, DYNAMODB_ROLE, HISTORY_ROLE]) {
      const statements = statementsOf(template, role);
      const key = statementWith(statements, 'kms:GenerateDataKey');
      expect(key.Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^StorageKey/), 'Arn'] });
      expect(resourcesOf(statementWith(statements, 'logs:PutLogEvents'))).toEqual([
        expect.stringContaining(':log-group:/aws-glue/jobs/*'),
      ]);
    }
    expect(resourcesOf(statementWith(statementsOf(template, CRAWLER_ROLE), 'logs:PutLogEvents'))).toEqual([
      expect.stringContaining(':log-group:/aws-glue/crawlers*'),
    ]);
  });

  it('limits the crawler to landing_ tables of the raw database', () => {
    const catalog = statementWith(statementsOf(template, CRAWLER_ROLE), 'glue:CreateTable');
    const resources = resourcesOf(catalog).join(' ');
    expect(resources).toContain(':database/customer360_raw"');
    expect(resources).toContain(':table/customer360_raw/landing_*"');
    expect(resources).not.toMatch(/customer360_(stage|analytics)/);
  });

  it('lets the MySQL job place its connection in the configured subnet and security groups only', () => {
    const statements = statementsOf(template, MYSQL_ROLE);
    const create = resourcesOf(statementWith(statements, 'ec2:CreateNetworkInterface')).join(' ');
    expect(create).toContain(':subnet/subnet-00000000"');
    expect(create).toContain(':security-group/sg-00000000"');
    const tags = statementWith(statements, 'ec2:CreateTags');
    expect(tags.Condition).toEqual({
      'ForAllValues:StringEquals': { 'aws:TagKeys': ['aws-glue-service-resource'] },
    });
    expect(resourcesOf(statementWith(statements, 'glue:GetConnection')).join(' ')).toContain(
      ':connection/customer360-mysql"',
    );
    for (const role of [DYNAMODB_ROLE, HISTORY_ROLE, CRAWLER_ROLE]) {
      const actions = statementsOf(template, role).flatMap(actionsOf);
      expect(actions.filter((action) => action.startsWith('ec2:'))).toEqual([]);
    }
  });

  it('outputs the crawler name', () => {
    template.hasOutput('HistoryLandingCrawler', { Value: 'customer360-history-landing' });
  });
});

describe('Ingestion with a configured deployment', () => {
  const secretArn = 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:shop/db';
  const { template } = synthStack({
    catalogPrefix: 'shop_lake',
    sources: {
      mysql: {
        host: 'db.internal',
        port: 3307,
        database: 'shop',
        secretName: secretArn,
        network: {
          subnetId: 'subnet-0123abcd',
          securityGroupIds: ['sg-0123abcd', 'sg-4567ef01'],
          availabilityZone: 'eu-west-1b',
        },
        tables: ['orders', 'order_items'],
      },
      dynamodb: { interactionsTableName: 'shop-events' },
      history: {
        prefix: 'drop/orders/',
        format: 'jsonl',
        columns: { customer: 'email', orderDate: 'ordered', amount: 'total', quantity: null, orderId: 'id' },
      },
    },
  });

  it('connects to the configured endpoint with the secret ARN', () => {
    template.hasResourceProperties('AWS::Glue::Connection', {
      ConnectionInput: Match.objectLike({
        Name: 'shop-lake-mysql',
        ConnectionProperties: Match.objectLike({
          JDBC_CONNECTION_URL: 'jdbc:mysql://db.internal:3307/shop',
          SECRET_ID: secretArn,
        }),
        PhysicalConnectionRequirements: {
          SubnetId: 'subnet-0123abcd',
          SecurityGroupIdList: ['sg-0123abcd', 'sg-4567ef01'],
          AvailabilityZone: 'eu-west-1b',
        },
      }),
    });
  });

  it('reads the secret by its complete or partial ARN', () => {
    const secret = statementWith(statementsOf(template, MYSQL_ROLE), 'secretsmanager:GetSecretValue');
    expect(secret.Resource).toEqual([secretArn, `${secretArn}-??????`]);
    template.hasResourceProperties('AWS::Glue::Job', {
      Name: 'shop-lake-extract-mysql',
      DefaultArguments: Match.objectLike({ '--secret_id': secretArn }),
    });
  });

  it('extracts and may write only the configured MySQL tables', () => {
    template.hasResourceProperties('AWS::Glue::Job', {
      Name: 'shop-lake-extract-mysql',
      DefaultArguments: Match.objectLike({
        '--mysql_tables': 'orders,order_items',
        '--mysql_database': 'shop',
      }),
    });
    const writes = resourcesOf(statementWith(statementsOf(template, MYSQL_ROLE), 's3:PutObject')).join(' ');
    expect(writes).toContain('/mysql/orders/*');
    expect(writes).toContain('/mysql/order_items/*');
    expect(writes).not.toContain('customers');
    expect(writes).not.toContain('products');
  });

  it('exports the configured DynamoDB table', () => {
    template.hasResourceProperties('AWS::Glue::Job', {
      Name: 'shop-lake-extract-dynamodb',
      DefaultArguments: Match.objectLike({ '--table_name': 'shop-events' }),
    });
    const exportTable = statementWith(
      statementsOf(template, DYNAMODB_ROLE),
      'dynamodb:ExportTableToPointInTime',
    );
    expect(resourcesOf(exportTable)).toEqual([expect.stringContaining(':table/shop-events"')]);
  });

  it('lands and crawls the configured history prefix with the configured mapping', () => {
    template.hasResourceProperties('AWS::Glue::Job', {
      Name: 'shop-lake-land-history',
      DefaultArguments: Match.objectLike({ '--history_prefix': 'drop/orders/', '--history_format': 'jsonl' }),
    });
    const [job] = Object.values(
      template.findResources('AWS::Glue::Job', { Properties: { Name: 'shop-lake-land-history' } }),
    );
    expect(JSON.parse(job?.Properties.DefaultArguments['--history_columns'])).toEqual({
      orderId: 'id',
      customer: 'email',
      orderDate: 'ordered',
      amount: 'total',
      quantity: null,
    });
    template.hasResourceProperties('AWS::Glue::Crawler', {
      Name: 'shop-lake-history-landing',
      DatabaseName: 'shop_lake_raw',
      Targets: {
        S3Targets: [{ Path: { 'Fn::Join': ['', ['s3://', Match.anyValue(), '/drop/orders/']] } }],
      },
    });
  });

  it('lets the connection use both security groups', () => {
    const create = resourcesOf(
      statementWith(statementsOf(template, MYSQL_ROLE), 'ec2:CreateNetworkInterface'),
    );
    expect(create.join(' ')).toContain(':security-group/sg-0123abcd"');
    expect(create.join(' ')).toContain(':security-group/sg-4567ef01"');
    expect(create.join(' ')).toContain(':subnet/subnet-0123abcd"');
  });
});

describe('Ingestion props', () => {
  const sources = parseConfig({}).sources;
  const build = (props: Partial<IngestionProps> = {}) => {
    const stack = new Stack(new App(), 'IngestionProps');
    const storage = new DataLakeStorage(stack, 'Storage');
    const catalog = new DataCatalog(stack, 'Catalog', { storage, tables: allTables });
    const ingestion = new Ingestion(stack, 'Ingestion', { storage, catalog, ...sources, ...props });
    return { stack, ingestion };
  };

  it('takes worker type, workers, timeouts, safety lag and TLS from props', () => {
    const { stack } = build({
      workerType: 'G.2X',
      numberOfWorkers: 5,
      timeoutMinutes: 30,
      dynamoDbTimeoutMinutes: 240,
      safetyLagSeconds: 10,
      requireTls: false,
      mysqlChunkRows: 250_000,
    });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Glue::Job', {
      Name: 'customer360-extract-mysql',
      WorkerType: 'G.2X',
      NumberOfWorkers: 5,
      Timeout: 30,
      DefaultArguments: Match.objectLike({
        '--safety_lag_seconds': '10',
        '--require_tls': 'false',
        '--chunk_rows': '250000',
      }),
    });
    template.hasResourceProperties('AWS::Glue::Job', { Name: 'customer360-extract-dynamodb', Timeout: 240 });
    template.hasResourceProperties('AWS::Glue::Connection', {
      ConnectionInput: Match.objectLike({
        ConnectionProperties: Match.objectLike({ JDBC_ENFORCE_SSL: 'false' }),
      }),
    });
  });

  it('composes one construct per job, each with its own role', () => {
    const { ingestion } = build();
    const mysql = ingestion.node.findChild('Mysql');
    const dynamodb = ingestion.node.findChild('DynamoDb');
    const history = ingestion.node.findChild('History');
    expect(mysql).toBeInstanceOf(MysqlExtraction);
    expect(dynamodb).toBeInstanceOf(DynamoDbExtraction);
    expect(history).toBeInstanceOf(HistoryLanding);
    expect(ingestion.roles).toEqual({
      mysql: (mysql as MysqlExtraction).role,
      dynamodb: (dynamodb as DynamoDbExtraction).role,
      history: (history as HistoryLanding).role,
      crawler: (history as HistoryLanding).crawlerRole,
    });
    expect(ingestion.jobs.mysql).toBe((mysql as MysqlExtraction).job);
    expect(ingestion.jobs.mysql?.name).toBe('customer360-extract-mysql');
  });

  it('lets a grantee start and follow the three jobs only', () => {
    const { stack, ingestion } = build();
    const orchestrator = new Role(stack, 'Orchestrator', {
      assumedBy: new ServicePrincipal('states.amazonaws.com'),
    });
    ingestion.grantStartJobs(orchestrator);
    const statements = statementsOf(Template.fromStack(stack), /^Orchestrator/);
    expect(statements).toHaveLength(1);
    expect(actionsOf(statements[0] as Statement).sort()).toEqual([
      'glue:BatchStopJobRun',
      'glue:GetJobRun',
      'glue:GetJobRuns',
      'glue:StartJobRun',
    ]);
    const resources = resourcesOf(statements[0] as Statement);
    expect(resources).toHaveLength(3);
    for (const name of Object.values(ingestion.jobNames)) {
      expect(resources.some((r) => r.includes(`:job/${name}"`))).toBe(true);
    }
    expect(ingestion.jobNames).toEqual({
      mysql: 'customer360-extract-mysql',
      dynamodb: 'customer360-extract-dynamodb',
      history: 'customer360-land-history',
    });
  });

  it('rejects a name prefix Glue names should not have', () => {
    expect(() => build({ namePrefix: 'My_Lake' })).toThrow(
      'namePrefix must be lowercase letters, digits and hyphens, got "My_Lake"',
    );
  });

  it('rejects a chunk size that is not a positive integer', () => {
    expect(() => build({ mysqlChunkRows: 0 })).toThrow('mysqlChunkRows must be a positive integer, got 0');
    expect(() => build({ mysqlChunkRows: 1.5 })).toThrow(
      'mysqlChunkRows must be a positive integer, got 1.5',
    );
  });

  it('rejects fewer than two workers', () => {
    expect(() => build({ numberOfWorkers: 1 })).toThrow(
      'numberOfWorkers must be an integer of at least 2, got 1',
    );
  });

  it('rejects a landing prefix that overlaps a raw table or the job folders', () => {
    expect(() => build({ history: { ...sources.history, prefix: 'history/' } })).toThrow(
      'sources.history.prefix "history/" overlaps the raw table history_orders (history/orders/)',
    );
    expect(() => build({ history: { ...sources.history, prefix: '_state/' } })).toThrow(
      'must not start with "_"',
    );
  });
});
