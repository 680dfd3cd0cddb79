"""Tests of the history landing's pure functions: column mapping, file parsing, file selection."""

import gzip
import os
import sys
import unittest
from datetime import date, datetime, timezone
from decimal import Decimal
from unittest import mock

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, ".."), os.path.join(HERE, "..", "common")]

import land_history  # noqa: E402
from land_history import (  # noqa: E402
    MissingColumnError,
    csv_records,
    file_rows,
    files_to_land,
    hadoop_literal,
    ignored_files,
    is_candidate,
    jsonl_records,
    map_columns,
    parse_mapping,
    read_file,
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


def plain(records):
    """(line, record, reason, detail) tuples of csv_records or jsonl_records, for comparison."""
    return [
        (line, record, error.reason if error else None, error.detail if error else None)
        for line, record, error in records
    ]


HEADER = b"customer_id,date,quantity,amount\n"


class FileTests(unittest.TestCase):
    def test_csv_rows_are_numbered_by_their_line_in_the_file(self):
        # The header is line 1; line 3 is blank; the quoted amount on line 4 holds a comma.
        data = (
            b"\xef\xbb\xbfcustomer_id,date,amount\nL-1,2019-03-04,9.99\n\n"
            b'L-2,2019-03-05,"1,250.00"\nL-3,"2019-\n03-06",1\nL-4,2019-03-07,2\n'
        )
        self.assertEqual(
            plain(csv_records(data)),
            [
                (2, {"customer_id": "L-1", "date": "2019-03-04", "amount": "9.99"}, None, None),
                (4, {"customer_id": "L-2", "date": "2019-03-05", "amount": "1,250.00"}, None, None),
                # a quoted value over lines 5 and 6 is numbered by its first line
                (5, {"customer_id": "L-3", "date": "2019-\n03-06", "amount": "1"}, None, None),
                (7, {"customer_id": "L-4", "date": "2019-03-07", "amount": "2"}, None, None),
            ],
        )

    def test_a_row_whose_field_count_differs_from_the_header_is_a_read_error(self):
        # Before: extra fields were dropped (L0000019 landed with amount 1, not 234.50).
        data = HEADER + (
            b"L0000019,2020-05-01,1,1,234.50\nL0000020,2020-05-02,1,5.00,x,y\n"
            b"L0000021,2020-05-03,2\nL0000022,2020-05-04,3,7.50\n"
        )
        self.assertEqual(
            plain(csv_records(data)),
            [
                (2, None, "too_many_fields", "5 fields where the header has 4"),
                (3, None, "too_many_fields", "6 fields where the header has 4"),
                (4, None, "too_few_fields", "3 fields where the header has 4"),
                (5, {"customer_id": "L0000022", "date": "2020-05-04", "quantity": "3", "amount": "7.50"}, None, None),
            ],
        )

    def test_a_quote_never_closed_is_a_read_error_on_the_line_it_opens(self):
        data = HEADER + b'L1,2020-01-01,1,1.00\n\nL2,"2020-01-02,1,2.00\nL3,2020-01-03,1,3.00\n'
        self.assertEqual(
            plain(csv_records(data)),
            [
                (2, {"customer_id": "L1", "date": "2020-01-01", "quantity": "1", "amount": "1.00"}, None, None),
                (4, None, "malformed_csv", "a quoted value opened on this line is never closed"),
            ],
        )

    def test_a_line_that_is_not_utf8_is_a_read_error_without_its_content(self):
        data = HEADER + b"L1,2020-01-01,1,1.00\n" + "ren\xe9e@example.com,2020-01-02,1,2.00\n".encode("latin-1")
        records = plain(csv_records(data))
        # "ren" is three bytes; the fourth, 0xE9, starts no valid UTF-8 sequence here.
        self.assertEqual(records[1], (3, None, "invalid_utf8", "not UTF-8 at byte 4 of the line"))
        self.assertNotIn("example.com", repr(records))
        rows = file_rows("latin1.csv", data, "csv", DEFAULT_MAPPING, INGESTED)
        expected = ("latin1.csv", 3, INGESTED, "invalid_utf8", "not UTF-8 at byte 4 of the line")
        self.assertEqual(rows[1][:2] + rows[1][7:], expected)
        self.assertEqual(rows[1][2:7], (None,) * 5)
        self.assertNotIn("example.com", repr(rows))
        self.assertEqual(
            plain(csv_records(b"caf\xe9,date\nL1,2020\n")), [(1, None, "invalid_utf8", "the header row is not UTF-8")]
        )

    def test_jsonl_numbers_keep_their_text_and_bad_lines_are_read_errors(self):
        data = (
            b'{"c":"L-1","a":12.50,"q":2}\n\n{"c":"L-2","a":3,"q":null}\n'
            b'{"c":\n[1]\n{"c":"ren\xe9e@example.com"}\n'
        )
        self.assertEqual(
            plain(jsonl_records(data, "f.jsonl")),
            [
                (1, {"c": "L-1", "a": "12.50", "q": "2"}, None, None),
                (3, {"c": "L-2", "a": "3", "q": None}, None, None),
                (4, None, "invalid_json", "not JSON"),
                (5, None, "invalid_json", "not a JSON object"),
                (6, None, "invalid_utf8", "not UTF-8 at byte 10 of the line"),
            ],
        )

    def test_a_json_record_without_a_mapped_key_gets_null(self):
        mapping = {"customer": "c", "orderDate": "d", "amount": "a", "quantity": None}
        data = b'{"c":"L-1","d":"2020-01-01","a":1e3}\n{"d":"2020-01-02","a":2}\n'
        rows = file_rows("f.jsonl", data, "jsonl", mapping, INGESTED)
        self.assertEqual(
            [row[1:7] for row in rows],
            [(1, None, "L-1", "2020-01-01", "1e3", None), (2, None, None, "2020-01-02", "2", None)],
        )
        with self.assertRaisesRegex(MissingColumnError, 'History file f.jsonl has no column "d"'):
            file_rows("f.jsonl", b'{"c":"L-1","a":1}\n', "jsonl", mapping, INGESTED)

    def test_file_rows_are_raw_rows_in_column_order(self):
        data = b"customer_id,date,amount\nL-1,2019-03-04,12.50\n"
        self.assertEqual(
            file_rows("2019/orders.csv", data, "csv", {**DEFAULT_MAPPING, "quantity": None}, INGESTED),
            [("2019/orders.csv", 2, None, "L-1", "2019-03-04", "12.50", None, INGESTED, None, None)],
        )
        with self.assertRaisesRegex(MissingColumnError, 'no column "quantity"'):
            file_rows("2019/orders.csv", data, "csv", DEFAULT_MAPPING, INGESTED)

    def test_an_empty_or_broken_file_is_one_read_error_row(self):
        empty = ("empty.csv", None, None, None, None, None, None, INGESTED, "empty_file", "the file has no bytes")
        self.assertEqual(file_rows("empty.csv", b"", "csv", DEFAULT_MAPPING, INGESTED), [empty])
        self.assertEqual(file_rows("empty.jsonl", b"", "jsonl", DEFAULT_MAPPING, INGESTED)[0][8], "empty_file")
        self.assertEqual(
            file_rows("blank.csv", b"\n\n", "csv", DEFAULT_MAPPING, INGESTED)[0][8:],
            ("empty_file", "the file has no header row"),
        )
        self.assertEqual(
            file_rows("broken.csv.gz", b"not gzip", "csv", DEFAULT_MAPPING, INGESTED)[0][8:],
            ("unreadable_file", "not a gzip file"),
        )

    def test_gzipped_text_files_are_read(self):
        data = gzip.compress(HEADER + b"L1,2020-01-01,1,1.00\n")
        self.assertEqual(
            file_rows("orders.csv.gz", data, "csv", DEFAULT_MAPPING, INGESTED),
            [("orders.csv.gz", 2, None, "L1", "2020-01-01", "1.00", "1", INGESTED, None, None)],
        )
        self.assertTrue(is_candidate("2020/orders.CSV.gz", "csv"))
        self.assertTrue(is_candidate("orders.jsonl.gz", "jsonl"))
        self.assertFalse(is_candidate("orders.parquet.gz", "parquet"))

    def test_ignored_files_are_named(self):
        prefix = "landing/history/"
        names = ("a.csv", "b.csv.gz", "notes.md", "_tmp/x.csv", ".keep", "2021/")
        listing = [{"key": prefix + name, "etag": "e"} for name in names]
        self.assertEqual(ignored_files(listing, prefix, "csv"), ["notes.md"])

    def test_file_names_are_read_literally(self):
        # Spark and Hadoop take a path as a glob: before, g-orders-[a].csv read g-orders-a.csv.
        self.assertEqual(hadoop_literal("history/g-orders-[a].csv"), "history/g-orders-\\[a\\].csv")
        self.assertEqual(hadoop_literal("h16-orders-20?0.csv"), "h16-orders-20\\?0.csv")
        self.assertEqual(hadoop_literal("a{b,c}*\\.parquet"), "a\\{b,c\\}\\*\\\\.parquet")

        # Text files are fetched by their exact key on an executor (a stand-in for Spark, which
        # does not run here, and for S3).
        class Rdd(list):
            def flatMap(self, function):
                return Rdd(row for item in self for row in function(item))

        class Reader:
            def parquet(self, url):
                self.url = url
                raise RuntimeError("stop")

        class Spark:
            read = Reader()

            class sparkContext:
                @staticmethod
                def parallelize(items, slices):
                    return Rdd(items)

        item = {"key": "landing/history/g-orders-[a].csv", "file": "g-orders-[a].csv", "etag": "e", "size": 30}
        content = HEADER + b"L1,2020-01-01,1,1.00\n"
        with mock.patch.object(land_history, "fetch_object", return_value=content) as fetch:
            rows = read_file(Spark, "raw", item, "csv", DEFAULT_MAPPING, INGESTED)
        fetch.assert_called_once_with("raw", "landing/history/g-orders-[a].csv")
        self.assertEqual([row[:4] for row in rows], [("g-orders-[a].csv", 2, None, "L1")])
        with self.assertRaises(RuntimeError):
            parquet = {**item, "key": "landing/history/p-[a].parquet"}
            read_file(Spark, "raw", parquet, "parquet", DEFAULT_MAPPING, INGESTED)
        self.assertEqual(Spark.read.url, "s3://raw/landing/history/p-\\[a\\].parquet")
        # An empty object is not read at all: it lands as one empty_file row.
        with mock.patch.object(land_history, "fetch_object") as fetch:
            rows = read_file(Spark, "raw", {**item, "size": 0}, "csv", DEFAULT_MAPPING, INGESTED)
        fetch.assert_not_called()
        self.assertEqual([row[8] for row in rows], ["empty_file"])

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
                {"key": "landing/history/2020/c.CSV", "etag": "e3", "file": "2020/c.CSV", "size": None},
                {"key": "landing/history/b.csv", "etag": "e2", "file": "b.csv", "size": None},
            ],
        )
        self.assertEqual(files_to_land(listing, prefix, "parquet", None), [])


if __name__ == "__main__":
    unittest.main()
