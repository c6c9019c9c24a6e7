"""Dataset profiles: how one source of measurements is laid out, described as data.

A profile says where the files are and how they are cut (one per logical date,
or any number each spanning many dates), how to read them (delimiter, decimal
mark, encoding, header line, missing-value markers), the timestamp (one column
or several, its format, its time zone when the values are naive local time),
the station (a column, or a constant), and which source column is which
canonical measurement (core/schema.CATALOGUE) in which unit. The generator is
one profile among others (`synthetic`).

Profiles are TOML tables: the built-in ones are `core/datasets/<name>.toml`;
a run's config selects one with `[dataset] profile = "beijing"` (and may
override its keys there, `files` for instance), or defines its own under
`[dataset]`. The resolved profile travels whole in the run's config, so every
orchestrator's worker reads the same one.

A logical date is a calendar day in the profile's time zone: the date a local
reader of the files would say the measurement belongs to. Timestamps in the lake
are UTC.
"""

from __future__ import annotations

import codecs
import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ConfigError
from core.schema import CATALOGUE, SYNTHETIC, converter

BUILT_IN = Path(__file__).with_name("datasets")
SOURCES = ("generator", "files")


def cache_dir() -> Path:
    """``$ORCHBENCH_CACHE`` or ``~/.cache/orchbench``: wheels, the base tarball, datasets."""
    configured = os.environ.get("ORCHBENCH_CACHE")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "orchbench"


def datasets_dir() -> Path:
    """Where `orchbench data get NAME` puts a downloaded dataset: CACHE/datasets/NAME/."""
    return cache_dir() / "datasets"


@dataclass(frozen=True)
class Measurement:
    """One measured column: its name in the file, and the unit the file gives it in
    ("" = the catalogue's canonical unit)."""

    column: str
    unit: str = ""


def _synthetic_measurements() -> dict[str, Measurement]:
    return {name: Measurement(name) for name in SYNTHETIC}


@dataclass(frozen=True)
class DatasetProfile:
    """One dataset's layout. Field order is the order a reader needs them in."""

    name: str = "synthetic"
    description: str = ""
    source: str = "generator"  # generator | files
    # A path or glob. "{date}" in it: one file per logical date (YYYY-MM-DD).
    # Otherwise every matching file may hold many dates and is split on ingest.
    # "{datasets}" stands for the download folder of `orchbench data get`.
    files: str = ""
    delimiter: str = ","
    decimal: str = "."
    encoding: str = "utf-8"
    header_row: int = 0  # 0-based line of the header; lines above it are skipped
    missing: tuple[str, ...] = ("",)  # cell texts meaning "not measured" (after strip)
    timestamp: tuple[str, ...] = ("timestamp",)  # several columns are joined by spaces
    timestamp_format: str = "ISO8601"  # or a strptime format of the joined text
    timezone: str = "UTC"  # IANA zone of naive timestamps; offsets in the text win
    station_column: str = "station_id"
    station: str = ""  # a constant station id, for a single-station file
    measurements: dict[str, Measurement] = field(default_factory=_synthetic_measurements)
    target: str = "pm25"
    gas_temperature_c: float = 25.0  # reference temperature of ppb → µg/m³ (1013.25 hPa)

    # -- what the pipeline derives from it ---------------------------------------
    @property
    def columns(self) -> tuple[str, ...]:
        """The canonical columns this dataset measures, in catalogue order."""
        return tuple(c for c in CATALOGUE if c in self.measurements)

    @property
    def daily_files(self) -> bool:
        return "{date}" in self.files

    @property
    def lags(self) -> dict[str, list[int]]:
        """Lagged copies the features need, hours: the target at 1 h and 24 h, every
        other pollutant at 1 h (at forecast time this hour's pollution is unknown)."""
        out = {self.target: [1, 24]}
        for c in self.columns:
            if c != self.target and CATALOGUE[c].kind == "pollutant":
                out[c] = [1]
        return out

    @property
    def features(self) -> tuple[str, ...]:
        """The model's inputs: the hour's weather (not the target), the clock, and lags.

        For the synthetic dataset this is the feature list the model has always had
        (temperature … precipitation, hour_sin/cos, pm25 at 1 h and 24 h, pm10/no2/o3
        at 1 h), so its models are unchanged by profiles."""
        weather = [c for c in self.columns
                   if c != self.target and CATALOGUE[c].kind == "weather"]
        lags = [f"{c}_lag_{h}h" for c, hours in self.lags.items() for h in hours]
        return (*weather, "hour_sin", "hour_cos", *lags)

    @property
    def persistence(self) -> str:
        """The naive persistence forecast's column: the target one hour earlier."""
        return f"{self.target}_lag_1h"

    def path(self) -> str:
        """`files` with ~ and {datasets} expanded ({date} is left for the caller)."""
        text = self.files.replace("{datasets}", str(datasets_dir()))
        return os.path.expanduser(text)

    # -- (de)serialisation ----------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["missing"] = list(self.missing)
        out["timestamp"] = list(self.timestamp)
        out["measurements"] = {k: {"column": m.column, "unit": m.unit}
                               for k, m in self.measurements.items()}
        return out

    def validate(self) -> DatasetProfile:
        """Check every key a reader would trip over; raise ConfigError naming it."""
        where = f"dataset {self.name!r}"
        if self.source not in SOURCES:
            _bad(where, "source", self.source, "one of: generator, files")
        if self.source == "files" and not self.files:
            _bad(where, "files", self.files,
                 "a path or glob of the files, with {date} if there is one file per date")
        if len(self.delimiter) != 1:
            _bad(where, "delimiter", self.delimiter, "one character, like , or ; or \\t")
        if self.decimal not in (".", ","):
            _bad(where, "decimal", self.decimal, "'.' or ','")
        if self.decimal == self.delimiter:
            _bad(where, "decimal", self.decimal, "a decimal mark other than the delimiter")
        try:
            codecs.lookup(self.encoding)
        except LookupError:
            _bad(where, "encoding", self.encoding, "a Python codec name, like utf-8 or latin-1")
        if self.header_row < 0:
            _bad(where, "header_row", self.header_row, "the 0-based line of the header row")
        if not self.timestamp or not all(self.timestamp):
            _bad(where, "timestamp", list(self.timestamp), "one column name or several")
        _zone(where, self.timezone)
        if bool(self.station_column) == bool(self.station):
            raise ConfigError(
                f"{where}: give exactly one of station_column (a column of station ids) "
                f"and station (a constant id); got {self.station_column!r} and {self.station!r}.",
                "Set station = \"NAME\" for a single-station file, or station_column = "
                "\"COLUMN\" otherwise.")
        unknown = sorted(set(self.measurements) - set(CATALOGUE))
        if unknown:
            raise ConfigError(
                f"{where}: {', '.join(unknown)} under [dataset.measurements] is not a "
                "canonical measurement.",
                f"Use the canonical names: {', '.join(CATALOGUE)} (source column names go "
                "on the right-hand side: pm25 = \"PM2.5\").")
        if not self.measurements:
            _bad(where, "measurements", {}, "at least the target's column")
        for name, m in self.measurements.items():
            if not m.column:
                _bad(where, f"measurements.{name}.column", m.column,
                     "the column's name in the file")
            if m.unit and converter(name, m.unit, self.gas_temperature_c) is None:
                _bad(where, f"measurements.{name}.unit", m.unit,
                     f"{CATALOGUE[name].unit} or a unit orchbench converts from "
                     "(°F, K, mph, km/h, knots, kPa, Pa, inHg, ppb, ppm, mg/m³, …)")
        if not self.target:
            _bad(where, "target", self.target, "the canonical column the model forecasts")
        if self.target not in self.measurements:
            _bad(where, "target", self.target,
                 f"one of this dataset's measurements: {', '.join(self.columns)}")
        if not -50 <= self.gas_temperature_c <= 50:
            _bad(where, "gas_temperature_c", self.gas_temperature_c, "°C, usually 20 or 25")
        return self


