"""Tests of the DynamoDB extraction's pure functions: flattening items and planning exports."""

import os
import sys
import unittest
from datetime import datetime, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, ".."), os.path.join(HERE, "..", "common")]

from extract_dynamodb import (  # noqa: E402
    RAW_COLUMNS,
    attribute_value,
    client_token,
    data_keys_from_manifest,
    export_request,
    export_row,
    flatten_item,
    item_from_export_line,
    manifest_files_key,
    next_export,
    pitr_window,
    plan_export,
    record_failure,
)

UTC = timezone.utc
INGESTED = datetime(2024, 5, 2, 3, 0, tzinfo=UTC)
LOGIN = {
    "customer_key": {"S": "customer#42"},
    "event_key": {"S": "2024-05-01T10:00:00Z#e-1"},
    "event_id": {"S": "e-1"},
    "event_type": {"S": "login"},
    "event_at": {"S": "2024-05-01T10:00:00Z"},
    "updated_at": {"S": "2024-05-01T10:00:01Z"},
    "customer_id": {"N": "42"},
    "device": {"S": "mobile"},
    "ip_address": {"S": "203.0.113.7"},
    "success": {"BOOL": False},
}
LOGIN_JSON = (
    '{"customer_key":{"S":"customer#42"},"event_key":{"S":"2024-05-01T10:00:00Z#e-1"},'
    '"event_id":{"S":"e-1"},"event_type":{"S":"login"},"event_at":{"S":"2024-05-01T10:00:00Z"},'
    '"updated_at":{"S":"2024-05-01T10:00:01Z"},"customer_id":{"N":"42"},"device":{"S":"mobile"},'
    '"ip_address":{"S":"203.0.113.7"},"success":{"BOOL":false}}'
)


class FlattenTests(unittest.TestCase):
    def test_a_login_becomes_one_row_with_every_column(self):
        expected = {name: None for name, _ in RAW_COLUMNS}
        expected.update(
            customer_key="customer#42",
            event_key="2024-05-01T10:00:00Z#e-1",
            event_id="e-1",
            event_type="login",
            event_at="2024-05-01T10:00:00Z",
            customer_id="42",
            device="mobile",
            ip_address="203.0.113.7",
            success="false",
            item_json=LOGIN_JSON,
            ingested_at=INGESTED,
            is_deleted=False,
        )
        self.assertEqual(flatten_item(LOGIN, INGESTED), expected)

    def test_numbers_keep_their_text_and_other_types_their_dynamodb_json(self):
        item = {
            "customer_key": {"S": "email#ana@example.com"},
            "event_type": {"S": "support_ticket"},
            "resolution_minutes": {"N": "12.50"},
            "satisfaction": {"NULL": True},
            "ticket_category": {"M": {"code": {"S": "billing"}}},
            "campaign_id": {"SS": ["c1", "c2"]},
        }
        row = flatten_item(item)
        self.assertEqual(row["resolution_minutes"], "12.50")
        self.assertIsNone(row["satisfaction"])
        self.assertEqual(row["ticket_category"], '{"M":{"code":{"S":"billing"}}}')
        self.assertEqual(row["campaign_id"], '{"SS":["c1","c2"]}')
        self.assertIsNone(row["event_id"])
        self.assertIsNone(row["ingested_at"])
        self.assertEqual(list(row), [name for name, _ in RAW_COLUMNS])

    def test_typed_columns_convert_or_become_null(self):
        self.assertEqual(attribute_value({"N": "42"}, "bigint"), 42)
        self.assertIsNone(attribute_value({"N": "4.5"}, "bigint"))
        self.assertEqual(attribute_value({"N": "4.5"}, "double"), 4.5)
        self.assertIsNone(attribute_value({"S": "n/a"}, "double"))
        self.assertIs(attribute_value({"BOOL": True}, "boolean"), True)
        self.assertIsNone(attribute_value({"S": "maybe"}, "boolean"))

    def test_export_lines(self):
        self.assertEqual(item_from_export_line('{"Item":{"event_id":{"S":"e-1"}}}'), {"event_id": {"S": "e-1"}})
        incremental = (
            '{"Metadata":{"WriteTimestampMicros":{"N":"1714557600000000"}},'
            '"Keys":{"customer_key":{"S":"c"}},"NewImage":{"event_id":{"S":"e-2"}}}'
        )
        self.assertEqual(item_from_export_line(incremental), {"event_id": {"S": "e-2"}})
        deletion = '{"Metadata":{},"Keys":{"customer_key":{"S":"c"},"event_key":{"S":"k"}}}'
        self.assertIsNone(item_from_export_line(deletion))
        self.assertIsNone(item_from_export_line("  "))
        row = export_row('{"Item":' + LOGIN_JSON + "}", INGESTED)
        self.assertEqual(len(row), len(RAW_COLUMNS))
        self.assertEqual((row[0], row[-3], row[-2], row[-1]), ("customer#42", LOGIN_JSON, INGESTED, False))
        self.assertIsNone(export_row("  ", INGESTED))

    def test_a_deletion_lands_as_its_keys_marked_deleted(self):
        deletion = '{"Metadata":{},"Keys":{"customer_key":{"S":"c"},"event_key":{"S":"k"}}}'
        row = dict(zip([name for name, _ in RAW_COLUMNS], export_row(deletion, INGESTED)))
        expected = {name: None for name, _ in RAW_COLUMNS}
        expected.update(
            customer_key="c",
            event_key="k",
            item_json='{"customer_key":{"S":"c"},"event_key":{"S":"k"}}',
            ingested_at=INGESTED,
            is_deleted=True,
        )
        self.assertEqual(row, expected)
        with self.assertRaises(ValueError):
            export_row('{"Metadata":{}}', INGESTED)


