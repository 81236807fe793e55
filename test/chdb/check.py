#!/usr/bin/env python3
"""Runs every shipped ClickHouse migration and query on a current ClickHouse
engine (chDB), twice for the migrations (they must be idempotent), and prints a
closing line 'N passed, N failed'. Exit status 1 when anything fails.

Usage: go run ./test/chdb/dump | python3 test/chdb/check.py
"""
import json
import sys

import chdb
from chdb import session


def main() -> int:
    shipped = json.load(sys.stdin)
    s = session.Session()
    print(f"chdb engine {s.query('SELECT version()', 'CSV').bytes().decode().strip()}")
    s.query("CREATE DATABASE IF NOT EXISTS touchline")
    passed = failed = 0

    def run(label: str, sql: str) -> None:
        nonlocal passed, failed
        try:
            s.query("USE touchline")
            s.query(sql, "CSV")
            passed += 1
            print(f"ok    {label}")
        except Exception as e:  # chdb raises its own error type
            failed += 1
            print(f"FAIL  {label}: {e}")

    for round_ in (1, 2):
        for i, stmt in enumerate(shipped["migrations"], 1):
            run(f"migration statement {i} (round {round_})", stmt)
    for name, sql in sorted(shipped["queries"].items()):
        run(f"query {name}", sql)
    print(f"chdb: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
