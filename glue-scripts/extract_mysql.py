"""Glue job: incremental extraction of the MySQL source tables into the raw zone.

For each configured table (contract: lib/sources/mysql-schema.sql) the job reads, through the Glue
JDBC connection, the rows whose (`updated_at`, primary key) is greater than the stored watermark and
whose `updated_at` is at most an upper bound taken from the database clock minus a safety lag, so a
row committed a moment late with an earlier timestamp is taken by the next run rather than skipped.
Rows land as Parquet in `s3://<raw bucket>/mysql/<table>/ingest_date=YYYY-MM-DD/` with exactly the
columns of the raw table in lib/schema/tables.ts (dates and times as the text MySQL gives, so zero
dates survive to be quarantined at stage). The new watermark, the max (`updated_at`, primary key) of
the extracted rows, is stored in `s3://<raw bucket>/_state/mysql/<table>.json` only after the files
are published (see c360_glue.publish), so a failed run is simply run again.

Glue job bookmarks are disabled for this job: a bookmark tracks what a previous run read, not what
it wrote, is opaque, and cannot express the composite (`updated_at`, key) ordering or the safety lag.

Arguments: --raw_bucket, --connection_name, --mysql_database, --mysql_tables (comma separated),
--safety_lag_seconds, --require_tls (true/false).
"""

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


def _greater_than(columns, literals):
    """SQL for the row comparison (c1, c2, ...) > (v1, v2, ...), spelt out so MySQL uses the index."""
    first, rest = columns[0], columns[1:]
    head = f"t.{quote_ident(first)} > {literals[0]}"
    if not rest:
        return head
    return f"({head} OR (t.{quote_ident(first)} = {literals[0]} AND {_greater_than(rest, literals[1:])}))"


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


def incremental_query(table, watermark, bound):
    """The SELECT of the rows after `watermark` (None on the first run) up to `bound`, ordered.

    `watermark` is `{"updated_at": "<datetime text>", "key": {<pk column>: <int>, ...}}`.
    """
    if table not in PRIMARY_KEYS:
        raise ValueError(f"unknown MySQL table {table!r}; expected one of {', '.join(PRIMARY_KEYS)}")
    pk = PRIMARY_KEYS[table]
    conditions = []
    if watermark is not None:
        key = watermark.get("key", {})
        missing = [column for column in pk if column not in key]
        if missing:
            raise ValueError(f"watermark of {table} lacks key column(s) {', '.join(missing)}: {watermark!r}")
        since = sql_datetime_literal(watermark["updated_at"])
        # The plain range condition lets MySQL seek the (updated_at, pk) index; the row comparison
        # then drops the rows of the watermark's own timestamp that were already taken.
        conditions.append(f"t.`updated_at` >= {since}")
        literals = [since] + [sql_int_literal(key[column]) for column in pk]
        conditions.append(_greater_than(("updated_at",) + pk, literals))
    conditions.append(f"t.`updated_at` <= {sql_datetime_literal(bound)}")
    order = ", ".join(f"t.{quote_ident(column)}" for column in ("updated_at",) + pk)
    return (
        f"SELECT {source_select_list(table)} FROM {quote_ident(table)} AS t"
        f" WHERE {' AND '.join(conditions)} ORDER BY {order}"
    )


def next_watermark(rows, table, previous):
    """The max (`updated_at`, primary key) over extracted rows, or `previous` when there are none.

    Rows are mappings with `updated_at` (MySQL datetime text) and the primary key columns.
    """
    pk = PRIMARY_KEYS[table]
    best = None
    best_order = None
    for row in rows:
        order = (parse_mysql_datetime(row["updated_at"]),) + tuple(int(row[column]) for column in pk)
        if best_order is None or order > best_order:
            best_order = order
            best = {"updated_at": row["updated_at"], "key": {column: int(row[column]) for column in pk}}
    return best if best is not None else previous


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


def _read_jdbc(spark, url, conf, query):
    return (
        spark.read.format("jdbc")
        .option("url", url)
        .option("driver", "com.mysql.cj.jdbc.Driver")
        .option("user", conf["user"])
        .option("password", conf["password"])
        .option("query", query)
        .option("fetchsize", "10000")
        .load()
    )


def extract_table(spark, store, bucket, url, conf, table, lag_seconds, started):
    """Extracts one table; returns the number of rows published."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    key = state_key(SOURCE, table)
    state = recover(store, key, store.read_json(key), SOURCE, table)
    watermark = state.get("watermark")

    db_now = _read_jdbc(spark, url, conf, "SELECT CAST(NOW(6) AS CHAR) AS db_now").first()["db_now"]
    bound = upper_bound(db_now, lag_seconds)
    query = incremental_query(table, watermark, bound)
    print(f"mysql.{table}: extracting after {watermark} up to {bound}")

    columns = RAW_TABLES[table]["columns"]
    rows = (
        _read_jdbc(spark, url, conf, query)
        .withColumn("ingested_at", F.lit(timestamp_text(started)).cast("timestamp"))
        .selectExpr(*spark_select_exprs(columns))
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    try:
        count = rows.count()
        pk = PRIMARY_KEYS[table]
        if count == 0:
            print(f"mysql.{table}: no new or changed rows")
            return 0
        # The rows are persisted, so the max and the written files come from the same read.
        ordering = [F.col("updated_at").desc()] + [F.col(column).desc() for column in pk]
        top = rows.select("updated_at", *pk).orderBy(*ordering).limit(1).collect()
        new_watermark = next_watermark([row.asDict() for row in top], table, watermark)

        run_id = new_run_id(started)
        staging = staging_prefix(SOURCE, table, run_id)
        rows.write.mode("overwrite").parquet(s3_url(bucket, staging))
        partition = partition_prefix(RAW_TABLES[table]["location"], ingest_date_for(sys.argv, started))
        last_run = {"run_id": run_id, "rows": count, "upper_bound": bound, "partition": partition}
        committed = {"watermark": new_watermark, "last_run": last_run}
        published = publish(store, key, state, staging, partition, run_id, committed)
        print(f"mysql.{table}: {count} rows in {len(published)} files; watermark {new_watermark}")
        return count
    finally:
        rows.unpersist()


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
    conf = glue_context.extract_jdbc_conf(args["connection_name"])
    url = jdbc_url(conf, args["mysql_database"], args["require_tls"].lower() == "true")
    store = S3Store(args["raw_bucket"])
    lag = float(args["safety_lag_seconds"])
    total = 0
    for table in parse_tables(args["mysql_tables"]):
        total += extract_table(spark, store, args["raw_bucket"], url, conf, table, lag, started)
    print(f"mysql: {total} rows extracted")


if __name__ == "__main__":
    main()
