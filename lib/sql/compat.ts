// xxHash64 (seed 0) over the hex digits of the input's bytes, in DuckDB SQL. Arithmetic is modulo
// 2^64 through UHUGEINT (DuckDB raises on UBIGINT overflow); lanes are read little-endian. The
// steps follow the xxHash specification: 32-byte stripes into four accumulators (inputs of 32 bytes
// or more), then 8-byte lanes, one 4-byte lane, single bytes, and the final avalanche.
const P1 = '11400714785074694791';
const P2 = '14029467366897019727';
const P3 = '1609587929392839161';
const P4 = '9650029242287828579';
const P5 = '2870177450012600261';
// the low 64 bits of a UHUGEINT (a modulo by 2^64 is two orders of magnitude slower)
const LOW_64 = 'CAST(18446744073709551615 AS UHUGEINT)';
// A macro's parameters are substituted, not evaluated once: a parameter used twice doubles its
// argument's expression, and nested steps grow it exponentially (seconds to bind one call). Small
// steps may duplicate (rotl, xorshift); the input's hex digits and the hash before the avalanche are
// bound once with `list_transform([value], lambda v: ...)[1]`, and each step that may repeat or not
// happen is a list_reduce over its lanes (the hash passes through it once).
const XXH64_HELPERS: readonly [string, string, string][] = [
  [
    'xxh64_mul',
    `xxh64_mul(a, b) AS CAST((CAST(a AS UHUGEINT) * CAST(b AS UHUGEINT)) & ${LOW_64} AS UBIGINT)`,
    'Multiplication modulo 2^64.',
  ],
  [
    'xxh64_add',
    `xxh64_add(a, b) AS CAST((CAST(a AS UHUGEINT) + CAST(b AS UHUGEINT)) & ${LOW_64} AS UBIGINT)`,
    'Addition modulo 2^64.',
  ],
  [
    'xxh64_rotl',
    `xxh64_rotl(x, r) AS CAST(((CAST(x AS UHUGEINT) << CAST(r AS UHUGEINT)) & ${LOW_64}) | (CAST(x AS UHUGEINT) >> CAST(64 - r AS UHUGEINT)) AS UBIGINT)`,
    'Rotation left of a 64-bit word.',
  ],
  [
    'xxh64_xorshift',
    'xxh64_xorshift(h, s) AS xor(h, h >> CAST(s AS UBIGINT))',
    'h XOR (h >> s), a step of the avalanche.',
  ],
  [
    'xxh64_word',
    // the bytes at pos .. pos + width - 1, last first: little-endian
    "xxh64_word(hx, pos, width) AS CAST('0x' || CASE WHEN width = 8 THEN substr(hx, 2 * pos + 15, 2) || substr(hx, 2 * pos + 13, 2) || substr(hx, 2 * pos + 11, 2) || substr(hx, 2 * pos + 9, 2) ELSE '' END || CASE WHEN width >= 4 THEN substr(hx, 2 * pos + 7, 2) || substr(hx, 2 * pos + 5, 2) || substr(hx, 2 * pos + 3, 2) ELSE '' END || substr(hx, 2 * pos + 1, 2) AS UBIGINT)",
    'The little-endian word of 8, 4 or 1 bytes at byte pos of a hex string.',
  ],
  [
    'xxh64_round',
    `xxh64_round(acc, lane) AS xxh64_mul(xxh64_rotl(xxh64_add(acc, xxh64_mul(lane, ${P2})), 31), ${P1})`,
    'The xxHash64 round of one accumulator and one 8-byte lane.',
  ],
  [
    'xxh64_merge',
    `xxh64_merge(h, v) AS xxh64_add(xxh64_mul(xor(h, xxh64_round(0, v)), ${P1}), ${P4})`,
    'Merges one stripe accumulator into the hash.',
  ],
  [
    'xxh64_stripes',
    `xxh64_stripes(hx, n) AS CASE WHEN n < 32 THEN CAST(${P5} AS UBIGINT) ELSE list_transform([list_reduce(
      list_prepend(
        [CAST(6983438078262162902 AS UBIGINT), CAST(${P2} AS UBIGINT), CAST(0 AS UBIGINT), CAST(7046029288634856825 AS UBIGINT)],
        list_transform(range(n // 32), lambda s: [
          xxh64_word(hx, 32 * s, 8), xxh64_word(hx, 32 * s + 8, 8), xxh64_word(hx, 32 * s + 16, 8), xxh64_word(hx, 32 * s + 24, 8)
        ])
      ),
      lambda acc, lanes: [
        xxh64_round(acc[1], lanes[1]), xxh64_round(acc[2], lanes[2]), xxh64_round(acc[3], lanes[3]), xxh64_round(acc[4], lanes[4])
      ]
    )], lambda v: xxh64_merge(xxh64_merge(xxh64_merge(xxh64_merge(
      xxh64_add(xxh64_add(xxh64_add(xxh64_rotl(v[1], 1), xxh64_rotl(v[2], 7)), xxh64_rotl(v[3], 12)), xxh64_rotl(v[4], 18)),
      v[1]), v[2]), v[3]), v[4]))[1] END`,
    'The 32-byte stripes: four accumulators (seed 0: P1 + P2, P2, 0, -P1) folded into one; P5 for shorter inputs.',
  ],
  [
    'xxh64_lanes8',
    `xxh64_lanes8(h, hx, n) AS list_reduce(
      list_prepend(h, list_transform(range(n % 32 // 8), lambda i: xxh64_word(hx, n // 32 * 32 + 8 * i, 8))),
      lambda acc, lane: xxh64_add(xxh64_mul(xxh64_rotl(xor(acc, xxh64_round(0, lane)), 27), ${P1}), ${P4}))`,
    'The 8-byte lanes after the last stripe.',
  ],
  [
    'xxh64_lane4',
    `xxh64_lane4(h, hx, n) AS list_reduce(
      list_prepend(h, list_transform(range(n % 8 // 4), lambda i: xxh64_word(hx, n // 8 * 8, 4))),
      lambda acc, lane: xxh64_add(xxh64_mul(xxh64_rotl(xor(acc, xxh64_mul(lane, ${P1})), 23), ${P2}), ${P3}))`,
    'The 4-byte lane after the 8-byte lanes, if 4 bytes remain (a list of 0 or 1 lane).',
  ],
  [
    'xxh64_bytes',
    `xxh64_bytes(h, hx, n) AS list_reduce(
      list_prepend(h, list_transform(range(n % 4), lambda i: xxh64_word(hx, n // 4 * 4 + i, 1))),
      lambda acc, b: xxh64_mul(xxh64_rotl(xor(acc, xxh64_mul(b, ${P5})), 11), ${P1}))`,
    'The last 0-3 bytes, one at a time.',
  ],
  [
    'xxh64_avalanche',
    `xxh64_avalanche(h) AS list_transform([h], lambda a: xxh64_xorshift(xxh64_mul(xxh64_xorshift(xxh64_mul(xxh64_xorshift(a, 33), ${P2}), 29), ${P3}), 32))[1]`,
    'The final mixing of all bits.',
  ],
  [
    'xxh64_digest',
    'xxh64_digest(hx, n) AS xxh64_avalanche(xxh64_bytes(xxh64_lane4(xxh64_lanes8(xxh64_add(xxh64_stripes(hx, n), n), hx, n), hx, n), hx, n))',
    'xxHash64 of n bytes given as hex digits (hx must be a bound variable).',
  ],
];
const XXH64_MACROS = XXH64_HELPERS.map(([name, body, why]) => ({
  name,
  sql: `CREATE OR REPLACE MACRO ${body}`,
  why: `${why} A step of xxhash64 below.`,
}));

