"""Ingest: landing → raw, with every invalid row quarantined under its reason.

The dataset's profile (core/dataset.py) says how its files are cut and read.
The contract is that nothing is silently dropped: for every date, rows in =
rows in raw + rows in quarantine, and a multi-day file's dates add up to its
rows (plus the rows with no usable timestamp, kept once per file under
quarantine/undated/). A file that cannot be read as CSV at all, or lacks a
column the profile names, fails the step before anything is written, so the
lake keeps what it had.

What quarantines a row (its reason, `;`-joined when several apply):
- `missing_value:station_id`, `missing_value:timestamp`: a key is empty;
- `invalid_type:timestamp`, `invalid_type:<col>`: a value does not parse
  (or is not finite);
- `nonexistent_local_time`: a naive local time inside a spring-forward DST gap;
- `ambiguous_local_time`: a naive local time in the repeated autumn hour that a
  station reported once, so which of the two hours it is cannot be known (two
  reports of it are the first and the second hour, in file order);
- `out_of_range:<col>`: outside the catalogue's plausible range, after the
  unit conversion;
- `wrong_date`: in a one-file-per-date delivery, a row of another local date;
- `duplicate`: the same station and UTC hour again (the first row is kept).

A value that is simply absent (an empty cell, or one of the profile's missing
markers such as `NA` or `-200`) is not a reject: it stays NULL in raw, and the
day's completeness per column is recorded.
"""

from __future__ import annotations

import datetime as dt
import glob
import io
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from core.config import Config
from core.dataset import DatasetProfile
from core.errors import InputDataError
from core.generator import generate_csv
from core.lake import Lake, atomic_path, sha256_file, write_json, write_parquet, write_text
from core.schema import CATALOGUE, converter

if TYPE_CHECKING:
    import pandas as pd

_OFFSET = r"(?:Z|[+-]\d\d:?\d\d)$"  # an ISO 8601 UTC offset at the end of a timestamp


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
    # share of raw rows with a value, per measured column (1.0 when complete)
    completeness: dict[str, float] = field(default_factory=dict)
    # DST at this local date: hours in the day (23, 24 or 25) and rows resolved
    dst: dict[str, int] = field(default_factory=dict)
    # rows of the delivered multi-day files that carry no usable timestamp
    undated_rows: int = 0


def ingest(cfg: Config, day: dt.date) -> IngestResult:
    """Land, validate and split the date's measurements into raw and quarantine.

    Raises InputDataError (not retried) for a missing or unreadable file or a
    column the profile names that the file lacks; nothing is written then.
    """
    import pandas as pd

    profile = cfg.profile
    lake = Lake(cfg.lake)
    parsed = _deliveries(cfg, day, lake)
    undated = 0
    parts = []
    for p in parsed:
        if profile.daily_files:
            parts.append(p.assign(_wrong_date=p["_local_date"].notna()
                                  & (p["_local_date"] != day)))
        else:
            undated += int(p["_local_date"].isna().sum())
            parts.append(p[p["_local_date"] == day].assign(_wrong_date=False))
    rows = pd.concat(parts, ignore_index=True)
    rows.loc[rows["_wrong_date"], "_reason"] = _add(rows.loc[rows["_wrong_date"], "_reason"],
                                                    "wrong_date")
    clean = rows["_reason"] == ""
    dup = clean & rows.duplicated(subset=["station_id", "timestamp"], keep="first")
    rows.loc[dup, "_reason"] = "duplicate"
    bad = rows["_reason"] != ""

    columns = ["station_id", "timestamp", *profile.columns]
    valid = rows.loc[~bad, [*columns, "source_file"]].reset_index(drop=True)
    valid["timestamp"] = valid["timestamp"].astype("datetime64[us]")
    valid = valid.assign(date=day)
    rejected = rows.loc[bad, ["_text", "_row_number", "source_file", "_reason"]]
    raw_path = lake.table_file("raw", day)
    quarantine_path = lake.table_file("quarantine", day)
    write_parquet(valid, raw_path)
    if len(rejected):
        text = pd.DataFrame(list(rejected["_text"])).astype(str)
        text.insert(0, "row_number", rejected["_row_number"].astype("int64").to_numpy())
        text["reason"] = rejected["_reason"].astype(str).to_numpy()
        text["source_file"] = rejected["source_file"].astype(str).to_numpy()
        write_parquet(text.assign(date=day), quarantine_path)
    else:
        quarantine_path.unlink(missing_ok=True)  # a re-run with clean input clears old rejects
    reasons = (rejected["_reason"].str.split(";").explode().value_counts().to_dict()
               if len(rejected) else {})
    result = IngestResult(
        date=day.isoformat(),
        landing=str(lake.landing_file(day) if profile.daily_files or profile.source ==
                    "generator" else lake.root / "landing" / "files"),
        raw=str(raw_path),
        quarantine=str(quarantine_path) if len(rejected) else None,
        rows_in=len(rows),
        rows_raw=len(valid),
        rows_quarantined=len(rejected),
        reasons={str(k): int(v) for k, v in sorted(reasons.items())},
        completeness=completeness(valid, profile.columns),
        dst={"hours_in_day": hours_in_day(day, profile.timezone),
             "repeated_hour_rows": int(rows["_repeated"].sum()),
             "nonexistent_time_rows": int(rows["_reason"].str.contains(
                 "nonexistent_local_time").sum())},
        undated_rows=undated,
    )
    write_json(asdict(result), lake.ingest_report(day))
    return result


