"""Shared pieces of the Customer 360 Glue jobs, shipped to every job with `--extra-py-files`.

Pure helpers (raw-zone keys, dates, Spark column expressions) and the publish protocol that makes
each extraction land exactly once in the raw zone:

1. the job writes its Parquet files under a staging prefix (`_tmp/<source>/<name>/<run id>/`);
2. it records the partition keys it is about to create as `pending` in its state object;
3. it copies the staged files into the table partition under those keys;
4. it stores its new state (watermark, export time or manifest) without `pending`: the commit point;
5. it deletes the staging files.

A run that finds `pending` (or staging files) left by a failed run deletes them before extracting
again from the unchanged watermark, so a failure at any step neither loses nor duplicates rows.
Concurrent runs of one job would race on the state object, so every job allows one run at a time.

Importing this module needs only the standard library; boto3 is imported when an `S3Store` is made.
"""

import json
import posixpath
import re
import uuid
from datetime import datetime, timezone

STATE_ROOT = "_state"
STAGING_ROOT = "_tmp"

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def utc_now():
    """The current time, timezone-aware in UTC."""
    return datetime.now(timezone.utc)


def ingest_date_of(moment):
    """`YYYY-MM-DD` of a moment in UTC: the `ingest_date` partition an extraction lands in."""
    if moment.tzinfo is None:
        raise ValueError("expected a timezone-aware datetime")
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d")


def ingest_date_for(argv, started):
    """The raw partition an extraction lands in: the pipeline's run date when the state machine passes
    `--ingest_date YYYY-MM-DD` (so a run and its extraction agree on the date), else the start date."""
    for index, value in enumerate(argv):
        if value == "--ingest_date" and index + 1 < len(argv):
            requested = argv[index + 1]
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", requested):
                raise ValueError(f"--ingest_date must be YYYY-MM-DD, got {requested!r}")
            return requested
    return ingest_date_of(started)


def ingested_at_of(moment):
    """The `ingested_at` value of a moment for `createDataFrame`: an aware UTC datetime.

    PySpark converts naive datetimes with the driver's local time zone; aware ones are exact.
    """
    if moment.tzinfo is None:
        raise ValueError("expected a timezone-aware datetime")
    return moment.astimezone(timezone.utc)


def timestamp_text(moment):
    """A moment as UTC timestamp text for Spark SQL (`CAST('...' AS timestamp)` in a UTC session)."""
    if moment.tzinfo is None:
        raise ValueError("expected a timezone-aware datetime")
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


def partition_prefix(location, ingest_date):
    """Key prefix of a raw table's partition, e.g. `mysql/orders/ingest_date=2024-05-01/`."""
    if not location.endswith("/") or location.startswith("/"):
        raise ValueError(f"table location must be a relative prefix ending in '/', got {location!r}")
    if not _DATE.match(ingest_date):
        raise ValueError(f"ingest_date must be YYYY-MM-DD, got {ingest_date!r}")
    return f"{location}ingest_date={ingest_date}/"


def _checked_name(kind, value):
    if not _NAME.match(value):
        raise ValueError(f"{kind} must be letters, digits, '.', '_' or '-', got {value!r}")
    return value


def state_key(source, name):
    """Key of a job's state object in the raw bucket: `_state/<source>/<name>.json`."""
    return f"{STATE_ROOT}/{_checked_name('source', source)}/{_checked_name('state name', name)}.json"


def staging_root(source, name):
    """Prefix holding every staging folder of one source table."""
    return f"{STAGING_ROOT}/{_checked_name('source', source)}/{_checked_name('staging name', name)}/"


def staging_prefix(source, name, run_id):
    """Where one run writes its Parquet files before they are published into the partition."""
    return f"{staging_root(source, name)}{_checked_name('run id', run_id)}/"


def new_run_id(moment):
    """A sortable, unique id for one run: `20240501T030000Z-1a2b3c4d`."""
    return f"{moment.astimezone(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:8]}"


def s3_url(bucket, key=""):
    return f"s3://{bucket}/{key}"


def publish_plan(staged_keys, partition, run_id):
    """(staged key, published key) pairs for a run's Parquet files.

    Spark also writes `_SUCCESS` markers and folder placeholders; only `.parquet` files are
    published. Published names start with the run id, so the files of one run can be found and
    removed again if the run fails before its commit.
    """
    pairs = []
    for key in sorted(staged_keys):
        base = posixpath.basename(key)
        if not base.endswith(".parquet") or base.startswith(("_", ".")):
            continue
        pairs.append((key, f"{partition}{run_id}-{base}"))
    return pairs


