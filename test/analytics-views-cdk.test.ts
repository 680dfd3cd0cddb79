import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { AnalyticsViews } from '../lib/constructs/analytics-views.js';
import { DataCatalog } from '../lib/constructs/data-catalog.js';
import { DataLakeStorage } from '../lib/constructs/data-lake-storage.js';
import { latestViewTables } from '../lib/pipeline/views.js';
import type { DashboardView } from '../lib/schema/dashboards.js';
import { allTables } from '../lib/schema/tables.js';
import { viewsPlan } from '../lib/views/plan.js';

/** A folder with the given dashboard SQL files, so these tests do not depend on the real ones. */
function sqlFolder(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'c360-views-cdk-'));
  mkdirSync(join(root, 'dashboards'));
  for (const [name, sql] of Object.entries(files))
    writeFileSync(join(root, 'dashboards', `${name}.sql`), sql);
  return root;
}

const views = (names: string[]): DashboardView[] =>
  names.map((name) => ({ name, description: 'test', grain: 'test', columns: [] }));

function build(files: Record<string, string>) {
  const stack = new Stack(new App(), 'Test');
  const storage = new DataLakeStorage(stack, 'Storage');
  const catalog = new DataCatalog(stack, 'Catalog', { storage, tables: allTables, databasePrefix: 'shop' });
  const construct = new AnalyticsViews(stack, 'Views', {
    catalog,
    storage,
    dashboardViews: views(Object.keys(files)),
    sqlRoot: sqlFolder(files),
  });
  return { stack, construct, template: Template.fromStack(stack) };
}

/** An ARN as the template builds it (`Fn::Join` of parts and `Ref`s), as text in cdk-nag's notation. */
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

type Statement = { Action: string | string[]; Resource: unknown };

/** The statements of the policy attached to a role whose logical id starts with the prefix. */
function statementsOf(template: Template, rolePrefix: string): { actions: string[]; resources: string[] }[] {
  const policies = Object.values(
    template.findResources('AWS::IAM::Policy', {
      Properties: { Roles: [{ Ref: Match.stringLikeRegexp(`^${rolePrefix}`) }] },
    }),
  ) as { Properties: { PolicyDocument: { Statement: Statement[] } } }[];
  expect(policies).toHaveLength(1);
  return (policies[0]?.Properties.PolicyDocument.Statement ?? []).map((s) => ({
    actions: [s.Action].flat(),
    resources: [s.Resource].flat().map(arnText),
  }));
}

const GLUE = 'arn:<AWS::Partition>:glue:<AWS::Region>:<AWS::AccountId>';

