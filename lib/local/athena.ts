import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { ObjectStore } from '../models/parquet.js';
import type { LakeStore } from '../pipeline/queries.js';
import {
  dashboardViewStatement,
  dashboardViews,
  latestViewStatement,
  latestViewTables,
  NO_PUBLISHED_RUN,
} from '../pipeline/views.js';
import { sqlString } from '../schema/derive.js';
import { allTables } from '../schema/tables.js';
import type { TableSchema, Zone } from '../schema/types.js';
import { scratchDir, swapInto } from './lake.js';
import { registerTable } from './sql-runner.js';
import { writeFileAtomically } from './state.js';

/**
 * Locally, a zone's bucket is the folder `<lake>/<zone>` and its Glue database is the DuckDB schema
 * of the same name, so the statements prepared for Athena run on DuckDB unchanged.
 */
export const LOCAL_NAMES: Readonly<Record<Zone, string>> = {
  raw: 'raw',
  stage: 'stage',
  analytics: 'analytics',
};

/** The lake folder as the preparation step's object store. */
export function folderLakeStore(lakeRoot: string): LakeStore {
  return {
    async deletePrefix(bucket, prefix) {
      const dir = join(lakeRoot, bucket, prefix);
      let count = 0;
      try {
        // Files, as S3 counts objects: a folder is not one.
        count = readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).length;
      } catch {
        return 0;
      }
      rmSync(dir, { recursive: true, force: true });
      return count;
    },
  };
}

/** The lake folder as the Fit models Lambda's object store: a bucket is `<lake>/<bucket>`. */
export function folderObjectStore(lakeRoot: string): ObjectStore {
  const lake = folderLakeStore(lakeRoot);
  return {
    async list(bucket, prefix) {
      const root = join(lakeRoot, bucket);
      let entries: string[];
      try {
        entries = readdirSync(join(root, prefix), { recursive: true }) as string[];
      } catch {
        return [];
      }
      return entries.map((e) => relative(root, join(root, prefix, e))).sort();
    },
    async get(bucket, key) {
      return new Uint8Array(readFileSync(join(lakeRoot, bucket, key)));
    },
    async put(bucket, key, body) {
      // Renamed into place: a reader never sees half a file.
      const path = join(lakeRoot, bucket, key);
      mkdirSync(dirname(path), { recursive: true });
      const temporary = `${path}.${process.pid}.tmp`;
      writeFileSync(temporary, body);
      renameSync(temporary, path);
    },
    deletePrefix: (bucket, prefix) => lake.deletePrefix(bucket, prefix),
  };
}

/** An Athena error as Step Functions names it, so Retry and Catch match it by name locally too. */
export class AthenaTaskError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

interface StoredResult {
  readonly columns: readonly string[];
  readonly rows: readonly (readonly (string | null)[])[];
}

const VIEW_DIR = '_views';

/**
 * Athena on DuckDB, for the local run of the state machine: `StartQueryExecution` (.sync) runs the
 * statement at once and `GetQueryResults` returns the rows in Athena's shape. It understands the
 * statements the pipeline prepares: UNLOAD to a lake location, CREATE OR REPLACE VIEW (kept as a file
 * beside the zone, so a later process sees it as Glue would), and plain queries.
 */
export class LocalAthena {
  private readonly results = new Map<string, StoredResult>();
  private catalogQueue: Promise<unknown> = Promise.resolve();

  /**
   * @param connection the DuckDB connection to run on, or a function giving the one for the calling
   *   task: each concurrent task needs its own (DuckDB's pending results are per connection).
   */
  constructor(
    connection: DuckDBConnection | (() => DuckDBConnection),
    private readonly lakeRoot: string,
    private readonly tables: readonly TableSchema[] = allTables,
  ) {
    this.connection = typeof connection === 'function' ? connection : () => connection;
  }

  private readonly connection: () => DuckDBConnection;

  /** Catalog changes one at a time: concurrent DDL on one DuckDB catalog can conflict. */
  private serially<T>(work: () => Promise<T>): Promise<T> {
    const next = this.catalogQueue.then(work, work);
    this.catalogQueue = next.catch(() => undefined);
    return next;
  }

