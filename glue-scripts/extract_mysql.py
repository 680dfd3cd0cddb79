"""Glue job: incremental extraction of the MySQL source tables into the raw zone.

For each configured table (contract: lib/sources/mysql-schema.sql) the job reads, through the Glue
JDBC connection, the rows whose (`updated_at`, primary key) is greater than the stored watermark and
whose `updated_at` is at most an upper bound taken from the database clock minus a safety lag, so a
row committed a moment late with an earlier timestamp is taken by the next run rather than skipped.
Rows land as Parquet in `s3://<raw bucket>/mysql/<table>/ingest_date=YYYY-MM-DD/` with exactly the
columns of the raw table in lib/schema/tables.ts (dates and times as the text MySQL gives, so zero
dates survive to be quarantined at stage).

The rows are taken in chunks of at most `--chunk_rows` rows (default 1,000,000) in (`updated_at`,
key) order. Each chunk ends at a known position (the last of its rows in that order, found on the
index), is read by Spark in parallel slices of the first primary key column, published, and then
commits its end as the watermark in `s3://<raw bucket>/_state/mysql/<table>.json` (see
c360_glue.publish). A large first load that runs out of time therefore keeps every chunk it
committed, and the next run starts with the chunk after the last committed one; a chunk that had
started to publish is undone by c360_glue.recover, so no row lands twice.

Glue job bookmarks are disabled for this job: a bookmark tracks what a previous run read, not what
it wrote, is opaque, and cannot express the composite (`updated_at`, key) ordering or the safety lag.

Hard deletes leave no row to read. Every `--key_scan_every_days` days (default 1; 0 never) the job
also lands every current primary key of each table in `s3://<raw bucket>/mysql/keys/ingest_date=.../`
(the raw table `mysql_keys`), stamped with the time the scan started, after the table's rows have been
read; stage drops a key that the latest scan lacks when its latest version was read before that scan
(lib/local/extract-mysql.ts, scanKeys, gives the argument). A scan is published like a chunk, with its
own state object `_state/mysql/<table>.keys.json`.

Arguments: --raw_bucket, --connection_name, --secret_id (read when the connection does not resolve
the credentials), --mysql_database, --mysql_tables (comma separated), --safety_lag_seconds,
--require_tls (true/false); optional --chunk_rows and --read_partitions (parallel JDBC reads per
chunk; default: Spark's default parallelism, one per executor core) and --key_scan_every_days.
"""

import json
import re
import sys
from datetime import datetime, timedelta

from c360_glue import (
    S3Store,
    ingest_date_for,
    new_run_id,
    partition_prefix,
    publish,
    recover,
    s3_url,
    spark_select_exprs,
    staging_prefix,
    state_key,
    timestamp_text,
    utc_now,
)

SOURCE = "mysql"

# Rows per committed chunk unless `--chunk_rows` says otherwise: small enough that a chunk is read,
# written and published well within the job timeout on the default two G.1X workers.
DEFAULT_CHUNK_ROWS = 1_000_000

PRIMARY_KEYS = {
    "customers": ("customer_id",),
    "products": ("product_id",),
    "orders": ("order_id",),
    "order_items": ("order_id", "line_number"),
}

# The raw tables of lib/schema/tables.ts (test/glue-scripts.test.ts checks that they agree).
RAW_TABLES = {
    "customers": {
        "location": "mysql/customers/",
        "columns": (
            ("customer_id", "bigint"),
            ("email", "string"),
            ("first_name", "string"),
            ("last_name", "string"),
            ("phone", "string"),
            ("gender", "string"),
            ("birth_date", "string"),
            ("city", "string"),
            ("state", "string"),
            ("country", "string"),
            ("signup_at", "string"),
            ("loyalty_tier", "string"),
            ("marketing_opt_in", "boolean"),
            ("updated_at", "string"),
            ("ingested_at", "timestamp"),
        ),
    },
    "products": {
        "location": "mysql/products/",
        "columns": (
            ("product_id", "bigint"),
            ("name", "string"),
            ("category", "string"),
            ("brand", "string"),
            ("price", "decimal(12,2)"),
            ("updated_at", "string"),
            ("ingested_at", "timestamp"),
        ),
    },
    "orders": {
        "location": "mysql/orders/",
        "columns": (
            ("order_id", "bigint"),
            ("customer_id", "bigint"),
            ("order_at", "string"),
            ("status", "string"),
            ("channel", "string"),
            ("payment_method", "string"),
            ("currency", "string"),
            ("total_amount", "decimal(12,2)"),
            ("discount_amount", "decimal(12,2)"),
            ("updated_at", "string"),
            ("ingested_at", "timestamp"),
        ),
    },
    "order_items": {
        "location": "mysql/order_items/",
        "columns": (
            ("order_id", "bigint"),
            ("line_number", "int"),
            ("product_id", "bigint"),
            ("quantity", "int"),
            ("unit_price", "decimal(12,2)"),
            ("discount_amount", "decimal(12,2)"),
            ("updated_at", "string"),
            ("ingested_at", "timestamp"),
        ),
    },
}

