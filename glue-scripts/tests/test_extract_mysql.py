"""Tests of the MySQL extraction's pure functions: the incremental SQL, watermarks and paths."""

import os
import sqlite3
import sys
import unittest
from datetime import datetime

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, ".."), os.path.join(HERE, "..", "common")]

from c360_glue import partition_prefix, publish, recover, state_key  # noqa: E402
from extract_mysql import (  # noqa: E402
    RAW_TABLES,
    chunk_end_query,
    chunk_query,
    chunk_stats_query,
    database_credentials,
    extract_in_chunks,
    jdbc_url,
    key_scan_due,
    key_scan_query,
    key_scan_select_exprs,
    optional_count_arg,
    optional_int_arg,
    parse_mysql_datetime,
    parse_tables,
    read_partitions,
    upper_bound,
)
from test_c360_glue import FakeStore  # noqa: E402

BOUND = "2024-05-01 02:59:55.000000"
PRODUCTS_SELECT = (
    "SELECT t.`product_id` AS `product_id`, CAST(t.`name` AS CHAR) AS `name`, "
    "CAST(t.`category` AS CHAR) AS `category`, CAST(t.`brand` AS CHAR) AS `brand`, "
    "t.`price` AS `price`, CAST(t.`updated_at` AS CHAR) AS `updated_at` FROM `products` AS t"
)
W = "2024-04-30 10:00:00.250"
E = "2024-05-01 00:00:00.000"


class QueryTests(unittest.TestCase):
    def test_the_first_chunk_ends_at_the_last_of_its_rows_up_to_the_bound(self):
        self.assertEqual(
            chunk_end_query("products", None, BOUND, 1000),
            "SELECT CAST(c.`updated_at` AS CHAR) AS `updated_at`, c.`product_id` FROM"
            " (SELECT t.`updated_at`, t.`product_id` FROM `products` AS t"
            f" WHERE t.`updated_at` <= '{BOUND}' ORDER BY t.`updated_at`, t.`product_id` LIMIT 1000) AS c"
            " ORDER BY c.`updated_at` DESC, c.`product_id` DESC LIMIT 1",
        )

    def test_a_chunk_takes_the_rows_after_the_watermark_up_to_its_end(self):
        watermark = {"updated_at": W, "key": {"product_id": 42}}
        end = {"updated_at": E, "key": {"product_id": 7}}
        self.assertEqual(
            chunk_query("products", watermark, end),
            f"{PRODUCTS_SELECT} WHERE t.`updated_at` >= '{W}'"
            f" AND (t.`updated_at` > '{W}' OR (t.`updated_at` = '{W}' AND t.`product_id` > 42))"
            f" AND t.`updated_at` <= '{E}'"
            f" AND (t.`updated_at` < '{E}' OR (t.`updated_at` = '{E}' AND t.`product_id` <= 7))",
        )
        self.assertEqual(
            chunk_stats_query("products", None, end),
            "SELECT COUNT(*) AS row_count, MIN(t.`product_id`) AS low, MAX(t.`product_id`) AS high"
            f" FROM `products` AS t WHERE t.`updated_at` <= '{E}'"
            f" AND (t.`updated_at` < '{E}' OR (t.`updated_at` = '{E}' AND t.`product_id` <= 7))",
        )

    def test_order_items_compare_the_composite_key(self):
        watermark = {"updated_at": W, "key": {"order_id": 7, "line_number": 3}}
        end = {"updated_at": E, "key": {"order_id": 9, "line_number": 1}}
        query = chunk_query("order_items", watermark, end)
        self.assertIn(
            f"(t.`updated_at` > '{W}' OR (t.`updated_at` = '{W}'"
            " AND (t.`order_id` > 7 OR (t.`order_id` = 7 AND t.`line_number` > 3))))",
            query,
        )
        self.assertIn(
            f"(t.`updated_at` < '{E}' OR (t.`updated_at` = '{E}'"
            " AND (t.`order_id` < 9 OR (t.`order_id` = 9 AND t.`line_number` <= 1))))",
            query,
        )
        self.assertTrue(
            chunk_end_query("order_items", watermark, BOUND, 5).endswith(
                "ORDER BY c.`updated_at` DESC, c.`order_id` DESC, c.`line_number` DESC LIMIT 1"
            )
        )

    def test_dates_are_selected_as_text_and_ingested_at_is_not_selected(self):
        query = chunk_query("customers", None, {"updated_at": E, "key": {"customer_id": 1}})
        self.assertIn("CAST(t.`birth_date` AS CHAR) AS `birth_date`", query)
        self.assertIn("CAST(t.`signup_at` AS CHAR) AS `signup_at`", query)
        self.assertIn("t.`marketing_opt_in` AS `marketing_opt_in`", query)
        self.assertNotIn("ingested_at", query)

    def test_rejects_values_that_are_not_a_datetime_or_an_integer(self):
        with self.assertRaisesRegex(ValueError, "MySQL datetime"):
            chunk_end_query("orders", {"updated_at": "2024-01-01' OR '1'='1", "key": {"order_id": 1}}, BOUND, 10)
        with self.assertRaisesRegex(ValueError, "integer key value"):
            chunk_query("orders", None, {"updated_at": "2024-01-01 00:00:00", "key": {"order_id": "1 OR 1=1"}})
        with self.assertRaisesRegex(ValueError, "watermark of order_items lacks key column"):
            chunk_end_query("order_items", {"updated_at": "2024-01-01 00:00:00", "key": {"order_id": 1}}, BOUND, 10)
        with self.assertRaisesRegex(ValueError, "unknown MySQL table"):
            chunk_end_query("users", None, BOUND, 10)
        with self.assertRaisesRegex(ValueError, "chunk size must be a positive integer, got 0"):
            chunk_end_query("orders", None, BOUND, 0)


