#!/usr/bin/env python3
"""Times touchline's analytics queries on a current ClickHouse engine (chDB)
loaded with the rows a ClickHouse server already holds. Called by
`go run ./test/bench/queries -chdb`, which writes the request as JSON on stdin:

    {"migrations": [...], "tables": {"touchpoints": "/path/t.native", ...},
     "queries": [{"name": ..., "sql": ...}], "runs": 3}

It applies the migrations in a fresh database (materialised views included),
inserts each table from its Native file (so the views fill their tables as
they do on the server), waits for the background merges the load started,
runs each query `runs` times, and writes on stdout, as JSON, the engine's
version and each query's median wall time in seconds and rows (as
TabSeparated text, counted and compared with the server's by the caller), or
its error.
"""
import json
import shutil
import statistics
import sys
import tempfile
import time

from chdb import session


# Longest wait for the background merges after the load, as on the server
# (testenv.Settle): past it the queries are timed anyway.
MERGE_WAIT_SECONDS = 120


def settle(s: session.Session) -> None:
    """Waits until no merge runs and no more parts disappear, at most
    MERGE_WAIT_SECONDS."""
    last = None
    deadline = time.monotonic() + MERGE_WAIT_SECONDS
    while True:
        row = s.query(
            "SELECT (SELECT count() FROM system.merges), "
            "(SELECT count() FROM system.parts WHERE active AND database = 'bench')", "CSV"
        ).bytes().decode().strip().split(",")
        merges, parts = int(row[0]), int(row[1])
        if merges == 0 and parts == last:
            return
        if time.monotonic() > deadline:
            print(f"chdb: merges still running after {MERGE_WAIT_SECONDS} s ({merges} merges, {parts} parts); "
                  "timing the queries anyway", file=sys.stderr)
            return
        last = parts
        time.sleep(1)


def main() -> int:
    req = json.load(sys.stdin)
    path = tempfile.mkdtemp(prefix="touchline-bench-chdb-")
    try:
        s = session.Session(path)
        version = s.query("SELECT version()", "CSV").bytes().decode().strip().strip('"')
        s.query("CREATE DATABASE bench")
        s.query("USE bench")
        for stmt in req["migrations"]:
            s.query(stmt)
        for table, file in req["tables"].items():
            s.query(f"INSERT INTO bench.{table} SELECT * FROM file('{file}', Native)")
        settle(s)
        out = {"version": version, "results": []}
        for q in req["queries"]:
            times, text, error = [], "", ""
            try:
                for _ in range(req["runs"]):
                    start = time.perf_counter()
                    text = s.query(q["sql"], "TabSeparated").bytes().decode()
                    times.append(time.perf_counter() - start)
            except Exception as e:  # chdb raises its own error type
                error = str(e)
            out["results"].append({"name": q["name"], "seconds": statistics.median(times) if times and not error else 0,
                                   "tsv": text, "error": error})
        json.dump(out, sys.stdout)
        return 0
    finally:
        shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
