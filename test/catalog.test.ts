import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { describe, expect, it } from 'vitest';
import { DataCatalog } from '../lib/constructs/data-catalog.js';
import { DataLakeStorage } from '../lib/constructs/data-lake-storage.js';
import { allTables, rawMysqlOrders, stageOrders } from '../lib/schema/tables.js';
import { synthStack } from './helpers/stack.js';

describe('DataCatalog in the Customer 360 stack', () => {
  const { template } = synthStack();

  it('creates one Glue database per zone', () => {
    template.resourceCountIs('AWS::Glue::Database', 3);
    for (const zone of ['raw', 'stage', 'analytics']) {
      template.hasResourceProperties('AWS::Glue::Database', {
        DatabaseInput: Match.objectLike({ Name: `customer360_${zone}` }),
      });
    }
  });

  it('encrypts Glue job logs, bookmarks and S3 output with the lake key', () => {
    template.hasResourceProperties('AWS::Glue::SecurityConfiguration', {
      Name: 'customer360-security',
      EncryptionConfiguration: {
        S3Encryptions: [{ S3EncryptionMode: 'SSE-KMS', KmsKeyArn: Match.anyValue() }],
        CloudWatchEncryption: { CloudWatchEncryptionMode: 'SSE-KMS', KmsKeyArn: Match.anyValue() },
        JobBookmarksEncryption: { JobBookmarksEncryptionMode: 'CSE-KMS', KmsKeyArn: Match.anyValue() },
      },
    });
  });

  it('lets CloudWatch Logs use the key for the encrypted Glue logs', () => {
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: { 'Fn::Join': ['', ['logs.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } },
            Action: Match.arrayWith(['kms:Decrypt', 'kms:Encrypt']),
          }),
        ]),
      },
    });
  });

  it('creates an Athena engine v3 workgroup that enforces encrypted results and a scan cutoff', () => {
    template.hasResourceProperties('AWS::Athena::WorkGroup', {
      Name: 'customer360-pipeline',
      WorkGroupConfiguration: {
        EnforceWorkGroupConfiguration: true,
        PublishCloudWatchMetricsEnabled: true,
        BytesScannedCutoffPerQuery: 100 * 1024 ** 3,
        EngineVersion: { SelectedEngineVersion: 'Athena engine version 3' },
        ResultConfiguration: {
          EncryptionConfiguration: { EncryptionOption: 'SSE_KMS', KmsKey: Match.anyValue() },
          OutputLocation: Match.anyValue(),
        },
      },
    });
  });

  it('declares a Glue table for every schema table', () => {
    template.resourceCountIs('AWS::Glue::Table', allTables.length);
  });

  it('defines raw tables as Parquet with date partition projection', () => {
    template.hasResourceProperties('AWS::Glue::Table', {
      DatabaseName: 'customer360_raw',
      TableInput: {
        Name: 'mysql_orders',
        TableType: 'EXTERNAL_TABLE',
        PartitionKeys: [{ Name: 'ingest_date', Type: 'date', Comment: Match.anyValue() }],
        Parameters: Match.objectLike({
          classification: 'parquet',
          'projection.enabled': 'true',
          'projection.ingest_date.type': 'date',
          'projection.ingest_date.format': 'yyyy-MM-dd',
          'projection.ingest_date.range': '2020-01-01,NOW',
          'storage.location.template': {
            'Fn::Join': [
              '',
              [
                's3://',
                { Ref: Match.stringLikeRegexp('RawBucket') },
                // biome-ignore lint/suspicious/noTemplateCurlyInString: Athena's projection placeholder, not JS
                '/mysql/orders/ingest_date=${ingest_date}/',
              ],
            ],
          },
        }),
        StorageDescriptor: Match.objectLike({
          InputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
          SerdeInfo: Match.objectLike({
            SerializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe',
          }),
          Columns: rawMysqlOrders.columns.map((c) => ({
            Name: c.name,
            Type: c.type,
            Comment: Match.anyValue(),
          })),
        }),
      },
    });
  });

  it('puts stage tables in the stage bucket, partitioned by run date and an injected run id', () => {
    template.hasResourceProperties('AWS::Glue::Table', {
      DatabaseName: 'customer360_stage',
      TableInput: Match.objectLike({
        Name: stageOrders.name,
        PartitionKeys: [
          Match.objectLike({ Name: 'run_date', Type: 'date' }),
          Match.objectLike({ Name: 'run_id', Type: 'string' }),
        ],
        // Injected: Athena refuses a query that does not name the run, so nothing reads an unpublished one.
        Parameters: Match.objectLike({
          'projection.run_id.type': 'injected',
          'projection.run_date.type': 'date',
          'storage.location.template': {
            'Fn::Join': [
              '',
              [
                's3://',
                { Ref: Match.stringLikeRegexp('StageBucket') },
                // biome-ignore lint/suspicious/noTemplateCurlyInString: Athena's template syntax, not JavaScript's
                '/orders/run_date=${run_date}/run_id=${run_id}/',
              ],
            ],
          },
        }),
        StorageDescriptor: Match.objectLike({
          Location: {
            'Fn::Join': ['', ['s3://', { Ref: Match.stringLikeRegexp('StageBucket') }, '/orders/']],
          },
        }),
      }),
    });
  });
});

describe('DataCatalog grants', () => {
  const stack = new Stack(new App(), 'Grants');
  const storage = new DataLakeStorage(stack, 'Storage');
  const catalog = new DataCatalog(stack, 'Catalog', {
    storage,
    tables: [rawMysqlOrders],
    databasePrefix: 'shop',
  });
  const role = new Role(stack, 'Reader', { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
  catalog.grantQuery(role, ['analytics']);
  const template = Template.fromStack(stack);

  it('scopes Athena actions to the workgroup and Glue reads to the granted zone', () => {
    const policies = template.findResources('AWS::IAM::Policy');
    const statements = Object.values(policies).flatMap((p) => p.Properties.PolicyDocument.Statement);
    const athena = statements.find((s) => [s.Action].flat().includes('athena:StartQueryExecution'));
    expect(JSON.stringify(athena.Resource)).toContain(':workgroup/shop-pipeline');
    const glue = statements.find((s) => [s.Action].flat().includes('glue:GetTable'));
    const glueResources = JSON.stringify(glue.Resource);
    expect(glueResources).toContain(':table/shop_analytics/*');
    expect(glueResources).not.toContain('shop_raw');
  });

  it('rejects a database prefix Glue would not accept', () => {
    const other = new Stack(new App(), 'BadPrefix');
    const otherStorage = new DataLakeStorage(other, 'Storage');
    expect(
      () =>
        new DataCatalog(other, 'Catalog', { storage: otherStorage, tables: [], databasePrefix: 'My-Lake' }),
    ).toThrow('databasePrefix must be lowercase letters, digits and underscores, got "My-Lake"');
  });

  it('rejects a table declared twice', () => {
    const other = new Stack(new App(), 'Twice');
    const otherStorage = new DataLakeStorage(other, 'Storage');
    expect(
      () =>
        new DataCatalog(other, 'Catalog', {
          storage: otherStorage,
          tables: [rawMysqlOrders, rawMysqlOrders],
        }),
    ).toThrow('Table raw.mysql_orders is declared twice');
  });
});