def completeness(frame: pd.DataFrame, columns: tuple[str, ...]) -> dict[str, float]:
    """Share of rows with a value, per column (0.0 for no rows), rounded to 4 places."""
    n = len(frame)
    return {c: round(float(frame[c].notna().sum()) / n, 4) if n else 0.0 for c in columns}


def hours_in_day(day: dt.date, zone: str) -> int:
    """Hours in the local calendar day: 24, or 23/25 on a DST change (zoneinfo)."""
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(zone)
    start = dt.datetime.combine(day, dt.time(), tz).astimezone(dt.UTC)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tz).astimezone(dt.UTC)
    return round((end - start).total_seconds() / 3600)


# ---------------------------------------------------------------------- deliveries
def _deliveries(cfg: Config, day: dt.date, lake: Lake) -> list[pd.DataFrame]:
    """The parsed files holding the date's rows (see _parse); each delivered file is
    read before it is landed, so a file that cannot be read leaves the lake as it was."""
    profile = cfg.profile
    if profile.source == "generator":
        text = generate_csv(cfg.data, day)
        frame = _parse(_read(text, "generated", profile), profile)
        write_text(text, lake.landing_file(day))
        return [frame.assign(source_file=lake.landing_file(day).name)]
    if profile.daily_files:
        source = Path(profile.path().replace("{date}", day.isoformat()))
        if not source.is_file():
            raise InputDataError(
                f"No input file for {day}: {source} does not exist.",
                f"Put the day's measurements in {source} (dataset {profile.name!r}: one file "
                "per date, named by the date).")
        frame = _parse(_read(source.read_bytes(), str(source), profile), profile)
        target = lake.landing_file(day)
        with atomic_path(target) as tmp:
            shutil.copyfile(source, tmp)
        return [frame.assign(source_file=target.name)]
    pattern = profile.path()
    sources = sorted(Path(p) for p in glob.glob(pattern) if Path(p).is_file())
    if not sources:
        hint = (f"Run `orchbench data get {profile.name}` first." if "{datasets}"
                in profile.files else f"Put the dataset's files where `files = {pattern!r}` "
                "finds them, or correct that path in the profile.")
        raise InputDataError(f"No file of dataset {profile.name!r} matches {pattern}.", hint)
    frames = [_parsed_file(s, profile).assign(source_file=s.name) for s in sources]
    for source in sources:
        _land_once(source, lake.root / "landing" / "files" / source.name)
    return frames


def _land_once(source: Path, target: Path) -> None:
    """Keep the delivered file in landing/files/ once (again only if its content changed)."""
    if target.is_file() and target.stat().st_size == source.stat().st_size \
            and sha256_file(target) == sha256_file(source):
        return
    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)