# The raw table `mysql_keys`: one column per key column of any table, null where a table has none.
KEYS_LOCATION = "mysql/keys/"
KEY_COLUMNS = (
    ("source_table", "string"),
    ("customer_id", "bigint"),
    ("product_id", "bigint"),
    ("order_id", "bigint"),
    ("line_number", "int"),
    ("ingested_at", "timestamp"),
)

_MYSQL_DATETIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$")


def quote_ident(name):
    return "`" + name.replace("`", "``") + "`"


def parse_mysql_datetime(text):
    """A MySQL DATETIME as text (`2024-05-01 10:00:00.123`) as a datetime; zero dates sort first."""
    match = _MYSQL_DATETIME.match(text or "")
    if not match:
        raise ValueError(f"expected a MySQL datetime such as '2024-05-01 10:00:00.123', got {text!r}")
    year, month, day, hour, minute, second, fraction = match.groups()
    if year == "0000" or month == "00" or day == "00":
        return datetime.min
    micros = int((fraction or "").ljust(6, "0"))
    return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micros)


def sql_datetime_literal(text):
    """A validated MySQL datetime literal; watermarks come from state files, never from users."""
    parse_mysql_datetime(text)
    return f"'{text}'"


def sql_int_literal(value):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected an integer key value, got {value!r}")
    return str(value)


def upper_bound(db_now_text, lag_seconds):
    """The extraction's upper bound on `updated_at`: the database's NOW(6) minus the safety lag."""
    if lag_seconds < 0:
        raise ValueError(f"safety lag must not be negative, got {lag_seconds}")
    bound = parse_mysql_datetime(db_now_text) - timedelta(seconds=lag_seconds)
    return bound.strftime("%Y-%m-%d %H:%M:%S.%f")


def source_select_list(table):
    """The SELECT list of a table: every raw column but `ingested_at`; text columns CAST AS CHAR.

    Casting in MySQL gives dates and datetimes as the text MySQL stores (including zero dates,
    which the JDBC driver would otherwise reject or turn into nulls).
    """
    items = []
    for name, glue_type in RAW_TABLES[table]["columns"]:
        if name == "ingested_at":
            continue
        column = f"t.{quote_ident(name)}"
        if glue_type == "string":
            items.append(f"CAST({column} AS CHAR) AS {quote_ident(name)}")
        else:
            items.append(f"{column} AS {quote_ident(name)}")
    return ", ".join(items)


def _row_compare(columns, literals, op):
    """SQL for the row comparison (c1, c2, ...) op (v1, v2, ...), op `>` or `<=`, spelt out so MySQL
    uses the (`updated_at`, key) index: `>` is lexicographic "after", `<=` "not after"."""
    first, rest = columns[0], columns[1:]
    column = f"t.{quote_ident(first)}"
    if not rest:
        return f"{column} {op} {literals[0]}"
    strict = ">" if op == ">" else "<"
    inner = _row_compare(rest, literals[1:], op)
    return f"({column} {strict} {literals[0]} OR ({column} = {literals[0]} AND {inner}))"


def _order_literals(table, position, what):
    """The literals of a position in the (`updated_at`, key) order: `{"updated_at", "key": {...}}`."""
    pk = PRIMARY_KEYS[table]
    key = position.get("key", {})
    missing = [column for column in pk if column not in key]
    if missing:
        raise ValueError(f"{what} of {table} lacks key column(s) {', '.join(missing)}: {position!r}")
    return [sql_datetime_literal(position["updated_at"])] + [sql_int_literal(key[column]) for column in pk]