class ReadPartitionTests(unittest.TestCase):
    def test_a_chunk_is_read_in_slices_of_the_first_key_column(self):
        # Keys 5..104: 100 values in 4 slices; Spark's upper bound is exclusive, hence 105.
        self.assertEqual(
            read_partitions("order_items", {"row_count": 1000, "low": 5, "high": 104}, 4),
            {"partitionColumn": "order_id", "lowerBound": "5", "upperBound": "105", "numPartitions": "4"},
        )

    def test_no_more_slices_than_rows_or_key_values(self):
        self.assertEqual(read_partitions("orders", {"row_count": 3, "low": 1, "high": 900}, 8)["numPartitions"], "3")
        # order_items of two orders: 500 lines but only 2 order ids to split on.
        self.assertEqual(read_partitions("order_items", {"row_count": 500, "low": 7, "high": 8}, 8)["numPartitions"], "2")
        self.assertEqual(read_partitions("orders", {"row_count": 1, "low": 4, "high": 4}, 8), {})
        self.assertEqual(read_partitions("orders", {"row_count": 10, "low": 1, "high": 9}, 1), {})
        with self.assertRaisesRegex(ValueError, "read partitions must be a positive integer"):
            read_partitions("orders", {"row_count": 10, "low": 1, "high": 9}, 0)


