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

A line or file that cannot be read (a field count that differs from the header, bytes that are not
UTF-8, a line that is not a JSON object, an empty or broken file) lands as a row with its file, line
and `read_error` reason and no values, and stage quarantines it: the run goes on, and no message
quotes a line (it may hold a customer's email). Lines are the file's (a CSV header is line 1).

Files are read by their exact key (S3 GetObject for CSV and JSON lines, an escaped path for
Parquet), never as glob patterns. Files or folders whose name starts with `.` or `_` are ignored,
as are files whose extension does not match the format (they are listed in the job's log). CSV and
JSON-lines files may be gzipped (`*.csv.gz`). A CSV or JSON-lines file is read whole into one task's
memory.

Arguments: --raw_bucket, --history_prefix, --history_format, --history_columns (JSON of
`sources.history.columns`: customer, orderDate, amount, quantity (null when absent), orderId).
"""

import csv
import gzip
import io
import json
import posixpath
import sys
import zlib
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
    ("read_error", "string"),
    ("read_error_detail", "string"),
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


def is_hidden(relative):
    """Folders (`a/`) and names starting with `.` or `_` are never order files, nor worth a word."""
    if not relative or relative.endswith("/"):
        return True
    return any(part.startswith((".", "_")) for part in relative.split("/"))


def is_candidate(relative, file_format):
    """Whether a file under the prefix is an order file of the configured format (text ones may be gzipped)."""
    if is_hidden(relative):
        return False
    name = relative.lower()
    if file_format != "parquet" and name.endswith(".gz"):
        name = name[: -len(".gz")]
    return posixpath.splitext(name)[1] in EXTENSIONS[file_format]


def ignored_files(listing, prefix, file_format):
    """Files under the prefix that are not order files of the format, for the job's log."""
    names = (relative_name(item["key"], prefix) for item in listing)
    return sorted(name for name in names if not is_hidden(name) and not is_candidate(name, file_format))


def hadoop_literal(key):
    """An S3 key as a Hadoop path that matches only itself: Spark globs `*?[]{}` and backslash."""
    return "".join("\\" + c if c in "*?[]{}\\" else c for c in key)


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
        chosen.append({"key": item["key"], "etag": item["etag"], "file": file, "size": item.get("size")})
    return sorted(chosen, key=lambda item: item["file"])


class ReadError(Exception):
    """A file, or a line of it, that cannot be read: its reason lands in `read_error`."""

    def __init__(self, reason, detail):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def decode_lines(data):
    """The file's text and its lines that are not UTF-8, as (line, detail) pairs.

    A line that is not UTF-8 becomes an empty line, so every other line keeps its number; it is
    reported by number and byte offset, never by its content. A byte-order mark is dropped.
    """
    lines = []
    invalid = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError as error:
            invalid.append((number, f"not UTF-8 at byte {error.start + 1} of the line"))
            lines.append("")
    text = "\n".join(lines)
    return (text[1:] if text.startswith("\ufeff") else text), invalid


def _ends_inside_quotes(text):
    try:
        for _ in csv.reader(io.StringIO(text, newline=""), strict=True):
            pass
    except csv.Error as error:
        return "unexpected end of data" in str(error)
    return False


def csv_records(data, source_file=None):
    """(line, record, error) triples of a CSV file with a header row.

    Lines are the file's: the header is line 1, and a row whose quoted value spans lines is numbered
    by its first line. `record` maps header names to values; a row whose field count differs from
    the header's, a line that is not UTF-8 or a quote never closed gives `error` (a ReadError)
    instead, never a row padded or cut to fit.
    """
    text, invalid = decode_lines(data)
    if invalid and invalid[0][0] == 1:
        yield 1, None, ReadError("invalid_utf8", "the header row is not UTF-8")
        return
    errors = [(line, None, ReadError("invalid_utf8", detail)) for line, detail in invalid]
    lines = text.split("\n")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = None
    rows = []
    consumed = 0
    for fields in reader:
        start, consumed = consumed + 1, reader.line_num
        if not fields:
            continue
        if header is None:
            header = fields
            continue
        if consumed >= len(lines) - 1 and _ends_inside_quotes("\n".join(lines[start - 1 :])):
            rows.append((start, None, ReadError("malformed_csv", "a quoted value opened on this line is never closed")))
        elif len(fields) != len(header):
            reason = "too_many_fields" if len(fields) > len(header) else "too_few_fields"
            rows.append((start, None, ReadError(reason, f"{len(fields)} fields where the header has {len(header)}")))
        else:
            rows.append((start, dict(zip(header, fields)), None))
    if header is None:
        yield None, None, ReadError("empty_file", "the file has no header row")
        return
    yield from sorted(errors + rows, key=lambda item: item[0])


def csv_header(data):
    """The header row of a CSV file (None when it has none or it is not UTF-8)."""
    text, invalid = decode_lines(data)
    if invalid and invalid[0][0] == 1:
        return None
    for fields in csv.reader(io.StringIO(text, newline="")):
        if fields:
            return fields
    return None


def jsonl_records(data, source_file=None):
    """(line, record, error) triples of a JSON-lines file, numbered by physical line.

    Blank lines are skipped but counted; numbers keep the text they are written with. A line that is
    not UTF-8 or not a JSON object gives `error` (a ReadError) instead of a record.
    """
    text, invalid = decode_lines(data)
    bad = dict(invalid)
    for number, line in enumerate(text.split("\n"), start=1):
        if number in bad:
            yield number, None, ReadError("invalid_utf8", bad[number])
            continue
        if not line.strip():
            continue
        try:
            record = json.loads(line, parse_float=str, parse_int=str)
        except ValueError:
            yield number, None, ReadError("invalid_json", "not JSON")
            continue
        if not isinstance(record, dict):
            yield number, None, ReadError("invalid_json", "not a JSON object")
            continue
        yield number, record, None


def raw_row(source_file, line, mapped, error, ingested_at):
    """One raw row (a tuple in column order): mapped values, or a read error and no values."""
    row = {
        "source_file": source_file,
        "line_number": line,
        "ingested_at": ingested_at,
        "read_error": error.reason if error else None,
        "read_error_detail": error.detail if error else None,
        **(mapped or {}),
    }
    return tuple(row.get(name) for name, _ in RAW_COLUMNS)


def landed_rows(source_file, records, mapping, ingested_at):
    """Raw rows of a file's (line, record) pairs, or (line, record, error) triples."""
    for item in records:
        number, record, error = item if len(item) == 3 else (item[0], item[1], None)
        mapped = None if error else map_columns(record, mapping, source_file)
        yield raw_row(source_file, number, mapped, error, ingested_at)


def file_rows(source_file, data, file_format, mapping, ingested_at):
    """Raw rows of a CSV or JSON-lines file's bytes (gunzipped first when the name ends in .gz).

    A mapped column the file lacks (the header, or every JSON object) raises MissingColumnError; a
    JSON object without a mapped key gets null for it, for stage to name what is missing.
    """
    if file_format not in ("csv", "jsonl"):
        raise ValueError(f"file_rows reads csv or jsonl, not {file_format}")
    if source_file.lower().endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error):
            return [raw_row(source_file, None, None, ReadError("unreadable_file", "not a gzip file"), ingested_at)]
    if not data:
        return [raw_row(source_file, None, None, ReadError("empty_file", "the file has no bytes"), ingested_at)]
    if file_format == "csv":
        header = csv_header(data)
        if header is not None:
            check_columns(header, mapping, source_file)
        records = list(csv_records(data, source_file))
    else:
        records = list(jsonl_records(data, source_file))
        keys = sorted({key for _, record, error in records if not error for key in record})
        if len(keys) > 0:
            check_columns(keys, mapping, source_file)
        records = [
            (line, None if error else {**dict.fromkeys(keys), **record}, error) for line, record, error in records
        ]
    return list(landed_rows(source_file, records, mapping, ingested_at))


def fetch_object(bucket, key):
    """The bytes of one object, read on the executor by its exact key."""
    import boto3

    return boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()


def read_file(spark, bucket, item, file_format, mapping, ingested_at):
    """An RDD of the raw rows of one landed file, read by its exact key."""
    file = item["file"]
    if item.get("size") == 0:
        empty = raw_row(file, None, None, ReadError("empty_file", "the file has no bytes"), ingested_at)
        return spark.sparkContext.parallelize([empty], 1)
    if file_format == "parquet":
        frame = spark.read.parquet(s3_url(bucket, hadoop_literal(item["key"])))
        check_columns(frame.columns, mapping, file)
        # One file's partitions come in file order, so the index is the row's position in the file.
        numbered = frame.rdd.zipWithIndex().map(lambda pair: (pair[1] + 1, pair[0].asDict()))
        return numbered.mapPartitions(lambda records: landed_rows(file, records, mapping, ingested_at))
    key = item["key"]
    return spark.sparkContext.parallelize([key], 1).flatMap(
        lambda key: file_rows(file, fetch_object(bucket, key), file_format, mapping, ingested_at)
    )


def main():
    from awsglue.context import GlueContext
    from awsglue.utils import getResolvedOptions
    from pyspark.context import SparkContext
    from pyspark.sql.functions import count

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
    listing = store.list(prefix)
    ignored = ignored_files(listing, prefix, file_format)
    if ignored:
        print(f"history: ignored {len(ignored)} file(s) that are not {file_format} order files: {', '.join(ignored)}")
    new_files = files_to_land(listing, prefix, file_format, manifest)
    if not new_files:
        print(f"history: no new files under s3://{bucket}/{prefix}")
        return

    ingested_at = ingested_at_of(started)
    parts = [read_file(spark, bucket, item, file_format, mapping, ingested_at) for item in new_files]
    frame = spark.createDataFrame(spark.sparkContext.union(parts), ddl_schema(RAW_COLUMNS)).cache()
    try:
        per_file = frame.groupBy("source_file").agg(count("*").alias("rows"), count("read_error").alias("errors"))
        counts, errors = {}, {}
        for row in per_file.collect():
            counts[row["source_file"]], errors[row["source_file"]] = row["rows"], row["errors"]
        run_id = new_run_id(started)
        ingest_date = ingest_date_for(sys.argv, started)
        files = dict(manifest["files"])
        for item in new_files:
            rows = counts.get(item["file"], 0)
            files[item["file"]] = {"etag": item["etag"], "ingest_date": ingest_date, "rows": rows, "run_id": run_id}
            unread = errors.get(item["file"], 0)
            note = f" ({unread} could not be read, see stage.rejects)" if unread else ""
            print(f"history {item['file']}: {rows} rows{note}")
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
