"""The data lake on local disk: zones, paths, and writes that never half-replace.

landing/     the file as delivered (CSV), kept for audit and re-ingest
raw/         rows that passed validation, as Parquet, one file per logical date
quarantine/  rows that did not, each with its reason, one file per logical date
trusted/     typed, deduplicated, range-checked rows (dbt), one file per date
refined/     model features (dbt), one file per date

Every write goes to a temporary name in the same folder and is renamed into
place, so a crash leaves either the old file or the new one, never a torso.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

ZONES = ("landing", "raw", "quarantine", "trusted", "refined")
TABLES = {
    "raw": "measurements",
    "quarantine": "measurements",
    "trusted": "measurements",
    "refined": "features",
}


class Lake:
    """Paths of one lake root; creating it is cheap and touches nothing."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def zone(self, zone: str) -> Path:
        if zone not in ZONES:
            raise ValueError(f"unknown zone {zone!r}")
        return self.root / zone / TABLES[zone] if zone in TABLES else self.root / zone

    def landing_file(self, day: dt.date) -> Path:
        return self.root / "landing" / day.isoformat() / "measurements.csv"

    def ingest_report(self, day: dt.date) -> Path:
        """What ingest counted for the date: rows, reasons, completeness, DST (JSON)."""
        return self.root / "raw" / "ingest" / f"{day.isoformat()}.json"

    def table_file(self, zone: str, day: dt.date) -> Path:
        return self.zone(zone) / f"{day.isoformat()}.parquet"

    def dates(self, zone: str) -> list[dt.date]:
        folder = self.zone(zone)
        if not folder.is_dir():
            return []
        return sorted(dt.date.fromisoformat(p.stem) for p in folder.glob("*.parquet"))

    def rows(self, zone: str, day: dt.date) -> int:
        """Rows in a date's file (0 if absent), read from the Parquet footer only."""
        import pyarrow.parquet as pq

        path = self.table_file(zone, day)
        return pq.read_metadata(path).num_rows if path.exists() else 0

    def read(self, zone: str, days: list[dt.date]) -> pd.DataFrame:
        """Rows of the given dates that exist, in file order (empty frame if none)."""
        import pandas as pd

        files = [self.table_file(zone, d) for d in days if self.table_file(zone, d).exists()]
        if not files:
            return pd.DataFrame()
        return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)

    def content_hash(self, zone: str, days: list[dt.date] | None = None) -> str:
        """A hash of the rows of a zone, independent of Parquet writer metadata."""
        import pandas as pd

        days = self.dates(zone) if days is None else days
        digest = hashlib.sha256()
        for day in days:
            frame = self.read(zone, [day])
            digest.update(day.isoformat().encode())
            if not frame.empty:
                frame = frame.sort_values(list(frame.columns)).reset_index(drop=True)
                digest.update(pd.util.hash_pandas_object(frame, index=False).values.tobytes())
        return digest.hexdigest()


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside target; rename it over target only on success."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_parquet(frame: pd.DataFrame, target: Path) -> None:
    with atomic_path(target) as tmp:
        frame.to_parquet(tmp, index=False)


def write_text(text: str, target: Path, *, encoding: str | None = None,
               mode: int | None = None) -> None:
    """mode: permission bits for the file (the temporary file is private, 0600, otherwise)."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding=encoding)
        if mode is not None:
            tmp.chmod(mode)


def write_json(data: Any, target: Path) -> None:
    write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n", target)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