class ChunkedRunTests(unittest.TestCase):
    """Runs the generated SQL (which SQLite also accepts) chunk after chunk, publishing each chunk
    into a FakeStore with the real publish/recover protocol of c360_glue."""

    table = "order_items"
    key = "_state/mysql/order_items.json"
    partition = "mysql/order_items/ingest_date=2024-05-01/"

    def setUp(self):
        self.db = sqlite3.connect(":memory:")
        self.db.row_factory = sqlite3.Row
        self.db.execute(
            "CREATE TABLE order_items (order_id INTEGER, line_number INTEGER, product_id INTEGER,"
            " quantity INTEGER, unit_price NUMERIC, discount_amount NUMERIC, updated_at TEXT)"
        )
        self.store = FakeStore()
        self.runs = 0
        self.chunks = []
        self.die_in_chunk = None

    def tearDown(self):
        self.db.close()

    def insert(self, *rows):
        self.db.executemany("INSERT INTO order_items VALUES (?, ?, 1, 1, 9.99, 0, ?)", rows)

    def query_one(self, sql):
        row = self.db.execute(sql).fetchone()
        return None if row is None else dict(row)

    def land_chunk(self, chunk, state):
        """Stages the chunk's rows as one 'file' per row, then publishes and commits as the job does."""
        self.runs += 1
        run_id = f"R{self.runs}"
        rows = [dict(row) for row in self.db.execute(chunk["query"])]
        self.assertEqual(len(rows), chunk["rows"])
        staging = f"_tmp/mysql/order_items/{run_id}/"
        for number, row in enumerate(rows):
            self.store.objects[f"{staging}part-{number:05d}.snappy.parquet"] = (row["order_id"], row["line_number"])
        self.chunks.append((chunk["index"], chunk["watermark"], chunk["end"], chunk["rows"]))
        if chunk["index"] == self.die_in_chunk:
            self.store.fail_on_copy = self.store.copies + 2  # dies after publishing one file
        committed = {"watermark": chunk["end"], "last_run": {"run_id": run_id, "rows": chunk["rows"]}}
        publish(self.store, self.key, state, staging, self.partition, run_id, committed)
        return committed

    def run_job(self, bound, chunk_rows):
        state = recover(self.store, self.key, self.store.read_json(self.key), "mysql", "order_items")
        return extract_in_chunks(self.table, state, bound, chunk_rows, self.query_one, self.land_chunk)

    def landed(self):
        return sorted(value for key, value in self.store.objects.items() if key.startswith(self.partition))

    def position(self, updated_at, order_id, line_number):
        return {"updated_at": updated_at, "key": {"order_id": order_id, "line_number": line_number}}

    def test_rows_are_taken_once_across_runs(self):
        self.insert(
            (1, 1, "2024-05-01 10:00:00.000"),
            (1, 2, "2024-05-01 10:00:00.000"),
            (2, 1, "2024-05-01 10:00:01.000"),
            (3, 1, "2024-05-01 10:00:09.000"),  # after the first run's bound: left for later
        )
        self.assertEqual(self.run_job("2024-05-01 10:00:05.000000", 1000), 3)
        watermark = self.store.objects[self.key]["watermark"]
        self.assertEqual(watermark, self.position("2024-05-01 10:00:01.000", 2, 1))

        # A line with the watermark's own timestamp and a greater key arrives; and a line changes.
        self.insert((2, 2, "2024-05-01 10:00:01.000"))
        self.db.execute("UPDATE order_items SET updated_at = '2024-05-01 10:00:10.000' WHERE order_id = 1 AND line_number = 1")
        self.assertEqual(self.run_job("2024-05-01 10:00:20.000000", 1000), 3)
        self.assertEqual(self.store.objects[self.key]["watermark"], self.position("2024-05-01 10:00:10.000", 1, 1))
        # (1, 1) twice: its first version and its change; every other line once.
        self.assertEqual(self.landed(), [(1, 1), (1, 1), (1, 2), (2, 1), (2, 2), (3, 1)])

        self.assertEqual(self.run_job("2024-05-01 10:00:30.000000", 1000), 0)
        self.assertEqual(len(self.landed()), 6)

    def test_a_first_load_commits_in_chunks_in_watermark_order(self):
        # Ten lines, the last four sharing one timestamp; chunks of 3 by hand: lines 1-3, 4-6, 7-9, 10.
        same = "2024-05-01 10:00:07.000"
        rows = [(n, 1, f"2024-05-01 10:00:0{n}.000") for n in range(1, 7)] + [(9, 2, same), (9, 1, same), (8, 5, same), (10, 1, same)]
        self.insert(*rows)
        self.assertEqual(self.run_job("2024-05-01 11:00:00.000000", 3), 10)
        self.assertEqual(
            [(index, end, count) for index, _, end, count in self.chunks],
            [
                (0, self.position("2024-05-01 10:00:03.000", 3, 1), 3),
                (1, self.position("2024-05-01 10:00:06.000", 6, 1), 3),
                (2, self.position(same, 9, 2), 3),  # (8, 5), (9, 1), (9, 2)
                (3, self.position(same, 10, 1), 1),
            ],
        )
        # Each chunk starts where the one before ended.
        self.assertEqual([watermark for _, watermark, _, _ in self.chunks[1:]], [end for _, _, end, _ in self.chunks[:-1]])
        self.assertEqual(self.landed(), sorted((order_id, line) for order_id, line, _ in rows))

    def test_a_load_that_dies_in_chunk_k_resumes_with_chunk_k_and_lands_nothing_twice(self):
        rows = [(n, 1, f"2024-05-01 10:00:{n:02d}.000") for n in range(1, 11)]
        self.insert(*rows)
        self.die_in_chunk = 2  # chunks 0 and 1 commit; chunk 2 dies after publishing one of its files
        with self.assertRaisesRegex(RuntimeError, "copy failed"):
            self.run_job("2024-05-01 11:00:00.000000", 3)
        state = self.store.objects[self.key]
        self.assertEqual(state["watermark"], self.position("2024-05-01 10:00:06.000", 6, 1))
        self.assertEqual(len(state["pending"]["keys"]), 3)
        self.assertEqual(len(self.landed()), 7)  # six committed lines and one line of the dead chunk

        self.die_in_chunk = None
        self.store.fail_on_copy = None
        self.chunks.clear()
        self.assertEqual(self.run_job("2024-05-01 11:00:00.000000", 3), 4)
        # The rerun's first chunk is the one that died: it starts at chunk 1's end, not from zero.
        self.assertEqual(self.chunks[0][1], self.position("2024-05-01 10:00:06.000", 6, 1))
        self.assertEqual([count for _, _, _, count in self.chunks], [3, 1])
        self.assertEqual(self.landed(), [(n, 1) for n in range(1, 11)])
        self.assertEqual(self.store.objects[self.key]["watermark"], self.position("2024-05-01 10:00:10.000", 10, 1))
        self.assertEqual([key for key in self.store.objects if key.startswith("_tmp/")], [])