def from_dict(raw: dict[str, Any], where: str = "[dataset]") -> DatasetProfile:
    """A profile from a TOML/JSON table. `profile = "NAME"` starts from a built-in one
    and the table's other keys override it; unknown keys are refused."""
    raw = dict(raw)
    base = DatasetProfile()
    name = raw.pop("profile", None)
    if name is not None:
        base = built_in(str(name))
    known = {f.name for f in dataclasses.fields(DatasetProfile)}
    changes: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in known:
            raise ConfigError(f"{where}: unknown key {key!r}.",
                              f"Known keys: profile, {', '.join(sorted(known))}.")
        if key == "measurements":
            changes[key] = _measurements(value, where)
        elif key in ("missing", "timestamp"):
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
                _bad(where, key, value, "a string or a list of strings")
            changes[key] = tuple(items)
        else:
            default = getattr(base, key)
            if isinstance(default, float) and isinstance(value, int) and not isinstance(
                    value, bool):
                value = float(value)
            if type(value) is not type(default):
                _bad(where, key, value, f"a {type(default).__name__}, like {default!r}")
            changes[key] = value
    if name is not None and "name" not in changes:
        changes["name"] = name
    return dataclasses.replace(base, **changes).validate()


def built_in(name: str) -> DatasetProfile:
    """A committed profile, core/datasets/NAME.toml."""
    path = BUILT_IN / f"{name}.toml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in BUILT_IN.glob("*.toml")))
        raise ConfigError(f"There is no built-in dataset profile {name!r}.",
                          f"Use one of: {known}, or describe the dataset under [dataset].")
    raw = tomllib.loads(path.read_text())
    return from_dict(raw, where=str(path))


def _measurements(value: Any, where: str) -> dict[str, Measurement]:
    if not isinstance(value, dict):
        _bad(where, "measurements", value, 'a table: pm25 = "PM2.5" or '
             'temperature = { column = "TEMP", unit = "°F" }')
    out = {}
    for name, spec in value.items():
        if isinstance(spec, str):
            out[name] = Measurement(spec)
        elif isinstance(spec, dict) and set(spec) <= {"column", "unit"} and "column" in spec:
            out[name] = Measurement(str(spec["column"]), str(spec.get("unit", "")))
        else:
            _bad(where, f"measurements.{name}", spec,
                 'a column name, or { column = "NAME", unit = "UNIT" }')
    return out


def _zone(where: str, name: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"{where}: the time zone {name!r} does not exist.",
            "Give an IANA zone name, like Europe/Berlin, America/New_York or UTC.") from None


def _bad(where: str, key: str, value: Any, expected: str) -> None:
    raise ConfigError(f"{where}: {key} = {value!r} is not valid.", f"Expected {expected}.")
