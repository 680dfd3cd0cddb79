"""Glue job: lands legacy order files (the order history) in the raw zone as Parquet.

Files are dropped, as exported by the legacy system, under the configured landing prefix of the raw
bucket (`sources.history.prefix`, default `landing/history/`) in the configured format (`csv` with a
header row, `jsonl`, or `parquet`). Each new or changed file (its key and ETag are not yet in the
manifest `s3://<raw bucket>/_state/history/manifest.json`) is read, its configured columns
(`sources.history.columns`) are mapped to the columns of the raw table `history_orders` with every
value kept as the text written in the file, and the rows are published to
`s3://<raw bucket>/history/orders/ingest_date=YYYY-MM-DD/` together with the file name and the row
number, so a row rejected at stage can be traced back to its line. The manifest is updated at the
commit (see c360_glue.publish): a failed run lands nothing, and its rerun lands the same files.

Files or folders whose name starts with `.` or `_` are ignored, as are files whose extension does
not match the format. A CSV or JSON-lines file is read whole into one task's memory.

Arguments: --raw_bucket, --history_prefix, --history_format, --history_columns (JSON of
`sources.history.columns`: customer, orderDate, amount, quantity (null when absent), orderId).
"""

import csv
import io
import json
import posixpath
import sys
from datetime import date, datetime
from decimal import Decimal

from c360_glue import (
    S3Store,
    ddl_schema,
    ingest_date_for,
    ingested_at_of,
    new_run_id,
    partition_prefix,
    publish,
    recover,
    s3_url,
    staging_prefix,
    state_key,
    utc_now,
)

SOURCE = "history"
STATE_NAME = "manifest"
RAW_LOCATION = "history/orders/"

# The raw table `history_orders` of lib/schema/tables.ts (test/glue-scripts.test.ts checks that they
# agree).
RAW_COLUMNS = (
    ("source_file", "string"),
    ("line_number", "bigint"),
    ("order_ref", "string"),
    ("customer_ref", "string"),
    ("order_date", "string"),
    ("amount", "string"),
    ("quantity", "string"),
    ("ingested_at", "timestamp"),
)

# Raw column <- key of `sources.history.columns` naming the file column.
MAPPED_COLUMNS = (
    ("order_ref", "orderId"),
    ("customer_ref", "customer"),
    ("order_date", "orderDate"),
    ("amount", "amount"),
    ("quantity", "quantity"),
)
REQUIRED_MAPPING = ("customer", "orderDate", "amount")
OPTIONAL_MAPPING = ("orderId", "quantity")

EXTENSIONS = {
    "csv": (".csv", ".txt"),
    "jsonl": (".jsonl", ".json", ".ndjson"),
    "parquet": (".parquet",),
}


class MissingColumnError(ValueError):
    """A column named in `sources.history.columns` is not in the file."""


def parse_mapping(text):
    """`--history_columns` as a dict, checked: required keys are column names, optional may be null."""
    mapping = json.loads(text)
    if not isinstance(mapping, dict):
        raise ValueError(f"--history_columns must be a JSON object, got {text!r}")
    unknown = sorted(set(mapping) - set(REQUIRED_MAPPING) - set(OPTIONAL_MAPPING))
    if unknown:
        raise ValueError(f"--history_columns has unknown key(s) {', '.join(unknown)}")
    for key in REQUIRED_MAPPING:
        if not isinstance(mapping.get(key), str) or not mapping[key]:
            raise ValueError(f"--history_columns.{key} must name a file column, got {mapping.get(key)!r}")
    for key in OPTIONAL_MAPPING:
        value = mapping.get(key)
        if value is not None and (not isinstance(value, str) or not value):
            raise ValueError(f"--history_columns.{key} must name a file column or be null, got {value!r}")
    return mapping


def check_columns(available, mapping, source_file=None):
    """Raises MissingColumnError naming the first mapped column the file does not have."""
    available = list(available)
    for _, key in MAPPED_COLUMNS:
        column = mapping.get(key)
        if column is not None and column not in available:
            where = f"History file {source_file}" if source_file else "History record"
            raise MissingColumnError(
                f'{where} has no column "{column}" (sources.history.columns.{key}); '
                f"its columns are: {', '.join(available)}"
            )


def value_text(value):
    """A file value as text: strings as written, numbers and dates in their usual text form."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal)):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def map_columns(record, mapping, source_file=None):
    """The raw `history_orders` values of one file record (a dict of file column -> value).

    Returns order_ref, customer_ref, order_date, amount and quantity as text; an unmapped optional
    column (orderId absent, quantity null) gives null. A mapped column the record lacks raises
    MissingColumnError naming the column and the configuration key.
    """
    check_columns(record.keys(), mapping, source_file)
    mapped = {}
    for target, key in MAPPED_COLUMNS:
        column = mapping.get(key)
        mapped[target] = None if column is None else value_text(record[column])
    return mapped


def relative_name(key, prefix):
    """A landed file's name relative to the landing prefix (the `source_file` value)."""
    if not key.startswith(prefix):
        raise ValueError(f"{key!r} is not under {prefix!r}")
    return key[len(prefix) :]


def is_candidate(relative, file_format):
    """Whether a file under the prefix is an order file of the configured format."""
    if not relative or relative.endswith("/"):
        return False
    if any(part.startswith((".", "_")) for part in relative.split("/")):
        return False
    return posixpath.splitext(relative)[1].lower() in EXTENSIONS[file_format]


