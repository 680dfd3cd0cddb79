"""Tests of the MySQL extraction's pure functions: the incremental SQL, watermarks and paths."""

import os
import sqlite3
import sys
import unittest
from datetime import datetime

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, ".."), os.path.join(HERE, "..", "common")]

from c360_glue import partition_prefix, state_key  # noqa: E402
from extract_mysql import (  # noqa: E402
    RAW_TABLES,
    incremental_query,
    jdbc_url,
    next_watermark,
    parse_mysql_datetime,
    parse_tables,
    upper_bound,
)

BOUND = "2024-05-01 02:59:55.000000"
PRODUCTS_SELECT = (
    "SELECT t.`product_id` AS `product_id`, CAST(t.`name` AS CHAR) AS `name`, "
    "CAST(t.`category` AS CHAR) AS `category`, CAST(t.`brand` AS CHAR) AS `brand`, "
    "t.`price` AS `price`, CAST(t.`updated_at` AS CHAR) AS `updated_at` FROM `products` AS t"
)


class IncrementalQueryTests(unittest.TestCase):
    def test_first_run_takes_everything_up_to_the_bound(self):
        self.assertEqual(
            incremental_query("products", None, BOUND),
            f"{PRODUCTS_SELECT} WHERE t.`updated_at` <= '{BOUND}' ORDER BY t.`updated_at`, t.`product_id`",
        )

    def test_later_runs_take_rows_after_the_watermark(self):
        watermark = {"updated_at": "2024-04-30 10:00:00.250", "key": {"product_id": 42}}
        self.assertEqual(
            incremental_query("products", watermark, BOUND),
            f"{PRODUCTS_SELECT} WHERE t.`updated_at` >= '2024-04-30 10:00:00.250'"
            " AND (t.`updated_at` > '2024-04-30 10:00:00.250'"
            " OR (t.`updated_at` = '2024-04-30 10:00:00.250' AND t.`product_id` > 42))"
            f" AND t.`updated_at` <= '{BOUND}' ORDER BY t.`updated_at`, t.`product_id`",
        )

    def test_order_items_compare_the_composite_key(self):
        watermark = {"updated_at": "2024-04-30 10:00:00.250", "key": {"order_id": 7, "line_number": 3}}
        query = incremental_query("order_items", watermark, BOUND)
        self.assertIn(
            "(t.`updated_at` > '2024-04-30 10:00:00.250' OR (t.`updated_at` = '2024-04-30 10:00:00.250'"
            " AND (t.`order_id` > 7 OR (t.`order_id` = 7 AND t.`line_number` > 3))))",
            query,
        )
        self.assertTrue(query.endswith("ORDER BY t.`updated_at`, t.`order_id`, t.`line_number`"))

    def test_dates_are_selected_as_text_and_ingested_at_is_not_selected(self):
        query = incremental_query("customers", None, BOUND)
        self.assertIn("CAST(t.`birth_date` AS CHAR) AS `birth_date`", query)
        self.assertIn("CAST(t.`signup_at` AS CHAR) AS `signup_at`", query)
        self.assertIn("t.`marketing_opt_in` AS `marketing_opt_in`", query)
        self.assertNotIn("ingested_at", query)

    def test_rejects_values_that_are_not_a_datetime_or_an_integer(self):
        with self.assertRaisesRegex(ValueError, "MySQL datetime"):
            incremental_query("orders", {"updated_at": "2024-01-01' OR '1'='1", "key": {"order_id": 1}}, BOUND)
        with self.assertRaisesRegex(ValueError, "integer key value"):
            incremental_query("orders", {"updated_at": "2024-01-01 00:00:00", "key": {"order_id": "1 OR 1=1"}}, BOUND)
        with self.assertRaisesRegex(ValueError, "lacks key column"):
            incremental_query("order_items", {"updated_at": "2024-01-01 00:00:00", "key": {"order_id": 1}}, BOUND)
        with self.assertRaisesRegex(ValueError, "unknown MySQL table"):
            incremental_query("users", None, BOUND)