EARLIEST = datetime(2024, 4, 1, 0, 0, tzinfo=UTC)


class PlanTests(unittest.TestCase):
    def test_the_first_export_is_a_full_export_at_the_latest_restorable_time(self):
        latest = datetime(2024, 5, 1, 2, 55, tzinfo=UTC)
        self.assertEqual(
            plan_export({}, EARLIEST, latest), {"type": "FULL_EXPORT", "export_time": "2024-05-01T02:55:00+00:00"}
        )

    def test_later_exports_continue_from_the_last_end(self):
        state = {"exported_to": "2024-05-01T03:00:00+00:00"}
        self.assertEqual(
            plan_export(state, EARLIEST, datetime(2024, 5, 2, 2, 55, tzinfo=UTC)),
            {"type": "INCREMENTAL_EXPORT", "from": "2024-05-01T03:00:00+00:00", "to": "2024-05-02T02:55:00+00:00"},
        )

    def test_an_incremental_export_covers_at_most_24_hours(self):
        state = {"exported_to": "2024-05-01T03:00:00+00:00"}
        plan = plan_export(state, EARLIEST, datetime(2024, 5, 3, 10, 0, tzinfo=UTC))
        self.assertEqual((plan["from"], plan["to"]), ("2024-05-01T03:00:00+00:00", "2024-05-02T03:00:00+00:00"))

    def test_less_than_15_minutes_waits_for_the_next_run(self):
        state = {"exported_to": "2024-05-01T03:00:00+00:00"}
        self.assertIsNone(plan_export(state, EARLIEST, datetime(2024, 5, 1, 3, 14, 59, tzinfo=UTC)))
        self.assertIsNotNone(plan_export(state, EARLIEST, datetime(2024, 5, 1, 3, 15, tzinfo=UTC)))

    def test_an_end_before_the_pitr_window_needs_a_new_full_export(self):
        state = {"exported_to": "2024-03-01T00:00:00+00:00"}
        latest = datetime(2024, 5, 1, 2, 55, tzinfo=UTC)
        self.assertEqual(plan_export(state, EARLIEST, latest)["type"], "FULL_EXPORT")

    def test_export_request(self):
        plan = {"type": "INCREMENTAL_EXPORT", "from": "2024-05-01T03:00:00+00:00", "to": "2024-05-02T03:00:00+00:00"}
        arn = "arn:aws:dynamodb:us-east-1:111122223333:table/customer-interactions"
        request = export_request(arn, "raw-bucket", "arn:aws:kms:us-east-1:111122223333:key/k", "customer-interactions", plan)
        self.assertEqual(
            {name: value for name, value in request.items() if name != "ClientToken"},
            {
                "TableArn": arn,
                "S3Bucket": "raw-bucket",
                "S3Prefix": "_exports/dynamodb/customer-interactions/incremental-20240502T030000Z/",
                "S3SseAlgorithm": "KMS",
                "S3SseKmsKeyId": "arn:aws:kms:us-east-1:111122223333:key/k",
                "ExportFormat": "DYNAMODB_JSON",
                "ExportType": "INCREMENTAL_EXPORT",
                "IncrementalExportSpecification": {
                    "ExportFromTime": datetime(2024, 5, 1, 3, 0, tzinfo=UTC),
                    "ExportToTime": datetime(2024, 5, 2, 3, 0, tzinfo=UTC),
                    "ExportViewType": "NEW_IMAGE",
                },
            },
        )
        full = {"type": "FULL_EXPORT", "export_time": "2024-05-01T02:55:00+00:00"}
        full_request = export_request(arn, "raw-bucket", "k", "customer-interactions", full)
        self.assertEqual(full_request["ExportTime"], datetime(2024, 5, 1, 2, 55, tzinfo=UTC))
        self.assertEqual(full_request["S3Prefix"], "_exports/dynamodb/customer-interactions/full-20240501T025500Z/")
        self.assertNotIn("IncrementalExportSpecification", full_request)

    def test_the_client_token_identifies_the_planned_export(self):
        arn = "arn:aws:dynamodb:us-east-1:111122223333:table/t"
        plan = {"type": "FULL_EXPORT", "export_time": "2024-05-01T02:55:00+00:00"}
        other = {"type": "FULL_EXPORT", "export_time": "2024-05-01T02:56:00+00:00"}
        self.assertEqual(client_token(arn, plan), client_token(arn, dict(plan)))
        self.assertNotEqual(client_token(arn, plan), client_token(arn, other))
        self.assertRegex(client_token(arn, plan), r"^[0-9a-f]{32}$")


