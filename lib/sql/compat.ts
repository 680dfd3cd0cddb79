/**
 * The DuckDB side of the Athena compatibility layer.
 *
 * `sql/` is written in Athena engine v3 (Trino) SQL, kept to what DuckDB also runs. Where the two
 * differ only in a function's name or argument types, a macro below gives DuckDB the Athena name,
 * so the files run unchanged on both. Each macro is a deliberate, reviewed exception; anything not
 * here must be written in the common subset (see docs/sql.md for the rules and known traps).
 *
 * Hash-derived ids need only be stable on one engine, not equal across engines.
 */
export const DUCKDB_COMPAT_MACROS: readonly {
  readonly name: string;
  readonly sql: string;
  readonly why: string;
}[] = [
  {
    name: 'regexp_like',
    sql: 'CREATE OR REPLACE MACRO regexp_like(s, pattern) AS regexp_matches(s, pattern)',
    why: 'Trino spells the regular-expression predicate regexp_like.',
  },
  {
    name: 'approx_percentile',
    sql: 'CREATE OR REPLACE MACRO approx_percentile(x, q) AS quantile_cont(x, q)',
    why: "Trino's approximate percentile; DuckDB computes it exactly, which is at least as good.",
  },
  {
    name: 'day_of_week',
    sql: 'CREATE OR REPLACE MACRO day_of_week(d) AS isodow(d)',
    why: "ISO day of week (Monday = 1) under Trino's name.",
  },
  {
    name: 'to_utf8',
    sql: 'CREATE OR REPLACE MACRO to_utf8(s) AS s',
    why: 'Trino hashes varbinary; DuckDB hashes text directly.',
  },
  {
    name: 'xxhash64',
    sql: 'CREATE OR REPLACE MACRO xxhash64(s) AS hash(s)',
    why: 'A 64-bit hash for deterministic surrogate ids.',
  },
  {
    name: 'from_big_endian_64',
    sql: 'CREATE OR REPLACE MACRO from_big_endian_64(h) AS CAST(h % 9223372036854775807 AS BIGINT)',
    why: 'Turns the 64-bit hash into a signed bigint, as Trino does with the varbinary hash.',
  },
  {
    name: 'json_format',
    sql: 'CREATE OR REPLACE MACRO json_format(j) AS CAST(j AS VARCHAR)',
    why: 'Serializes a JSON value to text.',
  },
  {
    name: 'date_parse',
    sql: 'CREATE OR REPLACE MACRO date_parse(s, format) AS strptime(s, format)',
    why: 'Parses text with a format. Only the specifiers both engines read alike (%Y %m %d %H %y %b) are portable.',
  },
  {
    name: 'from_iso8601_timestamp',
    // DuckDB's cast also takes a space for the T and other near-ISO text that Athena refuses; only
    // text in ISO-8601 shape is cast (zone-less text is read in the engine's zone: UTC, as on Athena).
    sql: String.raw`CREATE OR REPLACE MACRO from_iso8601_timestamp(s) AS CASE WHEN regexp_matches(s, '^\d{4}-\d{2}-\d{2}(T\d{2}(:\d{2}(:\d{2}(\.\d{1,9})?)?)?)?(Z|[+-]\d{2}(:?\d{2})?)?$') THEN CAST(s AS TIMESTAMPTZ) END`,
    why: 'Parses an ISO-8601 timestamp with its zone; text of any other shape is not a timestamp.',
  },
];