def _range_conditions(table, watermark, bound=None, end=None):
    """WHERE conditions of the rows after `watermark` (None: from the start), not after `end` (a
    position in the order) and with `updated_at` not after `bound` (datetime text)."""
    if table not in PRIMARY_KEYS:
        raise ValueError(f"unknown MySQL table {table!r}; expected one of {', '.join(PRIMARY_KEYS)}")
    order = ("updated_at",) + PRIMARY_KEYS[table]
    conditions = []
    if watermark is not None:
        literals = _order_literals(table, watermark, "watermark")
        # The plain range condition lets MySQL seek the (updated_at, pk) index; the row comparison
        # then drops the rows of the watermark's own timestamp that were already taken.
        conditions.append(f"t.`updated_at` >= {literals[0]}")
        conditions.append(_row_compare(order, literals, ">"))
    if end is not None:
        literals = _order_literals(table, end, "chunk end")
        conditions.append(f"t.`updated_at` <= {literals[0]}")
        conditions.append(_row_compare(order, literals, "<="))
    if bound is not None:
        conditions.append(f"t.`updated_at` <= {sql_datetime_literal(bound)}")
    return " AND ".join(conditions)


def _order_by(table):
    return ", ".join(f"t.{quote_ident(column)}" for column in ("updated_at",) + PRIMARY_KEYS[table])


def chunk_end_query(table, watermark, bound, chunk_rows):
    """The SELECT of the position that ends the next chunk: the last of the first `chunk_rows` rows
    after `watermark` up to `bound`, in (`updated_at`, key) order; no row when none is left.

    The inner SELECT reads only the index on (`updated_at`, key), at most `chunk_rows` entries.
    """
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise ValueError(f"chunk size must be a positive integer, got {chunk_rows!r}")
    pk = PRIMARY_KEYS.get(table, ())
    columns = ", ".join(f"t.{quote_ident(column)}" for column in ("updated_at",) + pk)
    outer = ", ".join(
        ["CAST(c.`updated_at` AS CHAR) AS `updated_at`"] + [f"c.{quote_ident(column)}" for column in pk]
    )
    conditions = _range_conditions(table, watermark, bound=bound)
    inner = (
        f"SELECT {columns} FROM {quote_ident(table)} AS t WHERE {conditions}"
        f" ORDER BY {_order_by(table)} LIMIT {chunk_rows}"
    )
    last = ", ".join(f"c.{quote_ident(column)} DESC" for column in ("updated_at",) + pk)
    return f"SELECT {outer} FROM ({inner}) AS c ORDER BY {last} LIMIT 1"


def chunk_query(table, watermark, end):
    """The SELECT of one chunk's rows: after `watermark`, up to and including the position `end`.

    Unordered: Spark reads it in partitions, and the chunk is committed as a whole.
    """
    conditions = _range_conditions(table, watermark, end=end)
    return f"SELECT {source_select_list(table)} FROM {quote_ident(table)} AS t WHERE {conditions}"


def chunk_stats_query(table, watermark, end):
    """Row count and the range of the first key column of one chunk, to split its read."""
    split = quote_ident(PRIMARY_KEYS[table][0])
    conditions = _range_conditions(table, watermark, end=end)
    return (
        f"SELECT COUNT(*) AS row_count, MIN(t.{split}) AS low, MAX(t.{split}) AS high"
        f" FROM {quote_ident(table)} AS t WHERE {conditions}"
    )


def position_of(row, table):
    """A row of `chunk_end_query` as a position in the order (the watermark's shape)."""
    pk = PRIMARY_KEYS[table]
    return {"updated_at": row["updated_at"], "key": {column: int(row[column]) for column in pk}}


def read_partitions(table, stats, max_partitions):
    """Spark JDBC options that split one chunk's read on the first primary key column.

    Spark reads `numPartitions` slices of [lowerBound, upperBound) of `partitionColumn` in parallel
    (the first and last slices are open-ended, so no row is left out whatever the bounds). The
    first key column is an indexed integer, which also splits `order_items` (by order) evenly enough.
    """
    if isinstance(max_partitions, bool) or not isinstance(max_partitions, int) or max_partitions < 1:
        raise ValueError(f"read partitions must be a positive integer, got {max_partitions!r}")
    count, low, high = int(stats["row_count"]), stats["low"], stats["high"]
    if count == 0 or low is None or high is None:
        return {}
    low, high = int(low), int(high)
    partitions = min(max_partitions, count, high - low + 1)
    if partitions < 2:
        return {}
    return {
        "partitionColumn": PRIMARY_KEYS[table][0],
        "lowerBound": str(low),
        "upperBound": str(high + 1),
        "numPartitions": str(partitions),
    }