class RetryTests(unittest.TestCase):
    """What a rerun requests after a failed export, and after a run that died while one was running."""

    arn = "arn:aws:dynamodb:us-east-1:111122223333:table/t"
    # Two days behind: the window is capped at 24 hours, so every rerun plans this same window.
    state = {"exported_to": "2024-05-01T03:00:00+00:00"}
    latest = datetime(2024, 5, 3, 10, 0, tzinfo=UTC)
    window = {"type": "INCREMENTAL_EXPORT", "from": "2024-05-01T03:00:00+00:00", "to": "2024-05-02T03:00:00+00:00"}
    failed = {"ExportArn": f"{arn}/export/01-a", "ExportStatus": "FAILED", "FailureCode": "S3NoSuchBucket", "FailureMessage": "gone"}

    def test_a_retry_after_a_failed_export_requests_it_again_with_a_new_token(self):
        first = next_export(self.state, EARLIEST, self.latest)
        self.assertEqual(first, {"plan": self.window, "attempt": 0})
        after_failure = record_failure({**self.state, "in_progress": {**first, "export_arn": self.failed["ExportArn"]}}, first, self.failed)
        self.assertNotIn("in_progress", after_failure)
        self.assertEqual(after_failure["exported_to"], self.state["exported_to"])
        self.assertEqual(
            after_failure["failed_exports"],
            [{"plan": self.window, "attempt": 0, "export_arn": f"{self.arn}/export/01-a", "status": "FAILED",
              "failure_code": "S3NoSuchBucket", "failure_message": "gone"}],
        )

        retry = next_export(after_failure, EARLIEST, self.latest)
        self.assertEqual(retry, {"plan": self.window, "attempt": 1})
        self.assertNotEqual(client_token(self.arn, retry["plan"], retry["attempt"]), client_token(self.arn, first["plan"], 0))
        request = export_request(self.arn, "raw", "k", "t", retry["plan"], retry["attempt"])
        self.assertEqual(request["ClientToken"], client_token(self.arn, self.window, 1))

        # A second failure of the same window makes a third token; failures of other windows do not count.
        twice = record_failure(after_failure, retry, {**self.failed, "ExportArn": f"{self.arn}/export/02-b"})
        other = {**self.window, "to": "2024-05-02T04:00:00+00:00"}
        twice["failed_exports"].append({"plan": other, "attempt": 0})
        third = next_export(twice, EARLIEST, self.latest)
        self.assertEqual(third["attempt"], 2)
        tokens = {client_token(self.arn, self.window, attempt) for attempt in (0, 1, 2)}
        self.assertEqual(len(tokens), 3)

    def test_a_retry_while_the_export_runs_follows_it_with_the_same_token(self):
        running = {"plan": self.window, "attempt": 1, "export_arn": f"{self.arn}/export/03-c"}
        state = {**self.state, "failed_exports": [{"plan": self.window, "attempt": 0}], "in_progress": running}
        self.assertEqual(next_export(state, EARLIEST, self.latest), running)

        # The run died after recording the request but before the ARN: the same plan and attempt
        # give the same token, so DynamoDB returns the export it already started.
        unrecorded = {**state, "in_progress": {"plan": self.window, "attempt": 1}}
        again = next_export(unrecorded, EARLIEST, self.latest)
        self.assertEqual(again, {"plan": self.window, "attempt": 1})
        self.assertEqual(
            export_request(self.arn, "raw", "k", "t", again["plan"], again["attempt"])["ClientToken"],
            client_token(self.arn, self.window, 1),
        )

    def test_an_in_progress_export_recorded_before_attempts_existed_is_attempt_0(self):
        legacy = {**self.state, "in_progress": {"plan": self.window, "export_arn": "arn:x"}}
        self.assertEqual(next_export(legacy, EARLIEST, self.latest)["attempt"], 0)

    def test_the_attempt_must_be_a_count(self):
        with self.assertRaisesRegex(ValueError, "non-negative integer"):
            client_token(self.arn, self.window, -1)


