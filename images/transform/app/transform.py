"""Entry point of the transform image: dbt build, then export Parquet per date.

The host mounts raw/ read-only at /lake/raw and an empty staging folder at
/out; the host moves the files into the lake only after this exits 0, so a
failed run (a failing dbt test included) changes nothing in the lake.

Usage: python /app/transform.py START END VARS_JSON

VARS_JSON is {"ranges": {column: [low, high]}, "lags": {column: [hours]}}: the
dataset's measured columns with their plausible ranges, and the lagged copies the
features need. A lag is 1 or 24 hours: features.sql joins the station's hour
before and its day before, nothing else.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from pathlib import Path

OUT = Path(os.environ.get("OUT_DIR", "/out"))
EXPORTS = {"trusted/measurements": "trusted_measurements", "refined/features": "features"}


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    start, end = dt.date.fromisoformat(argv[0]), dt.date.fromisoformat(argv[1])
    given = json.loads(argv[2])
    problem = check_vars(given)
    if problem:
        print(f"error: {problem}", file=sys.stderr, flush=True)
        return 2
    dbt_vars = json.dumps({"start_date": str(start), "end_date": str(end),
                           "ranges": given["ranges"], "lags": given["lags"]})
    print(f"transform {start}..{end}: dbt build", flush=True)
    build = subprocess.run(
        ["dbt", "build", "--vars", dbt_vars, "--project-dir", "/app", "--profiles-dir", "/app",
         "--target-path", "/tmp/dbt/target", "--log-path", "/tmp/dbt/logs", "--no-use-colors"],
        check=False,
    )
    if build.returncode != 0:
        print(f"dbt build failed with exit code {build.returncode}", file=sys.stderr)
        return build.returncode

    import duckdb

    con = duckdb.connect("/tmp/orchbench.duckdb", read_only=True)
    day = start
    while day <= end:
        for folder, table in EXPORTS.items():
            target = OUT / folder / f"{day}.parquet"
            target.parent.mkdir(parents=True, exist_ok=True)
            con.execute(
                f"copy (select * from {table} where date = ? order by station_id, ts) "
                f"to '{target}' (format parquet)",
                [day],
            )
            rows = con.execute(f"select count(*) from {table} where date = ?", [day]).fetchone()
            print(f"wrote {folder}/{day}.parquet: {rows[0]} rows", flush=True)
        day += dt.timedelta(days=1)
    return 0


_NAME = re.compile(r"[a-z][a-z0-9_]*")
LAG_HOURS = (1, 24)


def check_vars(given: object) -> str | None:
    """What is wrong with the host's vars, or None: the SQL is generated from them."""
    if not isinstance(given, dict) or not {"ranges", "lags"} <= set(given):
        return "VARS_JSON must be an object with 'ranges' and 'lags'"
    ranges, lags = given["ranges"], given["lags"]
    if not isinstance(ranges, dict) or not ranges:
        return "'ranges' must name at least one measured column: {column: [low, high]}"
    for column, bounds in ranges.items():
        if not _NAME.fullmatch(column):
            return f"{column!r} is not a column name (lower case, digits, _)"
        if (not isinstance(bounds, list) or len(bounds) != 2
                or not all(isinstance(b, int | float) for b in bounds) or bounds[0] > bounds[1]):
            return f"ranges[{column!r}] = {bounds!r}; expected [low, high]"
    if not isinstance(lags, dict) or not lags:
        return "'lags' must name at least one column: {column: [hours]}"
    for column, hours in lags.items():
        if column not in ranges:
            return f"lags[{column!r}]: not a measured column ({', '.join(ranges)})"
        if (not isinstance(hours, list) or not hours or len(set(hours)) != len(hours)
                or any(h not in LAG_HOURS for h in hours)):
            return (f"lags[{column!r}] = {hours!r}; every lag must be 1 or 24 hours "
                    "(features.sql joins the hour before and the day before only)")
    return None


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
