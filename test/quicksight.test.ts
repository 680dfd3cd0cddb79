import { App, Stack } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { AnalyticsViews } from '../lib/constructs/analytics-views.js';
import { DataCatalog } from '../lib/constructs/data-catalog.js';
import { DataLakeStorage } from '../lib/constructs/data-lake-storage.js';
import { QUICKSIGHT_OWNER_ACTIONS, QuickSightDashboards } from '../lib/constructs/quicksight-dashboards.js';
import { allTables } from '../lib/schema/tables.js';
import { synthStack } from './helpers/stack.js';

const PRINCIPAL = 'arn:aws:quicksight:us-east-1:111122223333:group/default/customer360-analysts';

/** An ARN as the template builds it, as text in cdk-nag's notation (`<AWS::Region>`, `<Bucket.Arn>`). */
function arnText(value: unknown): string {
  if (typeof value === 'string') return value;
  const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (join) return join[1].map(arnText).join(join[0]);
  const ref = (value as { Ref?: string }).Ref;
  if (ref) return `<${ref}>`;
  const getAtt = (value as { 'Fn::GetAtt'?: [string, string] })['Fn::GetAtt'];
  if (getAtt) return `<${getAtt[0]}.${getAtt[1]}>`;
  throw new Error(`Not an ARN: ${JSON.stringify(value)}`);
}

function roleStatements(template: Template, rolePrefix: string) {
  const policies = Object.values(
    template.findResources('AWS::IAM::Policy', {
      Properties: { Roles: [{ Ref: Match.stringLikeRegexp(`^${rolePrefix}`) }] },
    }),
  ) as {
    Properties: { PolicyDocument: { Statement: { Action: string | string[]; Resource: unknown }[] } };
  }[];
  expect(policies).toHaveLength(1);
  return (policies[0]?.Properties.PolicyDocument.Statement ?? []).map((s) => ({
    actions: [s.Action].flat(),
    resources: [s.Resource].flat().map(arnText),
  }));
}

const quickSightTypes = (template: Template) =>
  Object.values(template.toJSON().Resources as Record<string, { Type: string }>)
    .map((r) => r.Type)
    .filter((t) => t.startsWith('AWS::QuickSight::'));

describe('QuickSight disabled (the default)', () => {
  const { template } = synthStack();

  it('synthesizes no QuickSight resource and no QuickSight output', () => {
    expect(quickSightTypes(template)).toEqual([]);
    expect(Object.keys(template.findOutputs('*')).filter((o) => o.startsWith('QuickSight'))).toEqual([]);
    template.resourcePropertiesCountIs(
      'AWS::IAM::Role',
      {
        AssumeRolePolicyDocument: {
          Statement: [Match.objectLike({ Principal: { Service: 'quicksight.amazonaws.com' } })],
        },
      },
      0,
    );
  });

  it('still creates the views with the stack (Power BI and the Athena console read them)', () => {
    template.resourceCountIs('Custom::AnalyticsViews', 1);
  });
});

