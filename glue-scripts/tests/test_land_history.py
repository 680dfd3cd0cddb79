"""Tests of the history landing's pure functions: column mapping, file parsing, file selection."""

import os
import sys
import unittest
from datetime import date, datetime, timezone
from decimal import Decimal

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, ".."), os.path.join(HERE, "..", "common")]

from land_history import (  # noqa: E402
    MissingColumnError,
    csv_records,
    file_rows,
    files_to_land,
    jsonl_records,
    map_columns,
    parse_mapping,
)

FULL_MAPPING = {"customer": "cust", "orderDate": "dt", "amount": "amt", "quantity": "qty", "orderId": "ref"}
DEFAULT_MAPPING = {"customer": "customer_id", "orderDate": "date", "amount": "amount", "quantity": "quantity"}
INGESTED = datetime(2024, 5, 2, 3, 0, tzinfo=timezone.utc)


class MapColumnsTests(unittest.TestCase):
    def test_maps_the_configured_columns(self):
        record = {"cust": "L-1", "dt": "2019-03-04", "amt": "12.50", "qty": "2", "ref": "A-9", "store": "x"}
        self.assertEqual(
            map_columns(record, FULL_MAPPING),
            {"order_ref": "A-9", "customer_ref": "L-1", "order_date": "2019-03-04", "amount": "12.50", "quantity": "2"},
        )

    def test_unmapped_optional_columns_are_null(self):
        mapping = {"customer": "cust", "orderDate": "dt", "amount": "amt", "quantity": None}
        self.assertEqual(
            map_columns({"cust": "ana@example.com", "dt": "04/03/2019", "amt": "7"}, mapping),
            {"order_ref": None, "customer_ref": "ana@example.com", "order_date": "04/03/2019", "amount": "7", "quantity": None},
        )

    def test_a_missing_mapped_column_names_itself_the_key_and_the_file(self):
        with self.assertRaises(MissingColumnError) as raised:
            map_columns({"cust": "L-1", "dt": "2019-03-04", "qty": "1", "ref": "A"}, FULL_MAPPING, "2019/orders.csv")
        self.assertEqual(
            str(raised.exception),
            'History file 2019/orders.csv has no column "amt" (sources.history.columns.amount); '
            "its columns are: cust, dt, qty, ref",
        )

    def test_values_that_are_not_text_become_their_text(self):
        record = {"cust": 17, "dt": date(2019, 3, 4), "amt": Decimal("12.50"), "qty": 2, "ref": True}
        self.assertEqual(
            map_columns(record, FULL_MAPPING),
            {"order_ref": "true", "customer_ref": "17", "order_date": "2019-03-04", "amount": "12.50", "quantity": "2"},
        )

    def test_parse_mapping(self):
        self.assertEqual(
            parse_mapping('{"customer":"c","orderDate":"d","amount":"a","quantity":null}'),
            {"customer": "c", "orderDate": "d", "amount": "a", "quantity": None},
        )
        with self.assertRaisesRegex(ValueError, "customer must name a file column"):
            parse_mapping('{"orderDate":"d","amount":"a"}')
        with self.assertRaisesRegex(ValueError, "unknown key"):
            parse_mapping('{"customer":"c","orderDate":"d","amount":"a","total":"t"}')


class FileTests(unittest.TestCase):
    def test_csv_rows_are_numbered_from_the_first_data_row(self):
        data = b'\xef\xbb\xbfcustomer_id,date,amount\nL-1,2019-03-04,"1,250.00"\n\nL-2,2019-03-05,9.99,extra\n'
        self.assertEqual(
            list(csv_records(data)),
            [
                (1, {"customer_id": "L-1", "date": "2019-03-04", "amount": "1,250.00"}),
                (2, {"customer_id": "L-2", "date": "2019-03-05", "amount": "9.99"}),
            ],
        )

    def test_jsonl_numbers_keep_the_text_they_are_written_with(self):
        data = b'{"c":"L-1","a":12.50,"q":2}\n\n{"c":"L-2","a":3,"q":null}\n'
        self.assertEqual(
            list(jsonl_records(data, "f.jsonl")),
            [(1, {"c": "L-1", "a": "12.50", "q": "2"}), (2, {"c": "L-2", "a": "3", "q": None})],
        )
        with self.assertRaisesRegex(ValueError, "History file f.jsonl line 2 is not JSON"):
            list(jsonl_records(b'{"c":"L-1"}\n{"c":\n', "f.jsonl"))

    def test_file_rows_are_raw_rows_in_column_order(self):
        data = b"customer_id,date,amount\nL-1,2019-03-04,12.50\n"
        self.assertEqual(
            file_rows("2019/orders.csv", data, "csv", {**DEFAULT_MAPPING, "quantity": None}, INGESTED),
            [("2019/orders.csv", 1, None, "L-1", "2019-03-04", "12.50", None, INGESTED)],
        )
        with self.assertRaisesRegex(MissingColumnError, 'no column "quantity"'):
            file_rows("2019/orders.csv", data, "csv", DEFAULT_MAPPING, INGESTED)

    def test_only_new_or_changed_files_of_the_format_are_landed(self):
        prefix = "landing/history/"
        listing = [
            {"key": "landing/history/a.csv", "etag": "e1"},
            {"key": "landing/history/b.csv", "etag": "e2"},
            {"key": "landing/history/2020/c.CSV", "etag": "e3"},
            {"key": "landing/history/_tmp/d.csv", "etag": "e4"},
            {"key": "landing/history/.e.csv", "etag": "e5"},
            {"key": "landing/history/notes.md", "etag": "e6"},
            {"key": "landing/history/2021/", "etag": "e7"},
        ]
        manifest = {"files": {"a.csv": {"etag": "e1"}, "b.csv": {"etag": "old"}}}
        self.assertEqual(
            files_to_land(listing, prefix, "csv", manifest),
            [
                {"key": "landing/history/2020/c.CSV", "etag": "e3", "file": "2020/c.CSV"},
                {"key": "landing/history/b.csv", "etag": "e2", "file": "b.csv"},
            ],
        )
        self.assertEqual(files_to_land(listing, prefix, "parquet", None), [])


if __name__ == "__main__":
    unittest.main()
