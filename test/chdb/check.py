#!/usr/bin/env python3
"""Runs every shipped ClickHouse migration and query on a current ClickHouse
engine (chDB), twice for the migrations (they must be idempotent), then the
hand-computed analytics cases (each in a fresh database: migrations, fixture
inserts, query, rows compared with the expected ones), and prints a closing
line 'N passed, N failed'. Exit status 1 when anything fails.

The cases whose result Go computes from the rows of their SQL (the
data-driven attribution models) are finished by `go run ./test/chdb/finish`
on chDB's rows, all in one run, and then compared.

Usage: go run ./test/chdb/dump | python3 test/chdb/check.py (from the
repository root)
"""
import json
import math
import subprocess
import sys

from chdb import session

# Largest difference between an expected and a returned number, relative to
# the larger of the two (absolute below 1); the Go side uses the same.
TOLERANCE = 1e-9


def normalise(row, numeric):
    """Numbers as floats: chDB's JSON quotes 64-bit integers as strings."""
    return [float(c) if n and c is not None else c for c, n in zip(row, numeric)]


def keyed(rows, key):
    return sorted(rows, key=lambda r: json.dumps(r[:key]))


def same(got, want):
    if len(got) != len(want):
        return False
    for g, w in zip(got, want):
        if isinstance(w, float) and isinstance(g, float):
            if abs(g - w) > TOLERANCE * max(1.0, abs(g), abs(w)) or math.isnan(g):
                return False
        elif g != w:
            return False
    return True


def compare(case, result):
    """Returns a description of the differences, or '' when none."""
    problems = []
    names = [m["name"] for m in result["meta"]]
    if names != case["columns"]:
        problems.append(f"columns {names}, want {case['columns']}")
    want = case["want"]
    numeric = [any(isinstance(r[i], (int, float)) for r in want) for i in range(len(case["columns"]))]
    got = keyed([normalise(r, numeric) for r in result["data"]], case["key"])
    want = keyed([[float(c) if isinstance(c, int) else c for c in r] for r in want], case["key"])
    if len(got) != len(want):
        problems.append(f"{len(got)} rows, want {len(want)}")
    for i, (g, w) in enumerate(zip(got, want), 1):
        if not same(g, w):
            problems.append(f"row {i}: {g}, want {w}")
    if problems:
        problems.append("got:\n" + "\n".join(f"      {r}" for r in got))
    return "\n    ".join(problems)


def column_exists(sql: str, e: Exception) -> bool:
    """Whether e refuses sql, an ADD COLUMN, because the column exists: the
    migrator (pkg/clickhouse, columnExists) counts that as applied, since
    ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS."""
    return sql.startswith("ALTER TABLE ") and " ADD COLUMN " in sql and "(DUPLICATE_COLUMN)" in str(e)


def main() -> int:
    shipped = json.load(sys.stdin)
    s = session.Session()
    print(f"chdb engine {s.query('SELECT version()', 'CSV').bytes().decode().strip()}")
    passed = failed = 0

    def run(label: str, database: str, sql: str) -> None:
        nonlocal passed, failed
        try:
            s.query(f"USE {database}")
            s.query(sql, "CSV")
            passed += 1
            print(f"ok    {label}")
        except Exception as e:  # chdb raises its own error type
            if column_exists(sql, e):
                passed += 1
                print(f"ok    {label} (the column exists, which the migrator counts as applied)")
                return
            failed += 1
            print(f"FAIL  {label}: {e}")

    s.query("CREATE DATABASE IF NOT EXISTS touchline")
    for round_ in (1, 2):
        for i, stmt in enumerate(shipped["migrations"], 1):
            run(f"migration statement {i} (round {round_})", "touchline", stmt)
    for name, sql in sorted(shipped["queries"].items()):
        run(f"query {name}", "touchline", sql)

    results = {}
    for n, case in enumerate(shipped["cases"], 1):
        database = f"analytics_case_{n}"
        s.query(f"DROP DATABASE IF EXISTS {database}")
        s.query(f"CREATE DATABASE {database}")
        ready = True
        for stmt in shipped["migrations"] + case["inserts"]:
            try:
                s.query(f"USE {database}")
                s.query(stmt)
            except Exception as e:
                ready = False
                failed += 1
                print(f"FAIL  case {case['name']}: loading the fixture: {e}")
                break
        if not ready:
            continue
        try:
            s.query(f"USE {database}")
            result = json.loads(s.query(case["sql"], "JSONCompact").bytes())
        except Exception as e:
            failed += 1
            print(f"FAIL  case {case['name']}: {e}")
            continue
        results[case["name"]] = (case, result)
    finishing = {name: r for name, (c, r) in results.items() if c.get("finish")}
    finished = {}
    if finishing:
        run_finish = subprocess.run(["go", "run", "./test/chdb/finish"], input=json.dumps(finishing),
                                    capture_output=True, text=True, check=False)
        if run_finish.returncode != 0:
            print(f"FAIL  finishing the data-driven cases: {run_finish.stderr.strip()}")
            failed += 1
        else:
            finished = json.loads(run_finish.stdout)
    for name, (case, result) in results.items():
        if case.get("finish"):
            result = finished.get(name, {"error": "not finished"})
            if result.get("error"):
                failed += 1
                print(f"FAIL  case {name}: {result['error']}")
                continue
        problems = compare(case, result)
        if problems:
            failed += 1
            print(f"FAIL  case {name}: {problems}")
        else:
            passed += 1
            print(f"ok    case {name}")
    print(f"chdb: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
