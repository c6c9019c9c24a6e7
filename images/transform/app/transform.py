"""Entry point of the transform image: dbt build, then export Parquet per date.

The host mounts raw/ read-only at /lake/raw and an empty staging folder at
/out; the host moves the files into the lake only after this exits 0, so a
failed run (a failing dbt test included) changes nothing in the lake.

Usage: python /app/transform.py START END RANGES_JSON
"""

from __future__ import annotations

import datetime as dt
import json
import os
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
    ranges = json.loads(argv[2])
    dbt_vars = json.dumps({"start_date": str(start), "end_date": str(end), "ranges": ranges})
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


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
