"""Glue job: the DynamoDB interactions table into the raw zone, through DynamoDB's export to S3.

The job never scans the table, so it consumes none of its read capacity. The first run requests a
FULL_EXPORT as of the table's latest restorable time; every later run requests an INCREMENTAL_EXPORT
from the end of the previous export (inclusive) to the latest restorable time (exclusive), in steps
of at most 24 hours, which is what DynamoDB accepts (and at least 15 minutes: a shorter window is left
for the next run). Both kinds of export need point-in-time recovery (PITR) enabled on the source
table; the job checks it and fails with a clear message when it is off.

Exports land (KMS-encrypted with the lake key) under `s3://<raw bucket>/_exports/dynamodb/<table>/`.
The job waits for the export, reads the data files its manifest lists, flattens each item to the
columns of the raw table `dynamodb_interactions` (lib/schema/tables.ts; every attribute kept as
text, plus the whole item as DynamoDB JSON in `item_json`) and publishes Parquet into
`s3://<raw bucket>/dynamodb/interactions/ingest_date=YYYY-MM-DD/`. The state object
`s3://<raw bucket>/_state/dynamodb/<table>.json` records the export in progress (so a rerun waits for
it instead of starting another) and, at the commit, the end time of the last landed export.

Every export request carries an idempotency token (ClientToken) made of the table, the window and the
attempt, the number of earlier failed exports of that window that the state records. DynamoDB answers
a token it saw in the last 8 hours with that export: a rerun after a job died mid-request gets the
running export back, and a rerun after a failed export gets a new export, not the failed one again.

Items deleted within an incremental window appear in the export with their `Keys` and without a new
image; they land as rows with only the keys set, `item_json` holding the keys, and `is_deleted` true,
and stage drops an item whose latest write is such a removal. A full export lists only live items and
carries no removals (see docs/sources.md for what that means after a gap longer than the PITR window).

Arguments: --raw_bucket, --table_name, --kms_key_arn.
"""

import hashlib
import json
import sys
import time
from datetime import datetime, timedelta, timezone

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

SOURCE = "dynamodb"
RAW_LOCATION = "dynamodb/interactions/"
EXPORTS_ROOT = "_exports/dynamodb"

# The raw table `dynamodb_interactions` of lib/schema/tables.ts (test/glue-scripts.test.ts checks
# that they agree). The columns before `item_json` are item attributes of the same name.
RAW_COLUMNS = (
    ("customer_key", "string"),
    ("event_key", "string"),
    ("event_id", "string"),
    ("event_type", "string"),
    ("event_at", "string"),
    ("customer_id", "string"),
    ("visitor_id", "string"),
    ("email", "string"),
    ("campaign_id", "string"),
    ("device", "string"),
    ("traffic_source", "string"),
    ("ip_address", "string"),
    ("success", "string"),
    ("ticket_category", "string"),
    ("resolution_minutes", "string"),
    ("satisfaction", "string"),
    ("product_id", "string"),
    ("rating", "string"),
    ("points", "string"),
    ("cost", "string"),
    ("item_json", "string"),
    ("ingested_at", "timestamp"),
    ("is_deleted", "boolean"),
)

MIN_INCREMENTAL_WINDOW = timedelta(minutes=15)
MAX_INCREMENTAL_WINDOW = timedelta(hours=24)