# Parsed multi-day files, keyed by (path, size, mtime, profile): a backfill in one
# process parses a file once, not once per date (Beijing's 43,824 rows: ~1.2 s each).
_PARSED: dict[tuple[str, int, int, str], pd.DataFrame] = {}


def _parsed_file(path: Path, profile: DatasetProfile) -> pd.DataFrame:
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns, repr(profile))
    if key not in _PARSED:
        if len(_PARSED) >= 4:
            _PARSED.pop(next(iter(_PARSED)))
        _PARSED[key] = _parse(_read(path.read_bytes(), str(path), profile), profile)
    return _PARSED[key].copy()


def _read(data: bytes | str, name: str, profile: DatasetProfile) -> pd.DataFrame:
    """Every cell as text, so validation, not the parser, decides what is wrong.
    Returns the profile's columns only, with `_row_number` (the file's line, 1-based)."""
    import pandas as pd

    if isinstance(data, bytes):
        codec = "utf-8-sig" if profile.encoding.lower().replace("_", "-") in (
            "utf-8", "utf8") else profile.encoding
        label = "UTF-8" if codec == "utf-8-sig" else profile.encoding
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            raise InputDataError(
                f"{name} is not a {label} text file, so it cannot be read as CSV.",
                f"Export the measurements as {label} CSV with a header row, or set `encoding` "
                f"in the profile of dataset {profile.name!r}.") from None
    else:
        text = data
    if not text.strip():
        raise InputDataError(f"{name} is empty.", "Deliver a CSV with a header row and data rows.")
    try:
        frame = pd.read_csv(io.StringIO(text), sep=profile.delimiter, dtype=str,
                            keep_default_na=False, skipinitialspace=True,
                            skiprows=range(profile.header_row))
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputDataError(
            f"{name} cannot be parsed as CSV: {str(exc).strip()}.",
            f"Check the delimiter ({profile.delimiter!r} in dataset {profile.name!r}) and that "
            "every row has as many fields as the header.") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    required = [*profile.timestamp, *([profile.station_column] if profile.station_column else []),
                *(m.column for m in profile.measurements.values())]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputDataError(
            f"{name} lacks the required column(s) {', '.join(missing)}.",
            f"The header must name: {', '.join(required)} (extra columns are ignored); or "
            f"correct the column names in the profile of dataset {profile.name!r}.")
    frame = frame[list(dict.fromkeys(required))].reset_index(drop=True)
    frame["_row_number"] = frame.index + profile.header_row + 2  # 1 = the header line
    return frame


# ------------------------------------------------------------------------- parsing
def _parse(frame: pd.DataFrame, profile: DatasetProfile) -> pd.DataFrame:
    """Typed columns plus `_reason` ('' = valid), `_local_date`, `_repeated`, `_text` (the
    row as delivered) and `_row_number`; the caller adds `source_file`."""
    import numpy as np
    import pandas as pd

    text_columns = [c for c in frame.columns if c != "_row_number"]
    out = pd.DataFrame(index=frame.index)
    out["_text"] = frame[text_columns].to_dict("records")
    out["_row_number"] = frame["_row_number"]
    reasons = pd.Series([""] * len(frame), index=frame.index, dtype=object)

    def flag(mask: pd.Series, reason: str) -> None:
        reasons[mask] = _add(reasons[mask], reason)

    if profile.station:
        out["station_id"] = profile.station
    else:
        out["station_id"] = frame[profile.station_column].str.strip()
        flag(out["station_id"] == "", "missing_value:station_id")

    stamps = frame[list(profile.timestamp)].apply(lambda s: s.str.strip())
    stamp_text = stamps.iloc[:, 0] if len(profile.timestamp) == 1 else (
        stamps.agg(" ".join, axis=1).where(stamps.ne("").any(axis=1), ""))
    utc, local_date, repeated, dst_reason = _timestamps(stamp_text, out["station_id"], profile)
    flag(stamp_text == "", "missing_value:timestamp")
    flag((stamp_text != "") & local_date.isna(), "invalid_type:timestamp")
    for reason in ("nonexistent_local_time", "ambiguous_local_time"):
        flag(dst_reason == reason, reason)
    out["timestamp"] = utc
    out["_local_date"] = local_date
    out["_repeated"] = repeated

    numeric_markers = pd.to_numeric(pd.Series(list(profile.missing), dtype=object),
                                    errors="coerce").dropna().tolist()
    for column in profile.columns:
        spec = profile.measurements[column]
        text = frame[spec.column].str.strip()
        number = text.str.replace(",", ".", regex=False) if profile.decimal == "," else text
        values = pd.to_numeric(number, errors="coerce")
        absent = (text == "") | text.isin(profile.missing) | values.isin(numeric_markers)
        values = values.where(~absent)
        flag(~absent & values.isna(), f"invalid_type:{column}")
        flag(values.notna() & ~np.isfinite(values), f"invalid_type:{column}")
        values = values.where(np.isfinite(values))
        if spec.unit:
            values = converter(column, spec.unit, profile.gas_temperature_c)(values)
        q = CATALOGUE[column]
        flag(values.notna() & ((values < q.low) | (values > q.high)), f"out_of_range:{column}")
        out[column] = values.astype("float64")
    out["_reason"] = reasons
    return out


