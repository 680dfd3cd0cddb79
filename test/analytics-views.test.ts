import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AthenaClient,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  StartQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import {
  EntityNotFoundException,
  GetTableCommand,
  GlueClient,
  GlueServiceException,
} from '@aws-sdk/client-glue';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { latestViewStatement, NO_PUBLISHED_RUN } from '../lib/pipeline/views.js';
import type { DashboardView } from '../lib/schema/dashboards.js';
import { clv } from '../lib/schema/marts/models.js';
import { rfm } from '../lib/schema/marts/rfm.js';
import type { TableSchema } from '../lib/schema/types.js';
import { ensureViews } from '../lib/views/ensure-views.js';
import { statementForRun, type ViewsPlan, viewsPlan } from '../lib/views/plan.js';

const databases = { raw: 'c360_raw', stage: 'c360_stage', analytics: 'c360_analytics' } as const;
const WORKGROUP = 'c360-pipeline';

// Two dashboard views of the test's own, so these tests do not depend on the real SQL files.
const sqlRoot = mkdtempSync(join(tmpdir(), 'c360-views-'));
mkdirSync(join(sqlRoot, 'dashboards'));
writeFileSync(
  join(sqlRoot, 'dashboards', 'dashboard_first.sql'),
  'select rfm_segment, count(*) as customers\nfrom analytics.rfm_latest\ngroup by 1;\n',
);
writeFileSync(
  join(sqlRoot, 'dashboards', 'dashboard_second.sql'),
  'select * from analytics.dashboard_first\n',
);
const testDashboards: DashboardView[] = ['dashboard_first', 'dashboard_second'].map((name) => ({
  name,
  description: 'test view',
  grain: 'test',
  columns: [],
}));

const tables: TableSchema[] = [rfm, clv];
const plan: ViewsPlan = viewsPlan({
  databases,
  workGroup: WORKGROUP,
  latestTables: tables,
  dashboardViews: testDashboards,
  sqlRoot,
});

/** The view's columns as Glue would hold them for a view created from the current declaration. */
const declaredColumns = (table: TableSchema) =>
  [...table.columns, ...table.partitionKeys].map((c) => ({ Name: c.name, Type: c.type }));

const athena = mockClient(AthenaClient);
const glue = mockClient(GlueClient);
let started: string[] = [];
const noSleep = async () => {};

/** Every Athena statement succeeds at once unless a test says otherwise. */
beforeEach(() => {
  athena.reset();
  glue.reset();
  started = [];
  athena.on(StartQueryExecutionCommand).callsFake((input: { QueryString: string }) => {
    started.push(input.QueryString);
    return { QueryExecutionId: `q${started.length}` };
  });
  athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: 'SUCCEEDED' } } });
});

const notFound = () => new EntityNotFoundException({ message: 'Entity Not Found', $metadata: {} });