def _compact_json(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def attribute_text(value):
    """One DynamoDB JSON attribute as text: strings as they are, numbers with their exact decimal
    text, booleans as `true`/`false`, sets, lists and maps as their DynamoDB JSON (as the local
    extractor in lib/local/extract-dynamodb.ts does)."""
    if value is None or "NULL" in value:
        return None
    if "S" in value:
        return value["S"]
    if "N" in value:
        return value["N"]
    if "BOOL" in value:
        return "true" if value["BOOL"] else "false"
    return _compact_json(value)


def attribute_value(value, glue_type):
    """An attribute for a column of the given Glue type; a value that does not fit becomes null
    (the whole item is kept in `item_json`, so nothing is lost)."""
    text = attribute_text(value)
    if glue_type == "string" or text is None:
        return text
    try:
        if glue_type in ("bigint", "int"):
            number = float(text)
            return int(number) if number.is_integer() else None
        if glue_type == "double":
            return float(text)
    except ValueError:
        return None
    if glue_type == "boolean":
        return {"true": True, "false": False, "1": True, "0": False}.get(text.lower())
    raise ValueError(f"no conversion from a DynamoDB attribute to {glue_type}")


def flatten_item(item, ingested_at=None):
    """A DynamoDB-JSON item (`{"customer_key": {"S": "customer#1"}, ...}`) as a raw row: a dict with
    every column of `dynamodb_interactions`, `item_json` holding the whole item."""
    row = {}
    for name, glue_type in RAW_COLUMNS:
        if name == "item_json":
            row[name] = _compact_json(item)
        elif name == "ingested_at":
            row[name] = ingested_at
        elif name == "is_deleted":
            row[name] = False
        else:
            row[name] = attribute_value(item.get(name), glue_type)
    return row


def removed_item_row(keys, ingested_at=None):
    """The raw row of an item deleted in an incremental export's window: only its keys (the record's
    `Keys`) set, `item_json` holding them, `is_deleted` true. The same rule as `removedItemRow` in
    lib/local/extract-dynamodb.ts."""
    row = {name: None for name, _ in RAW_COLUMNS}
    for name, glue_type in RAW_COLUMNS:
        if name in keys and name not in ("item_json", "ingested_at", "is_deleted"):
            row[name] = attribute_value(keys[name], glue_type)
    row.update(item_json=_compact_json(keys), ingested_at=ingested_at, is_deleted=True)
    return row


def item_from_export_line(line):
    """The item of one line of an export data file, or None for a deletion or a blank line.

    A full export line is `{"Item": {...}}`; an incremental one is `{"Metadata": ..., "Keys": ...,
    "NewImage": {...}}`, without `NewImage` when the item was deleted.
    """
    if not line.strip():
        return None
    record = json.loads(line)
    if "Item" in record:
        return record["Item"]
    return record.get("NewImage")


def export_row(line, ingested_at):
    """The raw row (a tuple in column order) for an export line, or None for a blank line: the item,
    or for an incremental record without `NewImage` (a deletion) the removal row of its `Keys`."""
    item = item_from_export_line(line)
    if item is not None:
        row = flatten_item(item, ingested_at)
    elif line.strip():
        keys = json.loads(line).get("Keys")
        if not keys:
            raise ValueError("export record has neither Item, NewImage nor Keys")
        row = removed_item_row(keys, ingested_at)
    else:
        return None
    return tuple(row[name] for name, _ in RAW_COLUMNS)


def iso(moment):
    return moment.astimezone(timezone.utc).isoformat()


def parse_iso(text):
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"expected a timestamp with a time zone, got {text!r}")
    return moment


def plan_export(state, earliest_restorable, latest_restorable):
    """The next export to request, or None when the last one ended less than 15 minutes ago.

    A FULL_EXPORT as of the latest restorable time when nothing was exported yet, or when the last
    export ended before the PITR window (the events since then could not be exported incrementally;
    stage deduplicates the events a second full export repeats). Otherwise an INCREMENTAL_EXPORT
    from the last end time for at most 24 hours.
    """
    exported_to = state.get("exported_to")
    if exported_to is None or parse_iso(exported_to) < earliest_restorable:
        return {"type": "FULL_EXPORT", "export_time": iso(latest_restorable)}
    start = parse_iso(exported_to)
    if latest_restorable - start < MIN_INCREMENTAL_WINDOW:
        return None
    end = min(start + MAX_INCREMENTAL_WINDOW, latest_restorable)
    return {"type": "INCREMENTAL_EXPORT", "from": iso(start), "to": iso(end)}


def plan_end(plan):
    """The time the table is exported up to once the planned export lands."""
    return plan["export_time"] if plan["type"] == "FULL_EXPORT" else plan["to"]


def export_prefix(table_name, plan):
    """Where an export's files go: `_exports/dynamodb/<table>/<full|incremental>-<end time>/`."""
    stamp = parse_iso(plan_end(plan)).astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    kind = "full" if plan["type"] == "FULL_EXPORT" else "incremental"
    return f"{EXPORTS_ROOT}/{table_name}/{kind}-{stamp}/"