def files_to_land(listing, prefix, file_format, manifest):
    """The objects to land: candidates whose key and ETag are not in the manifest, by name.

    `listing` holds dicts with `key` and `etag`; the manifest maps file name to `{"etag": ...}`.
    """
    landed = (manifest or {}).get("files", {})
    chosen = []
    for item in listing:
        file = relative_name(item["key"], prefix)
        if not is_candidate(file, file_format):
            continue
        previous = landed.get(file)
        if previous is not None and previous.get("etag") == item["etag"]:
            continue
        chosen.append({"key": item["key"], "etag": item["etag"], "file": file})
    return sorted(chosen, key=lambda item: item["file"])


def csv_records(data):
    """(row number, record) pairs of a CSV file with a header row; 1 is the first data row."""
    text = data.decode("utf-8-sig")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    for number, record in enumerate(reader, start=1):
        record.pop(None, None)  # values beyond the header
        yield number, record


def jsonl_records(data, source_file):
    """(row number, record) pairs of a JSON-lines file; numbers keep the text they are written with."""
    number = 0
    for physical, line in enumerate(data.decode("utf-8-sig").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line, parse_float=str, parse_int=str)
        except json.JSONDecodeError as error:
            raise ValueError(f"History file {source_file} line {physical} is not JSON: {error}") from None
        if not isinstance(record, dict):
            raise ValueError(f"History file {source_file} line {physical} is not a JSON object")
        number += 1
        yield number, record


def landed_rows(source_file, records, mapping, ingested_at):
    """Raw rows (tuples in column order) of a file's (row number, record) pairs."""
    for number, record in records:
        mapped = map_columns(record, mapping, source_file)
        row = {"source_file": source_file, "line_number": number, "ingested_at": ingested_at, **mapped}
        yield tuple(row[name] for name, _ in RAW_COLUMNS)


def file_rows(source_file, data, file_format, mapping, ingested_at):
    """Raw rows of a CSV or JSON-lines file's bytes."""
    if file_format == "csv":
        records = csv_records(data)
    elif file_format == "jsonl":
        records = jsonl_records(data, source_file)
    else:
        raise ValueError(f"file_rows reads csv or jsonl, not {file_format}")
    return list(landed_rows(source_file, records, mapping, ingested_at))


def read_file(spark, bucket, item, file_format, mapping, ingested_at):
    """An RDD of the raw rows of one landed file."""
    url = s3_url(bucket, item["key"])
    file = item["file"]
    if file_format == "parquet":
        frame = spark.read.parquet(url)
        check_columns(frame.columns, mapping, file)
        # One file's partitions come in file order, so the index is the row's position in the file.
        numbered = frame.rdd.zipWithIndex().map(lambda pair: (pair[1] + 1, pair[0].asDict()))
        return numbered.mapPartitions(lambda records: landed_rows(file, records, mapping, ingested_at))
    files = spark.sparkContext.binaryFiles(url)
    return files.flatMap(lambda pair: file_rows(file, pair[1], file_format, mapping, ingested_at))


def main():
    from awsglue.context import GlueContext
    from awsglue.utils import getResolvedOptions
    from pyspark.context import SparkContext

    args = getResolvedOptions(
        sys.argv, ["JOB_NAME", "raw_bucket", "history_prefix", "history_format", "history_columns"]
    )
    bucket, prefix, file_format = args["raw_bucket"], args["history_prefix"], args["history_format"]
    if file_format not in EXTENSIONS:
        raise ValueError(f"--history_format must be one of {', '.join(EXTENSIONS)}, got {file_format!r}")
    mapping = parse_mapping(args["history_columns"])
    spark = GlueContext(SparkContext.getOrCreate()).spark_session
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    started = utc_now()
    store = S3Store(bucket)

    key = state_key(SOURCE, STATE_NAME)
    manifest = recover(store, key, store.read_json(key), SOURCE, STATE_NAME)
    manifest.setdefault("files", {})
    new_files = files_to_land(store.list(prefix), prefix, file_format, manifest)
    if not new_files:
        print(f"history: no new files under s3://{bucket}/{prefix}")
        return

    ingested_at = ingested_at_of(started)
    parts = [read_file(spark, bucket, item, file_format, mapping, ingested_at) for item in new_files]
    frame = spark.createDataFrame(spark.sparkContext.union(parts), ddl_schema(RAW_COLUMNS)).cache()
    try:
        counts = {row["source_file"]: row["count"] for row in frame.groupBy("source_file").count().collect()}
        run_id = new_run_id(started)
        ingest_date = ingest_date_for(sys.argv, started)
        files = dict(manifest["files"])
        for item in new_files:
            rows = counts.get(item["file"], 0)
            files[item["file"]] = {"etag": item["etag"], "ingest_date": ingest_date, "rows": rows, "run_id": run_id}
            print(f"history {item['file']}: {rows} rows")
        committed = {**manifest, "files": files}
        if sum(counts.values()) == 0:
            store.write_json(key, committed)
            return
        staging = staging_prefix(SOURCE, STATE_NAME, run_id)
        frame.write.mode("overwrite").parquet(s3_url(bucket, staging))
        publish(store, key, manifest, staging, partition_prefix(RAW_LOCATION, ingest_date), run_id, committed)
    finally:
        frame.unpersist()


if __name__ == "__main__":
    main()
