import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { sqlString } from '../schema/derive.js';
import { allTables } from '../schema/tables.js';
import type { TableSchema, Zone } from '../schema/types.js';

/**
 * The SQL models under `sql/`, one SELECT per file:
 * - `staging/` and `intermediate/` are ephemeral: inlined as CTEs into the models that use them;
 * - `stage/` materializes into the stage-zone table of the same name, `marts/` into the analytics zone.
 * A file never says how it is materialized; the runner (UNLOAD/CTAS on Athena, COPY on DuckDB) does.
 *
 * Parameters are written `{{ name }}` and rendered as typed SQL literals (see `renderParameters`).
 * Tables of the lake are referenced as `raw.<table>`, `stage.<table>` and `analytics.<table>`; on
 * Athena the runner maps these to the configured Glue databases.
 */
export const SQL_ROOT = join(import.meta.dirname, '..', '..', 'sql');

export type ModelKind = 'ephemeral' | 'table';

export interface SqlModel {
  readonly name: string;
  readonly file: string;
  readonly kind: ModelKind;
  readonly sql: string;
  /** The table a `table` model writes. */
  readonly target?: TableSchema;
  /** Ephemeral models referenced by this one (directly). */
  readonly uses: readonly string[];
  /** Lake tables read, as `zone.table`. */
  readonly reads: readonly string[];
}

const FOLDERS: readonly { folder: string; kind: ModelKind; zone?: Zone }[] = [
  { folder: 'staging', kind: 'ephemeral' },
  { folder: 'intermediate', kind: 'ephemeral' },
  { folder: 'stage', kind: 'table', zone: 'stage' },
  { folder: 'marts', kind: 'table', zone: 'analytics' },
];

/** Removes comments and string literals, so identifier scans do not match inside them. */
export function stripCommentsAndStrings(sql: string): string {
  return sql
    .replace(/--[^\n]*/g, ' ')
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/'(?:[^']|'')*'/g, "''");
}

export function loadModels(
  root = SQL_ROOT,
  tables: readonly TableSchema[] = allTables,
): Map<string, SqlModel> {
  const files: { name: string; file: string; kind: ModelKind; zone?: Zone; sql: string }[] = [];
  for (const { folder, kind, zone } of FOLDERS) {
    let entries: string[];
    try {
      entries = readdirSync(join(root, folder)).filter((f) => f.endsWith('.sql'));
    } catch {
      continue;
    }
    for (const entry of entries.sort()) {
      const file = join(root, folder, entry);
      files.push({ name: basename(entry, '.sql'), file, kind, zone, sql: readFileSync(file, 'utf8') });
    }
  }
  const ephemeralNames = new Set(files.filter((f) => f.kind === 'ephemeral').map((f) => f.name));
  const models = new Map<string, SqlModel>();
  for (const f of files) {
    if (models.has(f.name)) throw new Error(`Two SQL models are named ${f.name}`);
    const code = stripCommentsAndStrings(f.sql);
    const identifiers = new Set(code.match(/\b[a-z_][a-z0-9_]*\b/gi) ?? []);
    const uses = [...identifiers].filter((id) => ephemeralNames.has(id) && id !== f.name).sort();
    const reads = [...new Set(code.match(/\b(raw|stage|analytics)\.[a-z_][a-z0-9_]*\b/gi) ?? [])].sort();
    let target: TableSchema | undefined;
    if (f.kind === 'table') {
      target = tables.find((t) => t.zone === f.zone && t.name === f.name);
      if (!target)
        throw new Error(`SQL model ${f.file} has no ${f.zone} table named ${f.name} in lib/schema`);
    }
    models.set(f.name, { name: f.name, file: f.file, kind: f.kind, sql: f.sql, target, uses, reads });
  }
  return models;
}

/** The ephemeral models a model needs, dependencies first. */
export function ephemeralClosure(model: SqlModel, models: ReadonlyMap<string, SqlModel>): SqlModel[] {
  const ordered: SqlModel[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, path: string[]) => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting')
      throw new Error(`SQL models form a cycle: ${[...path, name].join(' -> ')}`);
    const dependency = models.get(name);
    if (!dependency) throw new Error(`SQL model ${name} is not defined`);
    state.set(name, 'visiting');
    for (const used of dependency.uses) visit(used, [...path, name]);
    state.set(name, 'done');
    ordered.push(dependency);
  };
  for (const used of model.uses) visit(used, [model.name]);
  return ordered;
}