class WatermarkRunTests(unittest.TestCase):
    """Runs the generated SQL (which SQLite also accepts) over order lines, run after run."""

    def setUp(self):
        self.db = sqlite3.connect(":memory:")
        self.db.execute(
            "CREATE TABLE order_items (order_id INTEGER, line_number INTEGER, product_id INTEGER,"
            " quantity INTEGER, unit_price NUMERIC, discount_amount NUMERIC, updated_at TEXT)"
        )

    def tearDown(self):
        self.db.close()

    def insert(self, *rows):
        self.db.executemany(
            "INSERT INTO order_items VALUES (?, ?, 1, 1, 9.99, 0, ?)",
            [(order_id, line, updated_at) for order_id, line, updated_at in rows],
        )

    def run_extract(self, watermark, bound):
        cursor = self.db.execute(incremental_query("order_items", watermark, bound))
        names = [column[0] for column in cursor.description]
        rows = [dict(zip(names, values)) for values in cursor.fetchall()]
        return rows, next_watermark(rows, "order_items", watermark)

    def keys(self, rows):
        return [(row["order_id"], row["line_number"]) for row in rows]

    def test_rows_are_taken_once_across_runs(self):
        self.insert(
            (1, 1, "2024-05-01 10:00:00.000"),
            (1, 2, "2024-05-01 10:00:00.000"),
            (2, 1, "2024-05-01 10:00:01.000"),
            (3, 1, "2024-05-01 10:00:09.000"),  # after the first run's bound: left for later
        )
        rows, watermark = self.run_extract(None, "2024-05-01 10:00:05.000000")
        self.assertEqual(self.keys(rows), [(1, 1), (1, 2), (2, 1)])
        self.assertEqual(watermark, {"updated_at": "2024-05-01 10:00:01.000", "key": {"order_id": 2, "line_number": 1}})

        # A line with the watermark's own timestamp and a greater key arrives; and a line changes.
        self.insert((2, 2, "2024-05-01 10:00:01.000"), (1, 1, "2024-05-01 10:00:10.000"))
        self.db.execute("DELETE FROM order_items WHERE order_id = 1 AND line_number = 1 AND updated_at < '2024-05-01 10:00:10'")
        rows, watermark = self.run_extract(watermark, "2024-05-01 10:00:20.000000")
        self.assertEqual(self.keys(rows), [(2, 2), (3, 1), (1, 1)])
        self.assertEqual(watermark, {"updated_at": "2024-05-01 10:00:10.000", "key": {"order_id": 1, "line_number": 1}})

        rows, again = self.run_extract(watermark, "2024-05-01 10:00:30.000000")
        self.assertEqual(rows, [])
        self.assertEqual(again, watermark)


class WatermarkTests(unittest.TestCase):
    def test_next_watermark_is_the_max_of_timestamp_then_key(self):
        rows = [
            {"updated_at": "2024-05-01 10:00:00.500", "order_id": 7, "line_number": 2},
            {"updated_at": "2024-05-01 10:00:00.500", "order_id": 7, "line_number": 10},
            {"updated_at": "2024-05-01 09:59:59.999", "order_id": 99, "line_number": 1},
        ]
        # 10 > 2 as numbers (as text "10" < "2"); the later timestamp wins over the larger order id.
        self.assertEqual(
            next_watermark(rows, "order_items", None),
            {"updated_at": "2024-05-01 10:00:00.500", "key": {"order_id": 7, "line_number": 10}},
        )

    def test_fractions_compare_by_value(self):
        rows = [{"updated_at": "2024-05-01 10:00:00.5", "order_id": 1}, {"updated_at": "2024-05-01 10:00:00.499", "order_id": 2}]
        self.assertEqual(next_watermark(rows, "orders", None)["key"], {"order_id": 1})

    def test_no_rows_keep_the_previous_watermark(self):
        previous = {"updated_at": "2024-05-01 10:00:00.000", "key": {"customer_id": 5}}
        self.assertIs(next_watermark([], "customers", previous), previous)

    def test_upper_bound_subtracts_the_safety_lag_on_the_database_clock(self):
        self.assertEqual(upper_bound("2024-05-01 03:00:00.000000", 5), "2024-05-01 02:59:55.000000")
        self.assertEqual(upper_bound("2024-05-01 00:00:02.25", 5), "2024-04-30 23:59:57.250000")
        with self.assertRaisesRegex(ValueError, "negative"):
            upper_bound("2024-05-01 03:00:00", -1)

    def test_zero_dates_sort_first(self):
        self.assertEqual(parse_mysql_datetime("0000-00-00 00:00:00"), datetime.min)
        self.assertEqual(parse_mysql_datetime("2024-05-01 10:00:00.5"), datetime(2024, 5, 1, 10, 0, 0, 500000))


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
