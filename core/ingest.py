"""Ingest: landing → raw, with every invalid row quarantined under its reason.

The contract is that nothing is silently dropped: rows in = rows in raw + rows
in quarantine, for every file. A file that cannot be read as CSV at all, or
lacks required columns, fails the step before anything is written, so the
lake keeps what it had.
"""

from __future__ import annotations

import datetime as dt
import io
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.config import Config
from core.errors import InputDataError
from core.generator import generate_csv
from core.lake import Lake, atomic_path, write_parquet, write_text
from core.schema import COLUMNS, MEASUREMENTS

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class IngestResult:
    date: str
    landing: str
    raw: str
    quarantine: str | None
    rows_in: int
    rows_raw: int
    rows_quarantined: int
    reasons: dict[str, int]


def land(cfg: Config, day: dt.date) -> Path:
    """Put the day's delivery into landing/: generated, or copied from the user's folder."""
    lake = Lake(cfg.lake)
    target = lake.landing_file(day)
    if cfg.data.source == "generator":
        write_text(generate_csv(cfg.data, day), target)
        return target
    source = Path(cfg.data.csv_dir) / f"{day.isoformat()}.csv"
    if not source.is_file():
        raise InputDataError(
            f"No input file for {day}: {source} does not exist.",
            f"Put the day's measurements in {source} (one CSV per date, named YYYY-MM-DD.csv).",
        )
    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)
    return target


def ingest(cfg: Config, day: dt.date) -> IngestResult:
    """Land, validate and split the day's measurements into raw and quarantine."""
    lake = Lake(cfg.lake)
    landing = land(cfg, day)
    frame = read_csv(landing)
    valid, rejected = validate(frame, day)
    valid = valid.assign(source_file=landing.name, date=day)
    raw_path = lake.table_file("raw", day)
    quarantine_path = lake.table_file("quarantine", day)
    write_parquet(valid, raw_path)
    if len(rejected):
        write_parquet(rejected.assign(source_file=landing.name, date=day), quarantine_path)
    else:
        quarantine_path.unlink(missing_ok=True)  # a re-run with clean input clears old rejects
    reasons = (
        rejected["reason"].str.split(";").explode().value_counts().to_dict()
        if len(rejected)
        else {}
    )
    return IngestResult(
        date=day.isoformat(),
        landing=str(landing),
        raw=str(raw_path),
        quarantine=str(quarantine_path) if len(rejected) else None,
        rows_in=len(frame),
        rows_raw=len(valid),
        rows_quarantined=len(rejected),
        reasons={str(k): int(v) for k, v in sorted(reasons.items())},
    )


def read_csv(path: Path) -> pd.DataFrame:
    """Read every cell as text so validation, not the parser, decides what is wrong."""
    import pandas as pd

    try:
        data = path.read_bytes()
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputDataError(
            f"{path} is not a UTF-8 text file, so it cannot be read as CSV.",
            "Export the measurements as UTF-8 CSV with a header row.",
        ) from None
    if not text.strip():
        raise InputDataError(f"{path} is empty.", "Deliver a CSV with a header row and data rows.")
    try:
        frame = pd.read_csv(
            io.StringIO(text), dtype=str, keep_default_na=False, skipinitialspace=True
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputDataError(
            f"{path} cannot be parsed as CSV: {str(exc).strip()}.",
            "Check the delimiter (a comma) and that every row has as many fields as the header.",
        ) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise InputDataError(
            f"{path} lacks the required column(s) {', '.join(missing)}.",
            f"The header must name: {', '.join(COLUMNS)} (extra columns are ignored).",
        )
    return frame[list(COLUMNS)].reset_index(drop=True)


def validate(frame: pd.DataFrame, day: dt.date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split rows into typed valid rows and rejected rows (original text plus reasons)."""
    import numpy as np
    import pandas as pd

    reasons = pd.Series([""] * len(frame), index=frame.index, dtype=object)

    def flag(mask: pd.Series, reason: str) -> None:
        reasons[mask] = reasons[mask].map(lambda r: f"{r};{reason}" if r else reason)

    typed = pd.DataFrame(index=frame.index)
    station = frame["station_id"].str.strip()
    flag(station == "", "missing_value:station_id")
    typed["station_id"] = station

    stamp_text = frame["timestamp"].str.strip()
    stamps = pd.to_datetime(stamp_text, errors="coerce", format="ISO8601", utc=True)
    flag(stamp_text == "", "missing_value:timestamp")
    flag((stamp_text != "") & stamps.isna(), "invalid_type:timestamp")
    stamps = stamps.dt.tz_convert(None).astype("datetime64[us]")
    flag(stamps.notna() & (stamps.dt.date != day), "wrong_date")
    typed["timestamp"] = stamps

    for column, (_, low, high) in MEASUREMENTS.items():
        text = frame[column].str.strip()
        values = pd.to_numeric(text, errors="coerce")
        flag(text == "", f"missing_value:{column}")
        flag((text != "") & values.isna(), f"invalid_type:{column}")
        flag(values.notna() & ~np.isfinite(values), f"invalid_type:{column}")
        flag(
            values.notna() & np.isfinite(values) & ((values < low) | (values > high)),
            f"out_of_range:{column}",
        )
        typed[column] = values.astype("float64")

    clean = reasons == ""
    dup = clean & typed.duplicated(subset=["station_id", "timestamp"], keep="first")
    flag(dup, "duplicate")
    bad = reasons != ""

    valid = typed[~bad].reset_index(drop=True)
    rejected = frame[bad].copy()
    rejected.insert(0, "row_number", (frame.index[bad] + 2).astype("int64"))  # 1 = header line
    rejected["reason"] = reasons[bad].astype(str)
    return valid, rejected.reset_index(drop=True)