class WatermarkTests(unittest.TestCase):
    def test_upper_bound_subtracts_the_safety_lag_on_the_database_clock(self):
        self.assertEqual(upper_bound("2024-05-01 03:00:00.000000", 5), "2024-05-01 02:59:55.000000")
        self.assertEqual(upper_bound("2024-05-01 00:00:02.25", 5), "2024-04-30 23:59:57.250000")
        with self.assertRaisesRegex(ValueError, "negative"):
            upper_bound("2024-05-01 03:00:00", -1)

    def test_zero_dates_sort_first(self):
        self.assertEqual(parse_mysql_datetime("0000-00-00 00:00:00"), datetime.min)
        self.assertEqual(parse_mysql_datetime("2024-05-01 10:00:00.5"), datetime(2024, 5, 1, 10, 0, 0, 500000))


class FakeSecrets:
    """Secrets Manager's GetSecretValue for one secret, recording the ids asked for."""

    def __init__(self, secret_string=None):
        self.secret_string = secret_string
        self.asked = []

    def get_secret_value(self, SecretId):
        self.asked.append(SecretId)
        answer = {"ARN": f"arn:aws:secretsmanager:us-east-1:111122223333:secret:{SecretId}-AbCdEf", "Name": SecretId}
        if self.secret_string is not None:
            answer["SecretString"] = self.secret_string
        return answer


class CredentialTests(unittest.TestCase):
    def test_credentials_resolved_by_the_connection_are_used_as_they_are(self):
        secrets = FakeSecrets('{"username": "other", "password": "other"}')
        conf = {"url": "jdbc:mysql://db:3306", "user": "etl", "password": "s3cret"}
        self.assertEqual(database_credentials(conf, "customer360/mysql", secrets), ("etl", "s3cret"))
        self.assertEqual(secrets.asked, [])

    def test_otherwise_the_secret_is_read_from_secrets_manager(self):
        secrets = FakeSecrets('{"username": "etl", "password": "s3cret", "engine": "mysql"}')
        conf = {"url": "jdbc:mysql://db:3306", "user": "", "password": None}
        self.assertEqual(database_credentials(conf, "customer360/mysql", secrets), ("etl", "s3cret"))
        self.assertEqual(database_credentials({"url": "x"}, "customer360/mysql", secrets), ("etl", "s3cret"))
        self.assertEqual(secrets.asked, ["customer360/mysql", "customer360/mysql"])

    def test_a_secret_without_username_and_password_fails_naming_the_secret_not_its_value(self):
        cases = [
            ('{"password": "s3cret"}', "secret customer360/mysql lacks username; expected a JSON object"),
            ('{"user": "etl", "pass": "s3cret"}', "lacks username and password"),
            ("s3cret", "secret customer360/mysql is not JSON"),
            ('["etl", "s3cret"]', "is not a JSON object"),
            (None, "secret customer360/mysql has no SecretString"),
        ]
        for secret_string, message in cases:
            with self.subTest(secret_string=secret_string):
                with self.assertRaisesRegex(ValueError, message) as raised:
                    database_credentials({"url": "x"}, "customer360/mysql", FakeSecrets(secret_string))
                self.assertNotIn("s3cret", str(raised.exception))
        with self.assertRaisesRegex(ValueError, "--secret_id is empty"):
            database_credentials({"url": "x"}, "", FakeSecrets())