describe('QuickSight enabled', () => {
  const { template } = synthStack({ quicksight: { enabled: true, principalArn: PRINCIPAL } });
  const owner = (actions: readonly string[]) => [{ Principal: PRINCIPAL, Actions: [...actions] }];
  const [viewsResource] = Object.keys(template.findResources('Custom::AnalyticsViews'));

  it('has an Athena data source on the project workgroup, running as its own role, owned by the principal', () => {
    template.resourceCountIs('AWS::QuickSight::DataSource', 1);
    template.hasResourceProperties('AWS::QuickSight::DataSource', {
      AwsAccountId: { Ref: 'AWS::AccountId' },
      DataSourceId: 'customer360-athena',
      Type: 'ATHENA',
      DataSourceParameters: {
        AthenaParameters: {
          WorkGroup: 'customer360-pipeline',
          RoleArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^QuickSightDataSourceRole'), 'Arn'] },
        },
      },
      Permissions: owner(QUICKSIGHT_OWNER_ACTIONS.dataSource),
    });
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'quicksight.amazonaws.com' } },
        ],
      },
    });
  });

  it('has a direct-query data set per view, with the declared columns, after the views exist', () => {
    const dataSets = template.findResources('AWS::QuickSight::DataSet') as Record<
      string,
      { DependsOn?: string[]; Properties: Record<string, unknown> }
    >;
    const views = Object.values(dataSets).map((d) => {
      const table = (d.Properties.PhysicalTableMap as { view: { RelationalTable: Record<string, unknown> } })
        .view.RelationalTable;
      expect(d.Properties.ImportMode).toBe('DIRECT_QUERY');
      expect(table.Schema).toBe('customer360_analytics');
      expect(table.Catalog).toBe('AwsDataCatalog');
      expect(arnText(table.DataSourceArn)).toMatch(/^<QuickSightDataSource[0-9A-F]{8}\.Arn>$/);
      expect(d.Properties.Permissions).toEqual(owner(QUICKSIGHT_OWNER_ACTIONS.dataSet));
      expect(d.DependsOn).toContain(viewsResource);
      return table.Name;
    });
    expect(views.sort()).toEqual(
      [
        'customer_360_latest',
        'dashboard_at_risk_customers',
        'dashboard_churn_distribution',
        'dashboard_clv_distribution',
        'dashboard_engagement_by_channel',
        'dashboard_fraud_signals',
        'dashboard_kmeans_profiles',
        'dashboard_revenue_by_month',
        'dashboard_rfm_grid',
        'dashboard_segment_overview',
        'dashboard_top_products',
        'data_quality_latest',
        'segment_summaries_latest',
      ].sort(),
    );
    // Columns as declared in lib/schema/dashboards.ts, typed by hand: signal and signal_group are
    // strings, the two counts bigints.
    template.hasResourceProperties('AWS::QuickSight::DataSet', {
      DataSetId: 'customer360-fraud-signals',
      PhysicalTableMap: {
        view: {
          RelationalTable: {
            Name: 'dashboard_fraud_signals',
            DataSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^QuickSightDataSource'), 'Arn'] },
            InputColumns: [
              { Name: 'signal', Type: 'STRING' },
              { Name: 'signal_group', Type: 'STRING' },
              { Name: 'customers', Type: 'INTEGER' },
              { Name: 'flagged_customers', Type: 'INTEGER' },
            ],
          },
        },
      },
    });
    // A _latest view: double -> DECIMAL, boolean -> BIT, and its run_date/run_id partition columns.
    template.hasResourceProperties('AWS::QuickSight::DataSet', {
      PhysicalTableMap: {
        view: {
          RelationalTable: {
            Name: 'data_quality_latest',
            InputColumns: [
              { Name: 'check_name', Type: 'STRING' },
              { Name: 'subject', Type: 'STRING' },
              { Name: 'metric_value', Type: 'DECIMAL' },
              { Name: 'threshold', Type: 'DECIMAL' },
              { Name: 'is_passed', Type: 'BIT' },
              { Name: 'is_blocking', Type: 'BIT' },
              { Name: 'detail', Type: 'STRING' },
              { Name: 'run_date', Type: 'DATETIME' },
              { Name: 'run_id', Type: 'STRING' },
            ],
          },
        },
      },
    });
  });

  it('has an analysis and a dashboard from one definition, each owned by the principal', () => {
    template.hasResourceProperties('AWS::QuickSight::Analysis', {
      AnalysisId: 'customer360-analysis',
      Permissions: owner(QUICKSIGHT_OWNER_ACTIONS.analysis),
    });
    template.hasResourceProperties('AWS::QuickSight::Dashboard', {
      DashboardId: 'customer360-dashboard',
      Permissions: owner(QUICKSIGHT_OWNER_ACTIONS.dashboard),
    });
    const [analysis] = Object.values(template.findResources('AWS::QuickSight::Analysis'));
    const [dashboard] = Object.values(template.findResources('AWS::QuickSight::Dashboard'));
    expect(dashboard?.Properties.Definition).toEqual(analysis?.Properties.Definition);
    // Every data set the definition declares is one of this stack's data sets, by its ARN.
    const declarations = (analysis?.Properties.Definition.DataSetIdentifierDeclarations ?? []) as {
      DataSetArn: unknown;
    }[];
    const declared = declarations.map((d) => arnText(d.DataSetArn));
    const dataSetIds = Object.keys(template.findResources('AWS::QuickSight::DataSet'));
    expect(declared.sort()).toEqual(dataSetIds.map((id) => `<${id}.Arn>`).sort());
  });

  it('gives the data source role only the workgroup, the analytics zone, the results location and the lake key', () => {
    const statements = roleStatements(template, 'QuickSightDataSourceRole');
    const resources = statements.flatMap((s) => s.resources);
    expect(resources).not.toContain('*');
    // Athena: this workgroup, and the data catalog's metadata.
    expect(
      statements.filter((s) => s.actions.some((a) => a.startsWith('athena:'))).flatMap((s) => s.resources),
    ).toEqual(
      expect.arrayContaining([
        'arn:<AWS::Partition>:athena:<AWS::Region>:<AWS::AccountId>:workgroup/customer360-pipeline',
        'arn:<AWS::Partition>:athena:<AWS::Region>:<AWS::AccountId>:datacatalog/AwsDataCatalog',
      ]),
    );
    for (const r of statements
      .filter((s) => s.actions.some((a) => a.startsWith('athena:')))
      .flatMap((s) => s.resources)) {
      expect(r).toMatch(/:(workgroup\/customer360-pipeline|datacatalog\/AwsDataCatalog)$/);
    }
    // Glue: reads only, in the analytics database only.
    const glue = statements.filter((s) => s.actions.some((a) => a.startsWith('glue:')));
    expect(glue.flatMap((s) => s.actions).every((a) => /^glue:Get/.test(a))).toBe(true);
    expect(glue.flatMap((s) => s.resources)).toEqual([
      'arn:<AWS::Partition>:glue:<AWS::Region>:<AWS::AccountId>:catalog',
      'arn:<AWS::Partition>:glue:<AWS::Region>:<AWS::AccountId>:database/customer360_analytics',
      'arn:<AWS::Partition>:glue:<AWS::Region>:<AWS::AccountId>:table/customer360_analytics/*',
    ]);
    // S3: the analytics bucket (read) and the Athena results bucket (read, write) only.
    const s3 = statements.filter((s) => s.actions.some((a) => a.startsWith('s3:')));
    for (const r of s3.flatMap((s) => s.resources)) {
      expect(r).toMatch(/^<Storage(AnalyticsBucket|AthenaResultsBucket)[0-9A-F]{8}\.Arn>(\/\*)?$/);
    }
    const writes = s3.filter((s) => s.actions.some((a) => /^s3:(Put|Delete)/.test(a)));
    expect(writes.flatMap((s) => s.resources)).toEqual([
      expect.stringMatching(/^<StorageAthenaResultsBucket/),
    ]);
    expect(s3.flatMap((s) => s.actions).some((a) => a.startsWith('s3:Delete'))).toBe(false);
    // KMS: the lake key.
    for (const r of statements
      .filter((s) => s.actions.some((a) => a.startsWith('kms:')))
      .flatMap((s) => s.resources)) {
      expect(r).toMatch(/^<StorageKey[0-9A-F]{8}\.Arn>$/);
    }
  });

  it('outputs the dashboard id and its URL', () => {
    template.hasOutput('QuickSightDashboardId', { Value: 'customer360-dashboard' });
    template.hasOutput('QuickSightDashboardUrl', {
      Value: {
        'Fn::Join': [
          '',
          [
            'https://',
            { Ref: 'AWS::Region' },
            '.quicksight.aws.amazon.com/sn/dashboards/customer360-dashboard',
          ],
        ],
      },
    });
  });
});

describe('QuickSightDashboards props', () => {
  const stack = new Stack(new App(), 'Props');
  const storage = new DataLakeStorage(stack, 'Storage');
  const catalog = new DataCatalog(stack, 'Catalog', { storage, tables: allTables });
  const views = new AnalyticsViews(stack, 'Views', { catalog, storage, dashboardViews: [] });

  it('rejects a principal that is not a QuickSight user or group ARN, up front', () => {
    expect(
      () =>
        new QuickSightDashboards(stack, 'Iam', {
          catalog,
          storage,
          views,
          principalArn: 'arn:aws:iam::111122223333:role/analyst',
        }),
    ).toThrow(
      /principalArn must be a QuickSight user or group ARN .* got "arn:aws:iam::111122223333:role\/analyst"/,
    );
  });

  it('rejects an id prefix QuickSight ids cannot carry', () => {
    expect(
      () =>
        new QuickSightDashboards(stack, 'Prefix', {
          catalog,
          storage,
          views,
          principalArn: PRINCIPAL,
          idPrefix: 'my_lake',
        }),
    ).toThrow(/idPrefix must be letters, digits and dashes/);
  });
});