class ManifestTests(unittest.TestCase):
    def test_data_keys_come_from_the_manifest_lines(self):
        text = (
            '{"itemCount":3,"md5Checksum":"a","etag":"b","dataFileS3Key":"p/AWSDynamoDB/data/one.json.gz"}\n'
            '{"itemCount":0,"md5Checksum":"c","etag":"d","dataFileS3Key":"p/AWSDynamoDB/data/two.json.gz"}\n'
        )
        self.assertEqual(data_keys_from_manifest(text), ["p/AWSDynamoDB/data/one.json.gz", "p/AWSDynamoDB/data/two.json.gz"])
        self.assertEqual(data_keys_from_manifest(""), [])

    def test_manifest_files_key(self):
        summary_key = "p/AWSDynamoDB/0123-abc/manifest-summary.json"
        self.assertEqual(manifest_files_key({"manifestFilesS3Key": "x/manifest-files.json"}, summary_key), "x/manifest-files.json")
        self.assertEqual(manifest_files_key({}, summary_key), "p/AWSDynamoDB/0123-abc/manifest-files.json")

    def test_exports_need_point_in_time_recovery(self):
        with self.assertRaisesRegex(RuntimeError, "Point-in-time recovery is not enabled on DynamoDB table events"):
            pitr_window({"PointInTimeRecoveryDescription": {"PointInTimeRecoveryStatus": "DISABLED"}}, "events")
        description = {
            "PointInTimeRecoveryDescription": {
                "PointInTimeRecoveryStatus": "ENABLED",
                "EarliestRestorableDateTime": EARLIEST,
                "LatestRestorableDateTime": datetime(2024, 5, 1, tzinfo=UTC),
            }
        }
        self.assertEqual(pitr_window(description, "events"), (EARLIEST, datetime(2024, 5, 1, tzinfo=UTC)))


if __name__ == "__main__":
    unittest.main()