def spark_select_exprs(columns):
    """Spark SQL expressions that give a DataFrame exactly `columns` ((name, type) pairs), in order.

    The types are the Glue type names of lib/schema/tables.ts, which Spark SQL also understands.
    """
    return [f"CAST(`{name}` AS {glue_type}) AS `{name}`" for name, glue_type in columns]


def ddl_schema(columns):
    """A Spark DDL schema string for (name, type) pairs: "`a` bigint, `b` string"."""
    return ", ".join(f"`{name}` {glue_type}" for name, glue_type in columns)


class S3Store:
    """The few S3 operations the jobs need, on one bucket (boto3, imported lazily)."""

    def __init__(self, bucket, client=None):
        if client is None:
            import boto3

            client = boto3.client("s3")
        self.bucket = bucket
        self.client = client

    def read_json(self, key):
        """The JSON object at `key`, or None when there is none.

        Looked up by listing first: the job roles may list only their own prefixes, and S3 answers a
        GET of a missing key with 403, not 404, to a caller that may not list the bucket.
        """
        listed = self.client.list_objects_v2(Bucket=self.bucket, Prefix=key, MaxKeys=1)
        if not any(item["Key"] == key for item in listed.get("Contents", [])):
            return None
        body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return json.loads(body)

    def read_text(self, key):
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read().decode("utf-8")

    def write_json(self, key, value):
        body = (json.dumps(value, indent=2, sort_keys=True) + "\n").encode("utf-8")
        self.client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/json")

    def list(self, prefix):
        """Objects under a prefix as dicts with `key`, `etag` (unquoted) and `size`."""
        found = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                found.append({"key": item["Key"], "etag": item["ETag"].strip('"'), "size": item["Size"]})
        return found

    def copy(self, source_key, target_key):
        self.client.copy_object(
            Bucket=self.bucket,
            Key=target_key,
            CopySource={"Bucket": self.bucket, "Key": source_key},
        )

    def delete(self, keys):
        """Deletes keys, 1,000 per request; fails naming every key S3 could not delete.

        In quiet mode DeleteObjects answers HTTP 200 and lists only the keys it failed to delete (for
        example AccessDenied outside the role's prefixes), so the answer must be read: an undeleted
        staging or partly published file would otherwise be left behind silently.
        """
        keys = list(keys)
        for start in range(0, len(keys), 1000):
            batch = [{"Key": key} for key in keys[start : start + 1000]]
            answer = self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
            errors = delete_errors(answer)
            if errors:
                raise RuntimeError(f"could not delete from s3://{self.bucket}: {'; '.join(errors)}")


def delete_errors(answer):
    """`<key>: <code> <message>` for each per-key error of a DeleteObjects answer."""
    return [
        f"{error.get('Key')}: {error.get('Code')} {error.get('Message')}".rstrip()
        for error in answer.get("Errors", [])
    ]


def recover(store, key, state, source, name):
    """Undoes what a failed run left behind and returns the state to extract from.

    Deletes the partition files a run had started to publish (`pending`) and every staging file of
    this source table, then stores the state without `pending`. The watermark in `state` is the one
    of the last committed run, so the next extraction starts exactly where that run ended.
    """
    state = dict(state or {})
    pending = state.pop("pending", None)
    leftovers = [item["key"] for item in store.list(staging_root(source, name))]
    if pending:
        store.delete(pending.get("keys", []))
    if leftovers:
        store.delete(leftovers)
    if pending:
        store.write_json(key, state)
    return state


def publish(store, key, state, staging, partition, run_id, committed_state):
    """Publishes a run's staged Parquet files into `partition` and commits `committed_state`.

    Returns the published keys. If anything fails before the commit, `state` (with `pending`) is
    what the next run finds, and `recover` removes the partly published files.
    """
    pairs = publish_plan([item["key"] for item in store.list(staging)], partition, run_id)
    targets = [target for _, target in pairs]
    if pairs:
        store.write_json(key, {**state, "pending": {"run_id": run_id, "keys": targets}})
        for source_key, target_key in pairs:
            store.copy(source_key, target_key)
    committed = {key_: value for key_, value in committed_state.items() if key_ != "pending"}
    store.write_json(key, committed)
    leftovers = [item["key"] for item in store.list(staging)]
    if leftovers:
        store.delete(leftovers)
    return targets