def extract_in_chunks(table, state, bound, chunk_rows, query_one, land_chunk):
    """Lands the rows after the committed watermark up to `bound` in chunks of at most `chunk_rows`,
    in (`updated_at`, key) order; returns the number of rows landed.

    `query_one(sql)` answers a SELECT with its first row as a dict (or None); `land_chunk(chunk,
    state)` lands one chunk (`{"index", "watermark", "end", "rows", "query", "stats"}`), commits
    `end` as the new watermark and returns the committed state. A run that dies after chunk k has
    committed k's end, so its rerun starts with the chunk after it and lands nothing twice.
    """
    total = 0
    index = 0
    while True:
        watermark = state.get("watermark")
        end_row = query_one(chunk_end_query(table, watermark, bound, chunk_rows))
        if end_row is None:
            return total
        end = position_of(end_row, table)
        stats = query_one(chunk_stats_query(table, watermark, end))
        rows = int(stats["row_count"])
        chunk = {
            "index": index,
            "watermark": watermark,
            "end": end,
            "rows": rows,
            "query": chunk_query(table, watermark, end),
            "stats": stats,
        }
        state = land_chunk(chunk, state)
        total += rows
        index += 1
        if rows < chunk_rows:
            # A short chunk took every row up to the bound: no need to ask again.
            return total


def key_scan_due(state, ingest_date, every_days):
    """Whether a table's key scan is due on `ingest_date`: never when `every_days` is 0, always when
    the table was never scanned, else when its last scan's ingest date is `every_days` days back or more."""
    if isinstance(every_days, bool) or not isinstance(every_days, int) or every_days < 0:
        raise ValueError(f"key scan interval must be a whole number of days >= 0, got {every_days!r}")
    if every_days == 0:
        return False
    last = (state or {}).get("last_scan_date")
    if last is None:
        return True
    days = (datetime.strptime(ingest_date, "%Y-%m-%d") - datetime.strptime(last, "%Y-%m-%d")).days
    return days >= every_days


def key_scan_query(table):
    """Every primary key of a table; no ORDER BY, so MySQL reads its smallest index (each holds the key)."""
    if table not in PRIMARY_KEYS:
        raise ValueError(f"unknown MySQL table {table!r}; expected one of {', '.join(PRIMARY_KEYS)}")
    columns = ", ".join(f"t.{quote_ident(column)}" for column in PRIMARY_KEYS[table])
    return f"SELECT {columns} FROM {quote_ident(table)} AS t"


def key_scan_stats_query(table):
    """Row count and range of the first key column, to split the key scan's read like a chunk's."""
    split = quote_ident(PRIMARY_KEYS[table][0])
    return f"SELECT COUNT(*) AS row_count, MIN(t.{split}) AS low, MAX(t.{split}) AS high FROM {quote_ident(table)} AS t"