class ConfigurationTests(unittest.TestCase):
    def test_jdbc_url_adds_the_database_and_driver_options(self):
        self.assertEqual(
            jdbc_url({"url": "jdbc:mysql://db.example.com:3306"}, "retail", True),
            "jdbc:mysql://db.example.com:3306/retail?useCursorFetch=true&sslMode=REQUIRED",
        )
        self.assertEqual(
            jdbc_url({"url": "x", "fullUrl": "jdbc:mysql://db.example.com:3306/retail"}, "ignored", False),
            "jdbc:mysql://db.example.com:3306/retail?useCursorFetch=true",
        )

    def test_optional_integer_arguments(self):
        argv = ["script.py", "--JOB_NAME", "x", "--chunk_rows", "250000"]
        self.assertEqual(optional_int_arg(argv, "chunk_rows", 1_000_000), 250000)
        self.assertEqual(optional_int_arg(argv, "read_partitions", 4), 4)
        with self.assertRaisesRegex(ValueError, "--chunk_rows must be a positive integer, got '0'"):
            optional_int_arg(["script.py", "--chunk_rows", "0"], "chunk_rows", 1)

    def test_parse_tables(self):
        self.assertEqual(parse_tables("customers, order_items"), ["customers", "order_items"])
        with self.assertRaisesRegex(ValueError, "--mysql_tables"):
            parse_tables("customers,users")

    def test_state_and_partition_paths(self):
        self.assertEqual(state_key("mysql", "order_items"), "_state/mysql/order_items.json")
        self.assertEqual(
            partition_prefix(RAW_TABLES["order_items"]["location"], "2024-05-01"),
            "mysql/order_items/ingest_date=2024-05-01/",
        )


if __name__ == "__main__":
    unittest.main()


class KeyScanTests(unittest.TestCase):
    def test_a_scan_is_due_every_n_days_and_never_with_0(self):
        self.assertTrue(key_scan_due(None, "2024-05-01", 1))
        self.assertFalse(key_scan_due({"last_scan_date": "2024-05-01"}, "2024-05-01", 1))
        self.assertTrue(key_scan_due({"last_scan_date": "2024-05-01"}, "2024-05-02", 1))
        # every 7 days: the 6th day after is too early, the 7th is due
        self.assertFalse(key_scan_due({"last_scan_date": "2024-05-01"}, "2024-05-07", 7))
        self.assertTrue(key_scan_due({"last_scan_date": "2024-05-01"}, "2024-05-08", 7))
        self.assertFalse(key_scan_due(None, "2024-05-01", 0))
        with self.assertRaises(ValueError):
            key_scan_due(None, "2024-05-01", -1)

    def test_the_scan_reads_only_the_primary_key(self):
        self.assertEqual(key_scan_query("order_items"), "SELECT t.`order_id`, t.`line_number` FROM `order_items` AS t")
        self.assertEqual(key_scan_query("customers"), "SELECT t.`customer_id` FROM `customers` AS t")
        with self.assertRaises(ValueError):
            key_scan_query("users")

    def test_scanned_keys_fill_their_own_columns_of_mysql_keys(self):
        self.assertEqual(
            key_scan_select_exprs("order_items", "2024-05-02 03:00:05.000000"),
            [
                "CAST('order_items' AS string) AS `source_table`",
                "CAST(NULL AS bigint) AS `customer_id`",
                "CAST(NULL AS bigint) AS `product_id`",
                "CAST(`order_id` AS bigint) AS `order_id`",
                "CAST(`line_number` AS int) AS `line_number`",
                "CAST('2024-05-02 03:00:05.000000' AS timestamp) AS `ingested_at`",
            ],
        )
        with self.assertRaises(ValueError):
            key_scan_select_exprs("orders", "yesterday")

    def test_the_interval_argument_allows_0(self):
        self.assertEqual(optional_count_arg(["--key_scan_every_days", "0"], "key_scan_every_days", 1), 0)
        self.assertEqual(optional_count_arg([], "key_scan_every_days", 1), 1)
        with self.assertRaises(ValueError):
            optional_count_arg(["--key_scan_every_days", "-1"], "key_scan_every_days", 1)
