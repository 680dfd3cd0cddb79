"""Tests of the shared Glue helpers: raw-zone keys and the publish protocol."""

import os
import re
import sys
import unittest
from datetime import datetime, timedelta, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, ".."), os.path.join(HERE, "..", "common")]

import c360_glue  # noqa: E402
from c360_glue import (  # noqa: E402
    ddl_schema,
    ingest_date_for,
    ingest_date_of,
    new_run_id,
    partition_prefix,
    publish,
    publish_plan,
    recover,
    spark_select_exprs,
    staging_prefix,
    state_key,
    timestamp_text,
)


class FakeStore:
    """An in-memory stand-in for c360_glue.S3Store; `fail_on_copy` makes the n-th copy fail."""

    def __init__(self, objects=None, fail_on_copy=None):
        self.objects = dict(objects or {})
        self.fail_on_copy = fail_on_copy
        self.copies = 0
        self.writes = 0

    def read_json(self, key):
        return self.objects.get(key)

    def write_json(self, key, value):
        self.writes += 1
        self.objects[key] = value

    def list(self, prefix):
        return [{"key": key, "etag": "e", "size": 1} for key in sorted(self.objects) if key.startswith(prefix)]

    def copy(self, source_key, target_key):
        self.copies += 1
        if self.fail_on_copy == self.copies:
            raise RuntimeError("copy failed")
        self.objects[target_key] = self.objects[source_key]

    def delete(self, keys):
        for key in keys:
            self.objects.pop(key, None)


class FakeS3Client:
    """Answers DeleteObjects as S3 does in quiet mode: only the keys it failed to delete, in `Errors`."""

    def __init__(self, errors=None):
        self.errors = errors or {}
        self.requests = []

    def delete_objects(self, **request):
        self.requests.append(request)
        failed = [item["Key"] for item in request["Delete"]["Objects"] if item["Key"] in self.errors]
        answer = {"ResponseMetadata": {"HTTPStatusCode": 200}}
        if failed:
            answer["Errors"] = [
                {"Key": key, "Code": self.errors[key][0], "Message": self.errors[key][1]} for key in failed
            ]
        return answer


STATE = "_state/mysql/orders.json"
PARTITION = "mysql/orders/ingest_date=2024-05-01/"


def staged(run_id, *names):
    prefix = f"_tmp/mysql/orders/{run_id}/"
    return {f"{prefix}{name}": f"data of {name}" for name in names}


class PathTests(unittest.TestCase):
    def test_partition_prefix(self):
        self.assertEqual(partition_prefix("mysql/orders/", "2024-05-01"), "mysql/orders/ingest_date=2024-05-01/")
        with self.assertRaisesRegex(ValueError, "YYYY-MM-DD"):
            partition_prefix("mysql/orders/", "2024-5-1")
        with self.assertRaisesRegex(ValueError, "ending in '/'"):
            partition_prefix("mysql/orders", "2024-05-01")

    def test_state_and_staging_keys(self):
        self.assertEqual(state_key("mysql", "order_items"), "_state/mysql/order_items.json")
        self.assertEqual(state_key("history", "manifest"), "_state/history/manifest.json")
        self.assertEqual(
            staging_prefix("dynamodb", "customer-interactions", "20240501T030000Z-0a1b2c3d"),
            "_tmp/dynamodb/customer-interactions/20240501T030000Z-0a1b2c3d/",
        )
        with self.assertRaisesRegex(ValueError, "state name"):
            state_key("mysql", "../orders")

    def test_ingest_date_is_the_utc_date(self):
        # 23:30 at UTC-2 is 01:30 UTC on the next day.
        moment = datetime(2024, 5, 1, 23, 30, tzinfo=timezone(timedelta(hours=-2)))
        self.assertEqual(ingest_date_of(moment), "2024-05-02")
        with self.assertRaisesRegex(ValueError, "timezone-aware"):
            ingest_date_of(datetime(2024, 5, 1))

    def test_timestamp_text_is_utc(self):
        moment = datetime(2024, 5, 1, 5, 0, 0, 1500, tzinfo=timezone(timedelta(hours=2)))
        self.assertEqual(timestamp_text(moment), "2024-05-01 03:00:00.001500")

    def test_run_ids_sort_by_time_and_differ(self):
        moment = datetime(2024, 5, 1, 3, 0, 0, tzinfo=timezone.utc)
        first, second = new_run_id(moment), new_run_id(moment)
        self.assertRegex(first, re.compile(r"^20240501T030000Z-[0-9a-f]{8}$"))
        self.assertNotEqual(first, second)

    def test_publish_plan_takes_only_parquet_files_and_prefixes_the_run(self):
        keys = [
            "_tmp/mysql/orders/R/part-00001-u.snappy.parquet",
            "_tmp/mysql/orders/R/_SUCCESS",
            "_tmp/mysql/orders/R/part-00000-u.snappy.parquet",
        ]
        self.assertEqual(
            publish_plan(keys, PARTITION, "R"),
            [
                ("_tmp/mysql/orders/R/part-00000-u.snappy.parquet", f"{PARTITION}R-part-00000-u.snappy.parquet"),
                ("_tmp/mysql/orders/R/part-00001-u.snappy.parquet", f"{PARTITION}R-part-00001-u.snappy.parquet"),
            ],
        )

    def test_spark_expressions(self):
        columns = [("order_id", "bigint"), ("total_amount", "decimal(12,2)")]
        self.assertEqual(
            spark_select_exprs(columns),
            ["CAST(`order_id` AS bigint) AS `order_id`", "CAST(`total_amount` AS decimal(12,2)) AS `total_amount`"],
        )
        self.assertEqual(ddl_schema(columns), "`order_id` bigint, `total_amount` decimal(12,2)")