  async startQueryExecution(queryString: string): Promise<{ QueryExecutionId: string; State: 'SUCCEEDED' }> {
    const id = randomUUID();
    const sql = queryString.trim();
    const unload = /^UNLOAD\s*\(([\s\S]*)\)\s*TO\s*'([^']+)'\s*WITH\s*\(([\s\S]*)\)\s*$/i.exec(sql);
    const view = /^CREATE\s+OR\s+REPLACE\s+VIEW\s+([a-z0-9_]+)\.([a-z0-9_]+)\s+AS\s+([\s\S]*)$/i.exec(sql);
    try {
      if (unload) {
        await this.unload(unload[1] ?? '', unload[2] ?? '');
        this.results.set(id, { columns: [], rows: [] });
      } else if (view) {
        const [, schema = '', name = '', body = ''] = view;
        await this.serially(() =>
          this.connection().run(`CREATE OR REPLACE VIEW ${schema}.${name} AS ${body}`),
        );
        // Replaced whole, as Glue replaces a view: a kill never leaves half a definition.
        writeFileAtomically(join(this.lakeRoot, schema, VIEW_DIR, `${name}.sql`), `${body}\n`);
        this.results.set(id, { columns: [], rows: [] });
      } else {
        const reader = await this.connection().runAndReadAll(sql);
        const columns = reader.columnNames();
        const rows = reader.getRowsJson().map((row) => row.map((v) => (v === null ? null : String(v))));
        this.results.set(id, { columns, rows });
      }
    } catch (error) {
      if (error instanceof AthenaTaskError) throw error;
      // What Athena reports for a query that fails: the task fails with the engine's message.
      throw new AthenaTaskError('States.TaskFailed', `Athena query failed: ${(error as Error).message}`);
    }
    return { QueryExecutionId: id, State: 'SUCCEEDED' };
  }

  /** Athena's GetQueryResults shape: a header row, then data rows of VarCharValue cells. */
  getQueryResults(queryExecutionId: string) {
    const result = this.results.get(queryExecutionId);
    if (!result) throw new AthenaTaskError('Athena.InvalidRequestException', `No query ${queryExecutionId}`);
    const toRow = (cells: readonly (string | null)[]) => ({
      Data: cells.map((cell) => (cell === null ? {} : { VarCharValue: cell })),
    });
    return { ResultSet: { Rows: [toRow(result.columns), ...result.rows.map(toRow)] } };
  }

  private async unload(select: string, location: string): Promise<void> {
    const match = /^s3:\/\/([^/]+)\/(.+?)\/?$/.exec(location);
    const zone = match?.[1] as Zone | undefined;
    const key = `${match?.[2] ?? ''}/`;
    const table = this.tables.find((t) => t.zone === zone && key.startsWith(t.location));
    if (!match || !zone || !table)
      throw new AthenaTaskError('States.TaskFailed', `Unknown UNLOAD location ${location}`);
    const dir = join(this.lakeRoot, zone, key);
    if (readdirSafe(dir).length > 0) {
      throw new AthenaTaskError('States.TaskFailed', `UNLOAD location ${location} is not empty`);
    }
    // Written in scratch space and renamed into place: a process killed mid-write leaves no file that
    // a reader would take for data.
    const scratch = scratchDir(this.lakeRoot, zone);
    try {
      await this.connection().run(
        `COPY (${select}) TO ${sqlString(join(scratch, 'part-0.parquet'))} (FORMAT parquet, COMPRESSION snappy)`,
      );
      swapInto(scratch, dir);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
    await this.serially(() => registerTable(this.connection(), this.lakeRoot, table));
  }
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Re-creates the views published by earlier local runs (the `latest` views), as Glue keeps them. */
export async function registerPublishedViews(
  connection: DuckDBConnection,
  lakeRoot: string,
): Promise<string[]> {
  const created: string[] = [];
  for (const zone of Object.values(LOCAL_NAMES)) {
    const dir = join(lakeRoot, zone, VIEW_DIR);
    for (const file of readdirSafe(dir).filter((f) => f.endsWith('.sql'))) {
      const name = file.slice(0, -4);
      await connection.run(
        `CREATE OR REPLACE VIEW ${zone}.${name} AS ${readFileSync(join(dir, file), 'utf8')}`,
      );
      created.push(`${zone}.${name}`);
    }
  }
  return created;
}

/**
 * What the stack's views custom resource does in the cloud: an empty `_latest` view for every analytics
 * table no run has published yet, then every `dashboard_*` view over them, so a fresh workspace answers
 * dashboard queries with no rows rather than an error. Call after registerPublishedViews; published
 * views are left alone. Only the DuckDB catalog changes: the `_views` files stay the published record.
 */
export async function ensureLocalViews(connection: DuckDBConnection): Promise<void> {
  const existing = await connection.runAndReadAll(
    "SELECT view_name FROM duckdb_views() WHERE schema_name = 'analytics' AND NOT internal",
  );
  const views = new Set(existing.getRowObjectsJson().map((r) => String(r.view_name)));
  for (const table of latestViewTables) {
    if (views.has(`${table.name}_latest`)) continue;
    await connection.run(latestViewStatement(table, LOCAL_NAMES.analytics, NO_PUBLISHED_RUN));
  }
  for (const view of dashboardViews) await connection.run(dashboardViewStatement(view, LOCAL_NAMES));
}
