/**
 * The vocabulary of the one schema. Types are named as Glue/Athena name them; every other dialect
 * (DuckDB DDL, zod validators, Parquet) is derived from these names in `derive.ts`.
 */
export type DecimalType = `decimal(${number},${number})`;
export type ColumnType =
  | 'string'
  | 'boolean'
  | 'int'
  | 'bigint'
  | 'double'
  | 'date'
  | 'timestamp'
  | DecimalType;

export interface Column {
  readonly name: string;
  readonly type: ColumnType;
  readonly description: string;
  /**
   * Directly identifies a person (name, email, phone, IP address, birth date). Such columns may
   * exist only in the raw and stage zones; a test rejects them in the analytics zone.
   * @default false
   */
  readonly pii?: boolean;
  /**
   * Whether a row may lack a value. Validators enforce it; Parquet columns stay nullable.
   * @default true
   */
  readonly nullable?: boolean;
}

/** A zone is a bucket: raw (immutable copies of sources), stage (conformed), analytics (marts). */
export type Zone = 'raw' | 'stage' | 'analytics';

export interface TableSchema {
  /** Catalog table name, unique within its zone's database. */
  readonly name: string;
  readonly zone: Zone;
  /** Key prefix of the table inside its zone's bucket (and folder of the local lake), ending in `/`. */
  readonly location: string;
  readonly description: string;
  readonly columns: readonly Column[];
  /**
   * Hive-style partition keys, in path order: `yyyy-MM-dd` dates (Athena date projection) or the run id
   * (injected projection: every query must name it, so nothing reads a run it did not choose).
   */
  readonly partitionKeys: readonly Column[];
}

export const ingestDate: Column = {
  name: 'ingest_date',
  type: 'date',
  description: 'Date the extract ran (UTC); one partition per extraction day.',
  nullable: false,
};

export const runDate: Column = {
  name: 'run_date',
  type: 'date',
  description: 'Pipeline run date the rows were computed as of.',
  nullable: false,
};

export const runId: Column = {
  name: 'run_id',
  type: 'string',
  description:
    'The execution that wrote the rows (write-audit-publish): each run writes its own location; only publishing points readers at one.',
  nullable: false,
};

/** Partition keys of every stage and analytics table: `run_date=D/run_id=R/`. */
export const runPartitionKeys: readonly Column[] = [runDate, runId];