describe('AnalyticsViews', () => {
  const { template, construct } = build({
    dashboard_one: 'select segment, count(*) as customers from analytics.rfm_latest group by 1',
    dashboard_two: 'select * from analytics.dashboard_one',
  });

  it('is a custom resource whose properties carry every statement, so any change re-runs it', () => {
    template.hasResourceProperties('Custom::AnalyticsViews', {
      ServiceToken: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ViewsProviderframeworkonEvent'), 'Arn'] },
      database: 'shop_analytics',
      workGroup: 'shop-pipeline',
      publishedRunsTable: 'published_runs',
      latestViews: Match.arrayWith([
        {
          view: 'rfm_latest',
          columns: Match.arrayWith([
            { name: 'segment', type: 'string' },
            { name: 'run_id', type: 'string' },
          ]),
          statement: Match.stringLikeRegexp(
            "^CREATE OR REPLACE VIEW shop_analytics\\.rfm_latest AS SELECT .* FROM shop_analytics\\.rfm WHERE run_date = DATE '\\{\\{run_date\\}\\}' AND run_id = '\\{\\{run_id\\}\\}'$",
          ),
        },
      ]),
      dashboardViews: [
        {
          view: 'dashboard_one',
          statement:
            'CREATE OR REPLACE VIEW shop_analytics.dashboard_one AS\nselect segment, count(*) as customers from shop_analytics.rfm_latest group by 1',
        },
        {
          view: 'dashboard_two',
          statement:
            'CREATE OR REPLACE VIEW shop_analytics.dashboard_two AS\nselect * from shop_analytics.dashboard_one',
        },
      ],
    });
    // All of them, one _latest view per analytics run table, none forgotten.
    const [resource] = Object.values(template.findResources('Custom::AnalyticsViews')) as {
      Properties: Record<string, unknown>;
    }[];
    expect(resource?.Properties.latestViews).toEqual(construct.plan.latestViews);
    expect(construct.plan.latestViews.map((v) => v.view)).toEqual(
      latestViewTables.map((t) => `${t.name}_latest`),
    );
  });

  it('changes its properties when a dashboard SQL file changes (and only that view’s statement)', () => {
    // The construct passes viewsPlan's result as the properties (checked above).
    const plan = (sql: string) =>
      viewsPlan({
        databases: { raw: 'shop_raw', stage: 'shop_stage', analytics: 'shop_analytics' },
        workGroup: 'shop-pipeline',
        dashboardViews: views(['dashboard_one']),
        sqlRoot: sqlFolder({ dashboard_one: sql }),
      });
    const before = plan('select 1 as a');
    const after = plan('select 2 as a');

    expect(after.latestViews).toEqual(before.latestViews);
    expect(before.dashboardViews[0]?.statement).toMatch(/select 1 as a$/);
    expect(after.dashboardViews[0]?.statement).toMatch(/select 2 as a$/);
  });

  it('runs after the catalog it names only by literal names (database, workgroup, tables)', () => {
    const [resource] = Object.values(template.findResources('Custom::AnalyticsViews')) as {
      DependsOn: string[];
    }[];
    const dependsOn = resource?.DependsOn ?? [];
    const logicalIds = (type: string) => Object.keys(template.findResources(type));
    const [rfmTable] = Object.keys(
      template.findResources('AWS::Glue::Table', {
        Properties: { DatabaseName: 'shop_analytics', TableInput: { Name: 'rfm' } },
      }),
    );
    expect(dependsOn).toEqual(expect.arrayContaining(logicalIds('AWS::Athena::WorkGroup')));
    expect(dependsOn).toEqual(expect.arrayContaining(logicalIds('AWS::Glue::Database')));
    expect(rfmTable).toBeDefined();
    expect(dependsOn).toContain(rfmTable);
  });

  it('runs a traced Node.js 24 function that waits for its statements (10 minutes)', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Role: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ViewsEnsureViewsRole'), 'Arn'] },
      Runtime: 'nodejs24.x',
      Timeout: 600,
      TracingConfig: { Mode: 'Active' },
      LoggingConfig: { LogGroup: { Ref: Match.stringLikeRegexp('^ViewsEnsureViewsLogs') } },
    });
  });

  it('lets the function write only the views, and query only in the workgroup over the analytics zone', () => {
    const statements = statementsOf(template, 'ViewsEnsureViewsRole');
    const writes = statements.filter((s) => s.actions.some((a) => /^glue:(Create|Update|Delete)/.test(a)));
    expect(writes).toEqual([
      {
        actions: ['glue:CreateTable', 'glue:UpdateTable', 'glue:DeleteTable', 'glue:GetTable'],
        resources: [
          `${GLUE}:catalog`,
          `${GLUE}:database/shop_analytics`,
          `${GLUE}:table/shop_analytics/*_latest`,
          `${GLUE}:table/shop_analytics/dashboard_*`,
        ],
      },
    ]);
    const glueResources = statements
      .filter((s) => s.actions.some((a) => a.startsWith('glue:')))
      .flatMap((s) => s.resources);
    expect(glueResources.filter((r) => r.includes(':table/') || r.includes(':database/'))).toEqual(
      expect.arrayContaining([`${GLUE}:database/shop_analytics`, `${GLUE}:table/shop_analytics/*`]),
    );
    // Nothing of the raw or stage zones.
    expect(glueResources.some((r) => /shop_(raw|stage)/.test(r))).toBe(false);
    expect(statements.flatMap((s) => s.resources).some((r) => /StorageRaw|StorageStage/.test(r))).toBe(false);
    expect(statements.filter((s) => s.actions.some((a) => a.startsWith('athena:')))).toEqual([
      {
        actions: [
          'athena:StartQueryExecution',
          'athena:GetQueryExecution',
          'athena:GetQueryResults',
          'athena:StopQueryExecution',
          'athena:GetWorkGroup',
        ],
        resources: ['arn:<AWS::Partition>:athena:<AWS::Region>:<AWS::AccountId>:workgroup/shop-pipeline'],
      },
      {
        actions: ['athena:GetDataCatalog'],
        resources: ['arn:<AWS::Partition>:athena:<AWS::Region>:<AWS::AccountId>:datacatalog/AwsDataCatalog'],
      },
    ]);
    // A bare `*` only for X-Ray, which has no resource-level permissions.
    expect(statements.filter((s) => s.resources.includes('*'))).toEqual([
      { actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], resources: ['*'] },
    ]);
  });

  it('lets the provider framework invoke only the views function', () => {
    const invokes = statementsOf(template, 'ViewsProviderRole').filter((s) =>
      s.actions.includes('lambda:InvokeFunction'),
    );
    expect(invokes).toEqual([
      {
        actions: ['lambda:InvokeFunction'],
        resources: [
          expect.stringMatching(/^<ViewsEnsureViews[0-9A-F]{8}\.Arn>$/),
          expect.stringMatching(/^<ViewsEnsureViews[0-9A-F]{8}\.Arn>:\*$/),
        ],
      },
    ]);
  });

  it('fails synthesis when a dashboard view has no SQL file', () => {
    const stack = new Stack(new App(), 'Missing');
    const storage = new DataLakeStorage(stack, 'Storage');
    const catalog = new DataCatalog(stack, 'Catalog', { storage, tables: allTables });
    expect(
      () =>
        new AnalyticsViews(stack, 'Views', {
          catalog,
          storage,
          dashboardViews: views(['dashboard_nowhere']),
          sqlRoot: sqlFolder({}),
        }),
    ).toThrow(/dashboard_nowhere\.sql/);
  });
});