def client_token(table_arn, plan, attempt=0):
    """Idempotency token of an export request: the table, the planned window and the attempt.

    DynamoDB answers a request whose token it saw in the last 8 hours with that earlier export, so
    a repeated request of the same attempt (a job that died before recording the export ARN) gets
    the running export back instead of starting a second one, while the attempt after a failed
    export has a new token and starts a new export instead of getting the failed one back.
    """
    if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 0:
        raise ValueError(f"export attempt must be a non-negative integer, got {attempt!r}")
    text = f"{table_arn}|{json.dumps(plan, sort_keys=True)}|{attempt}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def failed_attempts(state, plan):
    """How many exports of this very window failed before (recorded in the state by `record_failure`)."""
    return sum(1 for failure in state.get("failed_exports", []) if failure.get("plan") == plan)


def next_export(state, earliest_restorable, latest_restorable):
    """The export to follow or request: `{"plan", "attempt"}` plus `export_arn` once it is known.

    An export recorded as in progress is followed again with its own plan and attempt (so, if its ARN
    was never recorded, it is requested again with the same token and DynamoDB hands back the same
    export). Otherwise the next window is planned, and its attempt is the number of failed exports
    of that window so far. None when there is nothing to export yet.
    """
    in_progress = state.get("in_progress")
    if in_progress:
        return {"attempt": 0, **in_progress}
    plan = plan_export(state, earliest_restorable, latest_restorable)
    if plan is None:
        return None
    return {"plan": plan, "attempt": failed_attempts(state, plan)}


def record_failure(state, export, description):
    """The state after a failed export: no export in progress, and the failure counted for its window."""
    failure = {
        "plan": export["plan"],
        "attempt": export.get("attempt", 0),
        "export_arn": description.get("ExportArn", export.get("export_arn")),
        "status": description.get("ExportStatus"),
        "failure_code": description.get("FailureCode"),
        "failure_message": description.get("FailureMessage"),
    }
    kept = {name: value for name, value in state.items() if name != "in_progress"}
    return {**kept, "failed_exports": [*state.get("failed_exports", []), failure]}


def export_request(table_arn, bucket, kms_key_arn, table_name, plan, attempt=0):
    """Keyword arguments of `export_table_to_point_in_time` for a planned export."""
    request = {
        "TableArn": table_arn,
        "ClientToken": client_token(table_arn, plan, attempt),
        "S3Bucket": bucket,
        "S3Prefix": export_prefix(table_name, plan),
        "S3SseAlgorithm": "KMS",
        "S3SseKmsKeyId": kms_key_arn,
        "ExportFormat": "DYNAMODB_JSON",
        "ExportType": plan["type"],
    }
    if plan["type"] == "FULL_EXPORT":
        request["ExportTime"] = parse_iso(plan["export_time"])
    else:
        request["IncrementalExportSpecification"] = {
            "ExportFromTime": parse_iso(plan["from"]),
            "ExportToTime": parse_iso(plan["to"]),
            "ExportViewType": "NEW_IMAGE",
        }
    return request


def manifest_files_key(summary, summary_key):
    """Key of `manifest-files.json`, from the summary manifest (or beside it)."""
    key = summary.get("manifestFilesS3Key")
    if key:
        return key
    folder = summary_key.rsplit("/", 1)[0]
    return f"{folder}/manifest-files.json"


def data_keys_from_manifest(manifest_files_text):
    """The data file keys listed in `manifest-files.json` (one JSON object per line)."""
    keys = []
    for line in manifest_files_text.splitlines():
        if line.strip():
            keys.append(json.loads(line)["dataFileS3Key"])
    return keys


def pitr_window(backups_description, table_name):
    """(earliest, latest) restorable times; fails clearly when PITR is off, as exports need it."""
    pitr = backups_description.get("PointInTimeRecoveryDescription", {})
    if pitr.get("PointInTimeRecoveryStatus") != "ENABLED":
        raise RuntimeError(
            f"Point-in-time recovery is not enabled on DynamoDB table {table_name}; DynamoDB exports "
            "to S3 need it. Enable it with: aws dynamodb update-continuous-backups "
            f"--table-name {table_name} --point-in-time-recovery-specification PointInTimeRecoveryEnabled=true"
        )
    return pitr["EarliestRestorableDateTime"], pitr["LatestRestorableDateTime"]