describe('ensureViews: the _latest views', () => {
  it('creates a missing _latest view empty (NO_PUBLISHED_RUN), as the pipeline would render it', async () => {
    glue.on(GetTableCommand).rejects(notFound());

    const result = await ensureViews(plan, { athena: athena as never, glue: glue as never, sleep: noSleep });

    // Expected: the lead's renderer, called directly for the empty run; the plan's placeholders must
    // fill in to exactly that.
    expect(started.slice(0, 2).sort()).toEqual(
      tables.map((t) => latestViewStatement(t, 'c360_analytics', NO_PUBLISHED_RUN)).sort(),
    );
    expect(started[0]).toContain(`WHERE run_date = DATE '1970-01-01' AND run_id = 'no-published-run'`);
    expect(result.latest).toEqual({ rfm_latest: 'created', clv_latest: 'created' });
    expect(result.publishedRun).toBeUndefined();
    // Run in the project's workgroup, in the analytics database.
    expect(athena.commandCalls(StartQueryExecutionCommand)[0]?.args[0].input).toMatchObject({
      WorkGroup: WORKGROUP,
      QueryExecutionContext: { Catalog: 'AwsDataCatalog', Database: 'c360_analytics' },
    });
  });

  it('leaves an existing view with the declared columns alone (publishing owns it)', async () => {
    glue.on(GetTableCommand, { Name: 'rfm_latest' }).resolves({
      Table: { Name: 'rfm_latest', StorageDescriptor: { Columns: declaredColumns(rfm) } },
    });
    // Athena may space a decimal's arguments; the same type either way.
    glue.on(GetTableCommand, { Name: 'clv_latest' }).resolves({
      Table: {
        Name: 'clv_latest',
        StorageDescriptor: {
          Columns: declaredColumns(clv).map((c) => ({ ...c, Type: c.Type.replace(',', ', ').toUpperCase() })),
        },
      },
    });

    const result = await ensureViews(plan, { athena: athena as never, glue: glue as never, sleep: noSleep });

    expect(result.latest).toEqual({ rfm_latest: 'unchanged', clv_latest: 'unchanged' });
    expect(started.filter((s) => s.includes('_latest AS'))).toEqual([]);
    // No publish lookup either: nothing needed re-pointing.
    expect(athena.commandCalls(GetQueryResultsCommand)).toHaveLength(0);
  });

  it('re-creates a view missing a declared column, pointed at the latest publish in published_runs', async () => {
    // As if the view predates the segment column.
    const withoutSegment = declaredColumns(rfm).filter((c) => c.Name !== 'segment');
    glue.on(GetTableCommand, { Name: 'rfm_latest' }).resolves({
      Table: { Name: 'v', StorageDescriptor: { Columns: withoutSegment } },
    });
    // A type change too: Athena calls such a view stale and refuses to query it.
    glue.on(GetTableCommand, { Name: 'clv_latest' }).resolves({
      Table: {
        Name: 'v',
        StorageDescriptor: {
          Columns: declaredColumns(clv).map((c) => (c.Name === 'p_alive' ? { ...c, Type: 'float' } : c)),
        },
      },
    });
    athena.on(GetQueryResultsCommand).resolves({
      ResultSet: {
        Rows: [
          { Data: [{ VarCharValue: 'run_date' }, { VarCharValue: 'run_id' }] },
          { Data: [{ VarCharValue: '2026-03-01' }, { VarCharValue: 'daily-2026-03-01-a1b2' }] },
        ],
      },
    });

    const result = await ensureViews(plan, {
      athena: athena as never,
      glue: glue as never,
      sleep: noSleep,
      concurrency: 2,
    });

    const run = { runDate: '2026-03-01', runId: 'daily-2026-03-01-a1b2' };
    expect(result.latest).toEqual({ rfm_latest: 'recreated', clv_latest: 'recreated' });
    expect(result.publishedRun).toEqual(run);
    // One lookup for both views, then each view rendered for that run (expected: the renderer itself).
    const lookups = started.filter((s) => s.includes('published_runs'));
    expect(lookups).toEqual([
      'SELECT CAST(run_date AS varchar) AS run_date, run_id FROM c360_analytics.published_runs ORDER BY published_at DESC, run_date DESC LIMIT 1',
    ]);
    expect(started.filter((s) => s.includes('_latest AS')).sort()).toEqual(
      tables.map((t) => latestViewStatement(t, 'c360_analytics', run)).sort(),
    );
  });

  it('re-creates an outdated view empty when nothing was ever published', async () => {
    glue
      .on(GetTableCommand, { Name: 'rfm_latest' })
      .resolves({ Table: { Name: 'v', StorageDescriptor: { Columns: [] } } });
    glue.on(GetTableCommand, { Name: 'clv_latest' }).resolves({
      Table: { Name: 'v', StorageDescriptor: { Columns: declaredColumns(clv) } },
    });
    // Only the header row: published_runs is empty.
    athena.on(GetQueryResultsCommand).resolves({
      ResultSet: { Rows: [{ Data: [{ VarCharValue: 'run_date' }, { VarCharValue: 'run_id' }] }] },
    });

    const result = await ensureViews(plan, { athena: athena as never, glue: glue as never, sleep: noSleep });

    expect(result.latest).toEqual({ rfm_latest: 'recreated', clv_latest: 'unchanged' });
    expect(result.publishedRun).toBeUndefined();
    expect(started).toContain(latestViewStatement(rfm, 'c360_analytics', NO_PUBLISHED_RUN));
  });

  it('fails on any Glue error other than not found, without creating anything', async () => {
    glue.on(GetTableCommand).rejects(
      new GlueServiceException({
        name: 'AccessDeniedException',
        message: 'User is not authorized to perform: glue:GetTable',
        $fault: 'client',
        $metadata: {},
      }),
    );

    await expect(
      ensureViews(plan, { athena: athena as never, glue: glue as never, sleep: noSleep }),
    ).rejects.toThrow('User is not authorized to perform: glue:GetTable');
    expect(started).toEqual([]);
  });
});