/**
 * The DuckDB side of the Athena compatibility layer.
 *
 * `sql/` is written in Athena engine v3 (Trino) SQL, kept to what DuckDB also runs. Where the two
 * differ only in a function's name or argument types, a macro below gives DuckDB the Athena name,
 * so the files run unchanged on both. Each macro is a deliberate, reviewed exception; anything not
 * here must be written in the common subset (see docs/sql.md for the rules and known traps).
 *
 * Hashed customer ids must be equal on both engines (a customer keeps one id whichever engine
 * built it), so `xxhash64` below is xxHash64 itself, written in DuckDB SQL (see XXH64_MACROS).
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
    sql: 'CREATE OR REPLACE MACRO to_utf8(s) AS encode(s)',
    why: "Trino's text to UTF-8 bytes (varbinary; a BLOB on DuckDB), the input of xxhash64.",
  },
  ...XXH64_MACROS,
  {
    name: 'xxhash64',
    sql: 'CREATE OR REPLACE MACRO xxhash64(b) AS list_transform([hex(b)], lambda hx: xxh64_digest(hx, length(hx) // 2))[1]',
    why: "Trino's xxhash64 of bytes (seed 0). Trino returns the 8 bytes big-endian; this returns them as a UBIGINT, which only from_big_endian_64 below reads.",
  },
  {
    name: 'sha256',
    sql: 'CREATE OR REPLACE MACRO sha256(b) AS unhex(system.main.sha256(b))',
    why: "Trino's sha256 returns the 32 bytes (varbinary) and DuckDB's the hex text: as bytes, `lower(to_hex(sha256(to_utf8(x))))` gives the same hex on both (the erased emails of stage.suppressed_keys).",
  },
  {
    name: 'from_big_endian_64',
    sql: 'CREATE OR REPLACE MACRO from_big_endian_64(h) AS CAST(CAST(h AS HUGEINT) - CASE WHEN h >= 9223372036854775808 THEN 18446744073709551616 ELSE 0 END AS BIGINT)',
    why: "Reads xxhash64's 64 bits as a two's-complement bigint, as Trino reads its 8 big-endian bytes.",
  },
  {
    name: 'bitwise_and',
    sql: 'CREATE OR REPLACE MACRO bitwise_and(x, y) AS x & y',
    why: "Trino's bitwise AND of two bigints.",
  },
  {
    name: 'json_format',
    sql: 'CREATE OR REPLACE MACRO json_format(j) AS CAST(j AS VARCHAR)',
    why: 'Serializes a JSON value to text.',
  },
  {
    name: 'date_parse',
    // The models call it only inside try(), as Athena needs. DuckDB's try() re-evaluates a whole
    // vector row by row, catching one exception per row, as soon as any row throws: with a few bad
    // dates in every vector that was 90 us a row. Yielding null instead keeps vectors whole.
    sql: 'CREATE OR REPLACE MACRO date_parse(s, format) AS try_strptime(s, format)',
    why: 'Parses text with a format. Only the specifiers both engines read alike (%Y %m %d %H %y %b) are portable.',
  },
  {
    name: 'from_iso8601_timestamp',
    // DuckDB's cast also takes a space for the T and other near-ISO text that Athena refuses; only
    // text in ISO-8601 shape is cast (zone-less text is read in the engine's zone: UTC, as on Athena).
    // TRY_CAST, as date_parse uses try_strptime: it is only called inside try() (an impossible date
    // in ISO shape, 2024-02-30, would otherwise send the whole vector down the row-by-row path).
    sql: String.raw`CREATE OR REPLACE MACRO from_iso8601_timestamp(s) AS CASE WHEN regexp_matches(s, '^\d{4}-\d{2}-\d{2}(T\d{2}(:\d{2}(:\d{2}(\.\d{1,9})?)?)?)?(Z|[+-]\d{2}(:?\d{2})?)?$') THEN TRY_CAST(s AS TIMESTAMPTZ) END`,
    why: 'Parses an ISO-8601 timestamp with its zone; text of any other shape is not a timestamp.',
  },
];