class PublishTests(unittest.TestCase):
    def test_publishes_the_files_then_commits_and_cleans_up(self):
        store = FakeStore(
            {STATE: {"watermark": "old"}, **staged("R1", "part-00000-a.snappy.parquet", "_SUCCESS")}
        )
        published = publish(
            store, STATE, {"watermark": "old"}, "_tmp/mysql/orders/R1/", PARTITION, "R1", {"watermark": "new"}
        )
        self.assertEqual(published, [f"{PARTITION}R1-part-00000-a.snappy.parquet"])
        self.assertEqual(
            store.objects,
            {STATE: {"watermark": "new"}, f"{PARTITION}R1-part-00000-a.snappy.parquet": "data of part-00000-a.snappy.parquet"},
        )

    def test_a_failed_publish_is_undone_and_the_rerun_lands_each_row_once(self):
        names = ("part-00000-a.snappy.parquet", "part-00001-a.snappy.parquet")
        store = FakeStore({STATE: {"watermark": "old"}, **staged("R1", *names)}, fail_on_copy=2)
        with self.assertRaisesRegex(RuntimeError, "copy failed"):
            publish(store, STATE, {"watermark": "old"}, "_tmp/mysql/orders/R1/", PARTITION, "R1", {"watermark": "new"})
        # The first file reached the partition; the state still has the old watermark and the pending keys.
        self.assertIn(f"{PARTITION}R1-part-00000-a.snappy.parquet", store.objects)
        self.assertEqual(store.objects[STATE]["watermark"], "old")
        self.assertEqual(
            store.objects[STATE]["pending"]["keys"],
            [f"{PARTITION}R1-part-00000-a.snappy.parquet", f"{PARTITION}R1-part-00001-a.snappy.parquet"],
        )

        state = recover(store, STATE, store.read_json(STATE), "mysql", "orders")
        self.assertEqual(state, {"watermark": "old"})
        self.assertEqual(store.objects, {STATE: {"watermark": "old"}})

        # The rerun extracts again from the old watermark and publishes its own files only.
        store.fail_on_copy = None
        store.objects.update(staged("R2", *names))
        publish(store, STATE, state, "_tmp/mysql/orders/R2/", PARTITION, "R2", {"watermark": "new"})
        self.assertEqual(
            sorted(store.objects),
            [STATE, f"{PARTITION}R2-part-00000-a.snappy.parquet", f"{PARTITION}R2-part-00001-a.snappy.parquet"],
        )
        self.assertEqual(store.objects[STATE], {"watermark": "new"})

    def test_recover_removes_staging_left_after_a_commit_without_rewriting_state(self):
        store = FakeStore({STATE: {"watermark": "new"}, **staged("R1", "part-00000-a.snappy.parquet")})
        state = recover(store, STATE, store.read_json(STATE), "mysql", "orders")
        self.assertEqual(state, {"watermark": "new"})
        self.assertEqual(store.objects, {STATE: {"watermark": "new"}})
        self.assertEqual(store.writes, 0)

    def test_recover_of_a_first_run_starts_from_an_empty_state(self):
        self.assertEqual(recover(FakeStore(), STATE, None, "mysql", "orders"), {})

    def test_s3_store_delete_fails_naming_the_keys_s3_did_not_delete(self):
        client = FakeS3Client(
            errors={"_tmp/mysql/orders/R1/b.parquet": ("AccessDenied", "Access Denied")}
        )
        store = c360_glue.S3Store("raw", client)
        keys = ["_tmp/mysql/orders/R1/a.parquet", "_tmp/mysql/orders/R1/b.parquet"]
        with self.assertRaisesRegex(
            RuntimeError,
            r"^could not delete from s3://raw: _tmp/mysql/orders/R1/b\.parquet: AccessDenied Access Denied$",
        ):
            store.delete(keys)
        # One quiet request for both keys; the key that was deleted stays deleted.
        self.assertEqual(client.requests, [{"Bucket": "raw", "Delete": {"Objects": [{"Key": k} for k in keys], "Quiet": True}}])

    def test_s3_store_delete_sends_at_most_1000_keys_per_request(self):
        client = FakeS3Client()
        c360_glue.S3Store("raw", client).delete(f"k{i}" for i in range(1001))
        self.assertEqual([len(r["Delete"]["Objects"]) for r in client.requests], [1000, 1])

    def test_s3_store_is_importable_without_boto3(self):
        self.assertTrue(callable(c360_glue.S3Store))
        self.assertNotIn("boto3", sys.modules)


if __name__ == "__main__":
    unittest.main()


class IngestDateForTest(unittest.TestCase):
    started = datetime(2024, 5, 1, 23, 30, tzinfo=timezone.utc)

    def test_uses_the_run_date_the_state_machine_passes(self):
        argv = ["script.py", "--JOB_NAME", "x", "--ingest_date", "2024-04-30"]
        self.assertEqual(ingest_date_for(argv, self.started), "2024-04-30")

    def test_falls_back_to_the_start_date_in_utc(self):
        self.assertEqual(ingest_date_for(["script.py", "--JOB_NAME", "x"], self.started), "2024-05-01")

    def test_rejects_a_malformed_date(self):
        with self.assertRaises(ValueError):
            ingest_date_for(["script.py", "--ingest_date", "30/04/2024"], self.started)