describe('ensureViews: the dashboard views', () => {
  it('replaces every dashboard view, in order, after all the _latest views, even when those exist', async () => {
    glue.on(GetTableCommand, { Name: 'rfm_latest' }).rejects(notFound());
    glue.on(GetTableCommand, { Name: 'clv_latest' }).resolves({
      Table: { Name: 'v', StorageDescriptor: { Columns: declaredColumns(clv) } },
    });

    const result = await ensureViews(plan, { athena: athena as never, glue: glue as never, sleep: noSleep });

    expect(started).toEqual([
      latestViewStatement(rfm, 'c360_analytics', NO_PUBLISHED_RUN),
      // The SQL file's SELECT, its zone mapped to the deployment's database, trailing `;` dropped.
      'CREATE OR REPLACE VIEW c360_analytics.dashboard_first AS\nselect rfm_segment, count(*) as customers\nfrom c360_analytics.rfm_latest\ngroup by 1',
      'CREATE OR REPLACE VIEW c360_analytics.dashboard_second AS\nselect * from c360_analytics.dashboard_first',
    ]);
    expect(result.dashboards).toEqual(['dashboard_first', 'dashboard_second']);
  });

  it('fails naming the view and Athena’s reason, and creates nothing after it', async () => {
    glue.on(GetTableCommand).resolves({ Table: { Name: 'v', StorageDescriptor: { Columns: [] } } });
    glue.on(GetTableCommand, { Name: 'rfm_latest' }).resolves({
      Table: { Name: 'v', StorageDescriptor: { Columns: declaredColumns(rfm) } },
    });
    glue.on(GetTableCommand, { Name: 'clv_latest' }).resolves({
      Table: { Name: 'v', StorageDescriptor: { Columns: declaredColumns(clv) } },
    });
    athena.on(GetQueryExecutionCommand, { QueryExecutionId: 'q1' }).resolves({
      QueryExecution: {
        Status: { State: 'FAILED', StateChangeReason: "line 2:8: Column 'rfm_segmnt' cannot be resolved" },
      },
    });

    await expect(
      ensureViews(plan, { athena: athena as never, glue: glue as never, sleep: noSleep }),
    ).rejects.toThrow(
      "Could not create view c360_analytics.dashboard_first: Athena query q1 FAILED: line 2:8: Column 'rfm_segmnt' cannot be resolved",
    );
    expect(started).toHaveLength(1);
  });
});