const trimSql = (sql: string): string => sql.trim().replace(/;\s*$/, '');

/**
 * One self-contained SELECT: the ephemeral models it uses become CTEs around the model's own query.
 * Nested WITH clauses inside parentheses are valid in both Trino and DuckDB, so no file is rewritten.
 */
export function compileModel(model: SqlModel, models: ReadonlyMap<string, SqlModel>): string {
  const closure = ephemeralClosure(model, models);
  if (closure.length === 0) return trimSql(model.sql);
  const ctes = closure.map((m) => `${m.name} AS (\n${trimSql(m.sql)}\n)`).join(',\n');
  return `WITH ${ctes}\nSELECT * FROM (\n${trimSql(model.sql)}\n) AS ${model.name}`;
}

export type ParameterValue = string | number | boolean | readonly string[] | { readonly date: string };

/** Renders `{{ name }}` placeholders as SQL literals; unknown names and unsafe values are errors. */
export function renderParameters(sql: string, parameters: Readonly<Record<string, ParameterValue>>): string {
  return sql.replace(/\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}/gi, (_match, name: string) => {
    const value = parameters[name];
    if (value === undefined) throw new Error(`SQL parameter {{ ${name} }} has no value`);
    return literal(name, value);
  });
}

function literal(name: string, value: ParameterValue): string {
  if (typeof value === 'number') {
    if (!Number.isFinite(value))
      throw new Error(`SQL parameter ${name} must be a finite number, got ${value}`);
    return Number.isInteger(value) ? String(value) : `DOUBLE '${value}'`;
  }
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  if (typeof value === 'string') return sqlString(value);
  if (Array.isArray(value)) {
    // An empty IN list is not valid SQL; a NULL matches nothing, which is what an empty list means.
    return value.length === 0 ? 'NULL' : value.map((v) => sqlString(String(v))).join(', ');
  }
  const { date } = value as { date: string };
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date))
    throw new Error(`SQL parameter ${name} must be yyyy-MM-dd, got ${date}`);
  return `DATE '${date}'`;
}

/**
 * Replaces the logical zone names (`raw.`, `stage.`, `analytics.`) with real database names,
 * outside string literals and comments. For Athena, where the Glue databases carry a prefix.
 */
export function qualifyZones(sql: string, databases: Readonly<Record<Zone, string>>): string {
  const parts = sql.split(/('(?:[^']|'')*'|--[^\n]*|\/\*[\s\S]*?\*\/)/);
  return parts
    .map((part, index) =>
      index % 2 === 1
        ? part
        : part.replace(
            /\b(raw|stage|analytics)\.(?=[a-z_"])/gi,
            (_m, zone: string) => `${databases[zone.toLowerCase() as Zone]}.`,
          ),
    )
    .join('');
}

/**
 * The table models that write a zone, in an order where every model comes after the models whose
 * tables it reads (a mart may read another mart, as customer_360 does).
 */
export function tableModelsInOrder(models: ReadonlyMap<string, SqlModel>, zone: Zone): SqlModel[] {
  const inZone = [...models.values()].filter((m) => m.kind === 'table' && m.target?.zone === zone);
  const byTable = new Map(inZone.map((m) => [`${zone}.${m.name}`, m]));
  const ordered: SqlModel[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (model: SqlModel, path: string[]) => {
    if (state.get(model.name) === 'done') return;
    if (state.get(model.name) === 'visiting') {
      throw new Error(`SQL models form a cycle: ${[...path, model.name].join(' -> ')}`);
    }
    state.set(model.name, 'visiting');
    const reads = new Set([...model.reads, ...ephemeralClosure(model, models).flatMap((m) => m.reads)]);
    for (const table of reads) {
      const upstream = byTable.get(table.toLowerCase());
      if (upstream && upstream !== model) visit(upstream, [...path, model.name]);
    }
    state.set(model.name, 'done');
    ordered.push(model);
  };
  for (const model of inZone) visit(model, []);
  return ordered;
}