def _timestamps(text: pd.Series, station: pd.Series, profile: DatasetProfile
                ) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series]:
    """UTC time (naive), local date, 'repeated hour' flag and DST reason per row.

    Text with a UTC offset is taken as it says; naive text is wall-clock time in the
    profile's zone. Both occurrences of a repeated autumn hour are kept, in file
    order per station (first = daylight time, second = standard time); a time that
    does not exist (the spring gap) gets a reason instead of a guess.
    """
    import numpy as np
    import pandas as pd

    index = text.index
    utc = pd.Series(pd.NaT, index=index, dtype="datetime64[ns, UTC]")
    local_date = pd.Series(None, index=index, dtype=object)
    repeated = pd.Series(False, index=index)
    reason = pd.Series("", index=index, dtype=object)
    fmt = profile.timestamp_format
    aware = text.str.contains(_OFFSET, regex=True) & (text != "")
    if aware.any():
        parsed = pd.to_datetime(text[aware], errors="coerce", utc=True,
                                format="ISO8601" if fmt == "ISO8601" else fmt)
        utc[aware] = parsed
        ok = parsed.notna()
        local_date[parsed[ok].index] = parsed[ok].dt.tz_convert(profile.timezone).dt.date
    naive_rows = ~aware & (text != "")
    if naive_rows.any():
        naive = pd.to_datetime(text[naive_rows], errors="coerce", format=fmt)
        ok = naive.notna()
        naive = naive[ok]
        local_date[naive.index] = naive.dt.date
        if profile.timezone == "UTC":
            utc[naive.index] = naive.dt.tz_localize("UTC")
        else:
            n = len(naive)
            dst = naive.dt.tz_localize(profile.timezone, ambiguous=np.ones(n, bool),
                                       nonexistent="NaT")
            std = naive.dt.tz_localize(profile.timezone, ambiguous=np.zeros(n, bool),
                                       nonexistent="NaT")
            gap = dst.isna()
            twice = ~gap & (dst != std)
            reason[gap[gap].index] = "nonexistent_local_time"
            chosen = std.copy()
            if twice.any():
                keys = pd.DataFrame({"station": station[naive.index][twice],
                                     "naive": naive[twice]})
                nth = keys.groupby(["station", "naive"]).cumcount()
                size = keys.groupby(["station", "naive"])["naive"].transform("size")
                chosen[twice] = dst[twice].where(nth == 0, std[twice])
                repeated[nth.index[size > 1]] = True
                lonely = nth.index[size == 1]
                reason[lonely] = "ambiguous_local_time"
            utc[naive.index] = chosen.dt.tz_convert("UTC")
    return (utc.dt.tz_convert(None), local_date, repeated, reason)


def _add(reasons: pd.Series, reason: str) -> pd.Series:
    return reasons.map(lambda r: f"{r};{reason}" if r else reason)