describe('ensureViews: waiting for Athena', () => {
  it('polls with growing pauses until the statement ends', async () => {
    glue.on(GetTableCommand).rejects(notFound());
    const single: ViewsPlan = { ...plan, latestViews: plan.latestViews.slice(0, 1), dashboardViews: [] };
    athena
      .on(GetQueryExecutionCommand)
      .resolvesOnce({ QueryExecution: { Status: { State: 'QUEUED' } } })
      .resolvesOnce({ QueryExecution: { Status: { State: 'RUNNING' } } })
      .resolvesOnce({ QueryExecution: { Status: { State: 'RUNNING' } } })
      .resolves({ QueryExecution: { Status: { State: 'SUCCEEDED' } } });
    const pauses: number[] = [];

    await ensureViews(single, {
      athena: athena as never,
      glue: glue as never,
      sleep: async (ms) => {
        pauses.push(ms);
      },
    });

    // Three unfinished answers, three pauses, doubling from 250 ms.
    expect(pauses).toEqual([250, 500, 1000]);
    expect(athena.commandCalls(GetQueryExecutionCommand)).toHaveLength(4);
  });

  it('gives up on a statement that does not end, naming the view', async () => {
    glue.on(GetTableCommand).rejects(notFound());
    const single: ViewsPlan = { ...plan, latestViews: plan.latestViews.slice(0, 1), dashboardViews: [] };
    athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: 'RUNNING' } } });

    await expect(
      ensureViews(single, {
        athena: athena as never,
        glue: glue as never,
        sleep: noSleep,
        statementTimeoutMs: 1000,
      }),
    ).rejects.toThrow(
      /^Could not create view c360_analytics\.rfm_latest: Athena query q1 still RUNNING after 1000 ms$/,
    );
    // Pauses 250 + 500 + 1000 ms reach the limit: 4 looks, then it stops.
    expect(athena.commandCalls(GetQueryExecutionCommand)).toHaveLength(4);
  });
});

describe('statementForRun', () => {
  const spec = plan.latestViews[0];
  if (!spec) throw new Error('no spec');

  it('refuses a run that is not a date and an execution name, before it reaches SQL', () => {
    expect(() => statementForRun(spec, { runDate: '2026-03-01', runId: "x' OR 1=1 --" })).toThrow(
      /rfm_latest: run id must be an execution name/,
    );
    expect(() => statementForRun(spec, { runDate: 'yesterday', runId: 'abc' })).toThrow(
      /rfm_latest: run date must be yyyy-MM-dd, got "yesterday"/,
    );
  });
});

describe('the ensure-views Lambda handler', () => {
  const properties = { ServiceToken: 'arn:aws:lambda:us-east-1:111122223333:function:framework', ...plan };

  it('on Create, ensures the views and answers with counts only (the response must stay under 4 KB)', async () => {
    const { handler } = await import('../lambdas/ensure-views/index.js');
    glue.on(GetTableCommand, { Name: 'rfm_latest' }).rejects(notFound());
    glue.on(GetTableCommand, { Name: 'clv_latest' }).resolves({
      Table: { Name: 'v', StorageDescriptor: { Columns: declaredColumns(clv) } },
    });

    const response = await handler({ RequestType: 'Create', ResourceProperties: properties });

    expect(response).toEqual({
      PhysicalResourceId: 'c360_analytics.views',
      Data: { LatestCreated: 1, LatestRecreated: 0, LatestUnchanged: 1, DashboardViews: 2 },
    });
    expect(started).toHaveLength(3);
  });

  it('on Delete, leaves every view in place and calls nothing', async () => {
    const { handler } = await import('../lambdas/ensure-views/index.js');

    const response = await handler({
      RequestType: 'Delete',
      PhysicalResourceId: 'c360_analytics.views',
      ResourceProperties: properties,
    });

    expect(response).toEqual({ PhysicalResourceId: 'c360_analytics.views' });
    expect(glue.calls()).toHaveLength(0);
    expect(athena.calls()).toHaveLength(0);
  });

  it('rejects properties that are not a views plan, naming the field', async () => {
    const { handler } = await import('../lambdas/ensure-views/index.js');
    const broken = { ...properties, latestViews: [{ ...plan.latestViews[0], view: 'rfm' }] };

    await expect(handler({ RequestType: 'Update', ResourceProperties: broken })).rejects.toThrow(
      /latestViews[\s\S]*expected <table>_latest/,
    );
    expect(athena.calls()).toHaveLength(0);
  });
});