def wait_for_export(dynamodb, export_arn, poll_seconds=30):
    while True:
        description = dynamodb.describe_export(ExportArn=export_arn)["ExportDescription"]
        status = description["ExportStatus"]
        if status != "IN_PROGRESS":
            return description
        print(f"dynamodb: export {export_arn} in progress")
        time.sleep(poll_seconds)


def land_export(spark, store, bucket, table_name, key, state, plan, description, started):
    """Flattens a completed export into the raw partition and commits; returns the new state."""
    summary_key = description["ExportManifest"]
    summary = store.read_json(summary_key)
    data_keys = data_keys_from_manifest(store.read_text(manifest_files_key(summary, summary_key)))
    committed = {
        "exported_to": plan_end(plan),
        "last_export": {"arn": description["ExportArn"], "type": plan["type"], "items": description.get("ItemCount")},
    }
    if not data_keys:
        store.write_json(key, committed)
        return committed

    ingested_at = ingested_at_of(started)
    lines = spark.sparkContext.textFile(",".join(s3_url(bucket, data_key) for data_key in data_keys))
    rows = lines.map(lambda line: export_row(line, ingested_at)).filter(lambda row: row is not None)
    frame = spark.createDataFrame(rows, ddl_schema(RAW_COLUMNS)).cache()
    try:
        count = frame.count()
        if count == 0:
            store.write_json(key, committed)
            return committed
        run_id = new_run_id(started)
        staging = staging_prefix(SOURCE, table_name, run_id)
        frame.write.mode("overwrite").parquet(s3_url(bucket, staging))
        partition = partition_prefix(RAW_LOCATION, ingest_date_for(sys.argv, started))
        committed["last_export"]["rows"] = count
        publish(store, key, state, staging, partition, run_id, committed)
        print(f"dynamodb.{table_name}: {count} items from {plan['type']} up to {plan_end(plan)}")
        return committed
    finally:
        frame.unpersist()


def main():
    import boto3
    from awsglue.context import GlueContext
    from awsglue.utils import getResolvedOptions
    from pyspark.context import SparkContext

    args = getResolvedOptions(sys.argv, ["JOB_NAME", "raw_bucket", "table_name", "kms_key_arn"])
    bucket, table_name = args["raw_bucket"], args["table_name"]
    spark = GlueContext(SparkContext.getOrCreate()).spark_session
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    started = utc_now()
    store = S3Store(bucket)
    dynamodb = boto3.client("dynamodb")

    table_arn = dynamodb.describe_table(TableName=table_name)["Table"]["TableArn"]
    backups = dynamodb.describe_continuous_backups(TableName=table_name)["ContinuousBackupsDescription"]
    earliest, latest = pitr_window(backups, table_name)

    key = state_key(SOURCE, table_name)
    state = recover(store, key, store.read_json(key), SOURCE, table_name)
    # Catch up in windows of at most 24 hours; each window is committed on its own.
    while True:
        export = next_export(state, earliest, latest)
        if export is None:
            print(f"dynamodb.{table_name}: exported up to {state.get('exported_to')}; nothing new yet")
            break
        plan, export_arn = export["plan"], export.get("export_arn")
        if export_arn:
            print(f"dynamodb: resuming export {export_arn}")
        else:
            # Recorded before the request: a run that dies before it records the ARN is followed by
            # one that sends the same token and so gets the same export back.
            state = {**state, "in_progress": export}
            store.write_json(key, state)
            request = export_request(table_arn, bucket, args["kms_key_arn"], table_name, plan, export["attempt"])
            export_arn = dynamodb.export_table_to_point_in_time(**request)["ExportDescription"]["ExportArn"]
            state = {**state, "in_progress": {**export, "export_arn": export_arn}}
            store.write_json(key, state)
        description = wait_for_export(dynamodb, export_arn)
        if description["ExportStatus"] != "COMPLETED":
            state = record_failure(state, {**export, "export_arn": export_arn}, description)
            store.write_json(key, state)
            raise RuntimeError(
                f"DynamoDB export {export_arn} of {table_name} (attempt {export['attempt']}) "
                f"{description['ExportStatus']}: {description.get('FailureCode')} {description.get('FailureMessage')}"
            )
        state = land_export(spark, store, bucket, table_name, key, state, plan, description, started)


if __name__ == "__main__":
    main()
