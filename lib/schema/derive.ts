import { z } from 'zod';
import type { DashboardView } from './dashboards.js';
import type { Column, ColumnType, TableSchema } from './types.js';

const DECIMAL = /^decimal\((\d+),(\d+)\)$/;

function decimalParts(type: ColumnType): { precision: number; scale: number } | undefined {
  const match = DECIMAL.exec(type);
  if (!match) return undefined;
  return { precision: Number(match[1]), scale: Number(match[2]) };
}

// ---------------------------------------------------------------- Glue

export interface GlueColumn {
  readonly name: string;
  readonly type: string;
  readonly comment: string;
}

/** Glue/Athena column definitions; schema type names are Glue's own, so this is a copy. */
export function glueColumns(columns: readonly Column[]): GlueColumn[] {
  return columns.map((c) => ({ name: c.name, type: c.type, comment: c.description.slice(0, 255) }));
}

// ---------------------------------------------------------------- DuckDB

export function duckdbType(type: ColumnType): string {
  const decimal = decimalParts(type);
  if (decimal) return `DECIMAL(${decimal.precision},${decimal.scale})`;
  switch (type) {
    case 'string':
      return 'VARCHAR';
    case 'boolean':
      return 'BOOLEAN';
    case 'int':
      return 'INTEGER';
    case 'bigint':
      return 'BIGINT';
    case 'double':
      return 'DOUBLE';
    case 'date':
      return 'DATE';
    case 'timestamp':
      return 'TIMESTAMP';
    default:
      throw new Error(`No DuckDB type for schema type "${type}"`);
  }
}

/** A SQL identifier, double-quoted. */
export const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`;

/** A SQL string literal, single-quoted (the same on Trino and DuckDB). */
export const sqlString = (value: string): string => `'${value.replaceAll("'", "''")}'`;

/** `CREATE TABLE` for a table's data columns (partition keys live in the path, not the file). */
export function duckdbCreateTable(table: TableSchema, qualifiedName = table.name): string {
  const columns = table.columns.map((c) => `  ${quoteIdent(c.name)} ${duckdbType(c.type)}`).join(',\n');
  return `CREATE TABLE ${qualifiedName} (\n${columns}\n)`;
}

/** The Athena (Trino) spelling of a schema type, for casts in queries. */
export function trinoType(type: ColumnType): string {
  if (type === 'string') return 'varchar';
  if (type === 'int') return 'integer';
  return type;
}

function conformingSelect(table: TableSchema, query: string, typeName: (type: ColumnType) => string): string {
  const casts = table.columns
    .map((c) => `  CAST(${quoteIdent(c.name)} AS ${typeName(c.type)}) AS ${quoteIdent(c.name)}`)
    .join(',\n');
  return `SELECT\n${casts}\nFROM (\n${query}\n) AS source_rows`;
}

/**
 * Wraps a query so that its output has exactly the table's columns, in order, with the declared
 * types: the writers' guarantee that Parquet files match the Glue definition.
 */
export function duckdbConformingSelect(table: TableSchema, query: string): string {
  return conformingSelect(table, query, duckdbType);
}

/** The same guarantee for Athena's UNLOAD. */
export function trinoConformingSelect(table: TableSchema, query: string): string {
  return conformingSelect(table, query, trinoType);
}

// ---------------------------------------------------------------- zod

const isoDate = z.iso.date();
const isoTimestamp = z.union([z.iso.datetime({ local: true, offset: true }), z.date()]);

function zodFor(column: Column): z.ZodType {
  const decimal = decimalParts(column.type);
  let base: z.ZodType;
  if (decimal) {
    const limit = 10 ** (decimal.precision - decimal.scale);
    base = z.number().gt(-limit).lt(limit);
  } else {
    switch (column.type) {
      case 'string':
        base = z.string();
        break;
      case 'boolean':
        base = z.boolean();
        break;
      case 'int':
        base = z
          .number()
          .int()
          .min(-(2 ** 31))
          .max(2 ** 31 - 1);
        break;
      case 'bigint':
        base = z.union([z.number().int(), z.bigint()]);
        break;
      case 'double':
        base = z.number();
        break;
      case 'date':
        base = isoDate;
        break;
      case 'timestamp':
        base = isoTimestamp;
        break;
      default:
        throw new Error(`No validator for schema type "${column.type}"`);
    }
  }
  return column.nullable === false ? base : base.nullable().optional();
}

/** A strict zod validator for one row of the table (data columns and partition keys). */
export function rowValidator(table: TableSchema, { withPartitions = false } = {}) {
  const columns = withPartitions ? [...table.columns, ...table.partitionKeys] : table.columns;
  return z.strictObject(Object.fromEntries(columns.map((c) => [c.name, zodFor(c)])));
}