def key_scan_select_exprs(table, scanned_at_text):
    """Spark SQL expressions giving a key scan's rows the columns of `mysql_keys`: the table's name,
    its key columns, null for the others, and the scan's start as `ingested_at`."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}", scanned_at_text):
        raise ValueError(f"expected the scan time as 'YYYY-MM-DD HH:MM:SS.ffffff', got {scanned_at_text!r}")
    exprs = []
    for name, glue_type in KEY_COLUMNS:
        if name == "source_table":
            value = f"'{table}'"
        elif name == "ingested_at":
            value = f"'{scanned_at_text}'"
        elif name in PRIMARY_KEYS[table]:
            value = f"`{name}`"
        else:
            value = "NULL"
        exprs.append(f"CAST({value} AS {glue_type}) AS `{name}`")
    return exprs


def optional_count_arg(argv, name, default):
    """A whole-number job argument `--<name> N` (0 allowed) that may be absent, else `default`."""
    flag = f"--{name}"
    for index, value in enumerate(argv):
        if value == flag and index + 1 < len(argv):
            text = argv[index + 1]
            if not re.fullmatch(r"0|[1-9][0-9]*", text):
                raise ValueError(f"{flag} must be a whole number >= 0, got {text!r}")
            return int(text)
    return default


def jdbc_url(conf, database, require_tls):
    """The JDBC URL for Spark from `GlueContext.extract_jdbc_conf` (whose `url` lacks the database)."""
    url = conf.get("fullUrl") or f"{conf['url'].rstrip('/')}/{database}"
    params = ["useCursorFetch=true"]
    if require_tls:
        params.append("sslMode=REQUIRED")
    return url + ("&" if "?" in url else "?") + "&".join(params)


def parse_tables(text):
    tables = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in tables if name not in PRIMARY_KEYS]
    if unknown or not tables:
        raise ValueError(f"--mysql_tables must list tables of {', '.join(PRIMARY_KEYS)}, got {text!r}")
    return tables


def optional_int_arg(argv, name, default):
    """A positive integer job argument `--<name> N` that may be absent (getResolvedOptions cannot
    express optional arguments), else `default`."""
    flag = f"--{name}"
    for index, value in enumerate(argv):
        if value == flag and index + 1 < len(argv):
            text = argv[index + 1]
            if not re.fullmatch(r"[1-9][0-9]*", text):
                raise ValueError(f"{flag} must be a positive integer, got {text!r}")
            return int(text)
    return default


def database_credentials(conf, secret_id, secrets=None):
    """(user, password) for the JDBC reads.

    `GlueContext.extract_jdbc_conf` resolves the connection's secret into `user` and `password` on
    most Glue versions; when it does not, the secret is read from Secrets Manager, in the shape Glue
    connections use: a JSON object with `username` and `password`.
    """
    if conf.get("user") and conf.get("password"):
        return conf["user"], conf["password"]
    if not secret_id:
        raise ValueError("the Glue connection gave no user and password, and --secret_id is empty")
    if secrets is None:
        import boto3

        secrets = boto3.client("secretsmanager")
    answer = secrets.get_secret_value(SecretId=secret_id)
    expected = 'expected a JSON object such as {"username": "...", "password": "..."}'
    text = answer.get("SecretString")
    if text is None:
        raise ValueError(f"secret {secret_id} has no SecretString; {expected}")
    try:
        value = json.loads(text)
    except ValueError:
        raise ValueError(f"secret {secret_id} is not JSON; {expected}") from None
    if not isinstance(value, dict):
        raise ValueError(f"secret {secret_id} is not a JSON object; {expected}")
    missing = [name for name in ("username", "password") if not value.get(name)]
    if missing:
        raise ValueError(f"secret {secret_id} lacks {' and '.join(missing)}; {expected}")
    return value["username"], value["password"]


def _jdbc_reader(spark, url, credentials):
    user, password = credentials
    return (
        spark.read.format("jdbc")
        .option("url", url)
        .option("driver", "com.mysql.cj.jdbc.Driver")
        .option("user", user)
        .option("password", password)
        .option("fetchsize", "10000")
    )


def _query_one(spark, url, credentials, query):
    row = _jdbc_reader(spark, url, credentials).option("query", query).load().first()
    return None if row is None else row.asDict()


def extract_table(spark, store, bucket, url, credentials, table, lag_seconds, started, chunk_rows, partitions):
    """Extracts one table in committed chunks; returns the number of rows published."""
    from pyspark.sql import functions as F

    key = state_key(SOURCE, table)
    state = recover(store, key, store.read_json(key), SOURCE, table)
    db_now = _query_one(spark, url, credentials, "SELECT CAST(NOW(6) AS CHAR) AS db_now")["db_now"]
    bound = upper_bound(db_now, lag_seconds)
    print(f"mysql.{table}: extracting after {state.get('watermark')} up to {bound} in chunks of {chunk_rows} rows")
    columns = RAW_TABLES[table]["columns"]
    partition = partition_prefix(RAW_TABLES[table]["location"], ingest_date_for(sys.argv, started))

    def land_chunk(chunk, state):
        # `query` cannot be split by Spark; a derived table in `dbtable` can (Spark JDBC docs).
        reader = _jdbc_reader(spark, url, credentials).option("dbtable", f"({chunk['query']}) AS c360_chunk")
        for name, value in read_partitions(table, chunk["stats"], partitions).items():
            reader = reader.option(name, value)
        rows = (
            reader.load()
            .withColumn("ingested_at", F.lit(timestamp_text(started)).cast("timestamp"))
            .selectExpr(*spark_select_exprs(columns))
        )
        run_id = new_run_id(started)
        staging = staging_prefix(SOURCE, table, run_id)
        rows.write.mode("overwrite").parquet(s3_url(bucket, staging))
        last_run = {
            "run_id": run_id,
            "chunk": chunk["index"],
            "rows": chunk["rows"],
            "upper_bound": bound,
            "partition": partition,
        }
        committed = {"watermark": chunk["end"], "last_run": last_run}
        published = publish(store, key, state, staging, partition, run_id, committed)
        print(f"mysql.{table}: chunk {chunk['index']}: {chunk['rows']} rows in {len(published)} files; watermark {chunk['end']}")
        return committed

    total = extract_in_chunks(
        table, state, bound, chunk_rows, lambda query: _query_one(spark, url, credentials, query), land_chunk
    )
    if total == 0:
        print(f"mysql.{table}: no new or changed rows")
    return total


def scan_keys(spark, store, bucket, url, credentials, table, started, partitions):
    """Lands every primary key of a table in `mysql_keys`; called after the table's rows were read.
    Returns the number of keys published."""
    key = state_key(SOURCE, f"{table}.keys")
    state = recover(store, key, store.read_json(key), SOURCE, f"{table}.keys")
    ingest_date = ingest_date_for(sys.argv, started)
    # Taken now, after the row read: every row this run read carries the earlier `started`. Spark reads
    # the keys in slices of the first key column, each its own consistent read begun after this stamp;
    # every key falls in exactly one slice, so a key missing from its slice was gone when that slice
    # was read, which is all the rule in stage needs.
    scanned_at = utc_now()
    stats = _query_one(spark, url, credentials, key_scan_stats_query(table))
    reader = _jdbc_reader(spark, url, credentials).option("dbtable", f"({key_scan_query(table)}) AS c360_keys")
    for name, value in read_partitions(table, stats, partitions).items():
        reader = reader.option(name, value)
    rows = reader.load().selectExpr(*key_scan_select_exprs(table, timestamp_text(scanned_at)))
    run_id = new_run_id(scanned_at)
    staging = staging_prefix(SOURCE, f"{table}.keys", run_id)
    rows.write.mode("overwrite").parquet(s3_url(bucket, staging))
    keys = int(stats["row_count"])
    committed = {"last_scan_date": ingest_date, "scanned_at": timestamp_text(scanned_at), "keys": keys}
    published = publish(store, key, state, staging, partition_prefix(KEYS_LOCATION, ingest_date), run_id, committed)
    print(f"mysql.{table}: {keys} keys scanned for deletions in {len(published)} files")
    return keys


def main():
    from awsglue.context import GlueContext
    from awsglue.utils import getResolvedOptions
    from pyspark.context import SparkContext

    args = getResolvedOptions(
        sys.argv,
        [
            "JOB_NAME",
            "raw_bucket",
            "connection_name",
            "secret_id",
            "mysql_database",
            "mysql_tables",
            "safety_lag_seconds",
            "require_tls",
        ],
    )
    glue_context = GlueContext(SparkContext.getOrCreate())
    spark = glue_context.spark_session
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    started = utc_now()
    chunk_rows = optional_int_arg(sys.argv, "chunk_rows", DEFAULT_CHUNK_ROWS)
    # One JDBC connection per executor core by default: enough to keep the workers busy without
    # opening more connections than the job can use.
    partitions = optional_int_arg(sys.argv, "read_partitions", spark.sparkContext.defaultParallelism)
    conf = glue_context.extract_jdbc_conf(args["connection_name"])
    credentials = database_credentials(conf, args["secret_id"])
    url = jdbc_url(conf, args["mysql_database"], args["require_tls"].lower() == "true")
    store = S3Store(args["raw_bucket"])
    lag = float(args["safety_lag_seconds"])
    total = 0
    every_days = optional_count_arg(sys.argv, "key_scan_every_days", 1)
    ingest_date = ingest_date_for(sys.argv, started)
    for table in parse_tables(args["mysql_tables"]):
        total += extract_table(
            spark, store, args["raw_bucket"], url, credentials, table, lag, started, chunk_rows, partitions
        )
        # After the table's rows, never before: see the module docstring.
        if key_scan_due(store.read_json(state_key(SOURCE, f"{table}.keys")), ingest_date, every_days):
            scan_keys(spark, store, args["raw_bucket"], url, credentials, table, started, partitions)
    print(f"mysql: {total} rows extracted")


if __name__ == "__main__":
    main()