// ---------------------------------------------------------------- Parquet

export interface ParquetColumnInfo {
  readonly name: string;
  readonly type: string | null;
  readonly converted_type: string | null;
  readonly logical_type: string | null;
  readonly precision?: number | null;
  readonly scale?: number | null;
}

/**
 * The Glue type that Athena would read a Parquet leaf column as, from its physical and logical type.
 * Deliberately independent of the schema module, so comparing the two catches drift.
 */
export function glueTypeFromParquet(column: ParquetColumnInfo): string {
  const logical = column.logical_type ?? '';
  const converted = column.converted_type ?? '';
  if (converted === 'DECIMAL' || logical.startsWith('DecimalType')) {
    const precision = column.precision ?? Number(/precision=(\d+)/.exec(logical)?.[1]);
    const scale = column.scale ?? Number(/scale=(\d+)/.exec(logical)?.[1]);
    return `decimal(${precision},${scale})`;
  }
  if (converted === 'UTF8' || logical.startsWith('StringType')) return 'string';
  if (converted === 'DATE' || logical.startsWith('DateType')) return 'date';
  if (converted.startsWith('TIMESTAMP') || logical.startsWith('TimestampType')) return 'timestamp';
  switch (column.type) {
    case 'BOOLEAN':
      return 'boolean';
    case 'INT32':
      return converted === 'INT_8' || converted === 'INT_16' ? 'smallint' : 'int';
    case 'INT64':
      return 'bigint';
    case 'DOUBLE':
      return 'double';
    case 'FLOAT':
      return 'float';
    case 'BYTE_ARRAY':
      return 'binary';
    default:
      throw new Error(
        `No Glue type for Parquet column ${column.name} (${column.type}, ${converted}, ${logical})`,
      );
  }
}

// ---------------------------------------------------------------- docs

/** Markdown reference of every table; `npm run docs:schema` writes it to docs/schema.md. */
export function schemaMarkdown(
  tables: readonly TableSchema[],
  views: { readonly bi: readonly string[]; readonly dashboards: readonly DashboardView[] } = {
    bi: [],
    dashboards: [],
  },
): string {
  const lines = [
    '# Table reference',
    '',
    '<!-- Generated from lib/schema/tables.ts by `npm run docs:schema`; do not edit by hand. -->',
    '',
    'Personal data (PII) columns exist only in the raw and stage zones.',
    '',
  ];
  for (const table of tables) {
    lines.push(`## ${table.zone}.${table.name}`, '', table.description, '');
    lines.push(
      `Location: \`s3://<${table.zone} bucket>/${table.location}${table.partitionKeys
        .map((p) => `${p.name}=${p.type === 'date' ? 'YYYY-MM-DD' : '<run id>'}/`)
        .join('')}\``,
      '',
    );
    lines.push('| column | type | PII | description |', '| --- | --- | --- | --- |');
    for (const c of table.columns) {
      lines.push(
        `| ${c.name} | ${c.type} | ${c.pii ? 'yes' : ''} | ${c.description.replaceAll('|', '\\|')} |`,
      );
    }
    for (const p of table.partitionKeys) {
      lines.push(`| ${p.name} (partition) | ${p.type} |  | ${p.description} |`);
    }
    lines.push('');
  }
  if (views.bi.length > 0 || views.dashboards.length > 0) {
    lines.push(
      '# Views for BI tools',
      '',
      'Each analytics table has a `<table>_latest` view over the run publishing last pointed it at (empty',
      'until the first publish). These are the BI contract, with the `dashboard_*` views built on them:',
      '',
      ...views.bi.map((name) => `- \`analytics.${name}_latest\``),
      '',
    );
    for (const view of views.dashboards) {
      lines.push(`## analytics.${view.name}`, '', view.description, '', `Grain: ${view.grain}`, '');
      lines.push(`SQL: \`sql/dashboards/${view.name}.sql\``, '');
      lines.push('| column | type | description |', '| --- | --- | --- |');
      for (const c of view.columns) {
        lines.push(`| ${c.name} | ${c.type} | ${c.description.replaceAll('|', '\\|')} |`);
      }
      lines.push('');
    }
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------- rules

/** Personal data stays in the stage zone: a PII column declared in analytics is a bug. */
export function assertNoPersonalDataInAnalytics(tables: readonly TableSchema[]): void {
  const personal = tables
    .filter((t) => t.zone === 'analytics')
    .flatMap((t) => t.columns.filter((c) => c.pii).map((c) => `${t.name}.${c.name}`));
  if (personal.length > 0) {
    throw new Error(`Personal data columns are not allowed in the analytics zone: ${personal.join(', ')}`);
  }
}
