"""Ingest: nothing is silently dropped, and a broken file damages nothing."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path

import pandas as pd
import pytest

from core.config import Config, DataConfig
from core.errors import InputDataError
from core.ingest import ingest
from core.lake import Lake
from core.schema import COLUMNS

DAY = dt.date(2026, 3, 1)
HEADER = ",".join(COLUMNS)
GOOD = "ST01,2026-03-01T{h:02d}:00:00,10,20,30,40,5,80,2,1010,0"


def csv_config(tmp_path: Path, text: str, day: dt.date = DAY) -> Config:
    folder = tmp_path / "in"
    folder.mkdir(exist_ok=True)
    (folder / f"{day}.csv").write_text(text)
    return Config(home=tmp_path / "home",
                  data=DataConfig(source="csv", csv_dir=str(folder))).validate()


def test_generated_day_counts_add_up(tmp_path: Path) -> None:
    cfg = Config(home=tmp_path, data=DataConfig(bad_row_rate=0.05)).validate()
    result = ingest(cfg, DAY)
    raw = pd.read_parquet(result.raw)
    quarantined = pd.read_parquet(result.quarantine)
    assert result.rows_in == result.rows_raw + result.rows_quarantined
    assert len(raw) == result.rows_raw and len(quarantined) == result.rows_quarantined
    assert result.rows_quarantined >= 4  # one of each spoiled kind at least
    assert {"duplicate", "out_of_range:humidity"} <= set(result.reasons)
    assert quarantined["reason"].str.len().gt(0).all()


def test_each_bad_row_kind_is_quarantined_with_its_reason(tmp_path: Path) -> None:
    rows = [
        GOOD.format(h=0),
        GOOD.format(h=1),
        GOOD.format(h=1),  # duplicate of the row above
        "ST01,2026-03-01T02:00:00,,20,30,40,5,80,2,1010,0",  # missing pm25
        "ST01,2026-03-01T03:00:00,abc,20,30,40,5,80,2,1010,0",  # wrong type
        "ST01,2026-03-01T04:00:00,10,20,30,40,5,180,2,1010,0",  # humidity 180 %
        "ST01,yesterday,10,20,30,40,5,80,2,1010,0",  # timestamp unparseable
        "ST01,2026-03-02T05:00:00,10,20,30,40,5,80,2,1010,0",  # another date's row
        ",2026-03-01T06:00:00,10,20,30,40,5,80,2,1010,0",  # no station
        "ST01,2026-03-01T07:00:00,inf,20,30,40,5,80,2,1010,0",  # not a finite number
    ]
    cfg = csv_config(tmp_path, "\n".join([HEADER, *rows]) + "\n")
    result = ingest(cfg, DAY)
    # An empty measurement is data, not a reject (issue 10): row 5 stays, pm25 NULL.
    assert (result.rows_in, result.rows_raw, result.rows_quarantined) == (10, 3, 7)
    raw = pd.read_parquet(result.raw)
    assert raw.loc[raw["timestamp"].dt.hour == 2, "pm25"].isna().all()
    assert result.completeness["pm25"] == round(2 / 3, 4)
    assert result.completeness["no2"] == 1.0
    reasons = pd.read_parquet(result.quarantine).set_index("row_number")["reason"].to_dict()
    assert reasons == {
        4: "duplicate",
        6: "invalid_type:pm25",
        7: "out_of_range:humidity",
        8: "invalid_type:timestamp",
        9: "wrong_date",
        10: "missing_value:station_id",
        11: "invalid_type:pm25",
    }


def test_rerun_with_clean_input_clears_old_rejects(tmp_path: Path) -> None:
    cfg = csv_config(tmp_path, f"{HEADER}\n{GOOD.format(h=0)}\n,x,,,,,,,,,\n")
    first = ingest(cfg, DAY)
    assert first.rows_quarantined == 1
    csv_config(tmp_path, f"{HEADER}\n{GOOD.format(h=0)}\n")
    second = ingest(cfg, DAY)
    assert second.rows_quarantined == 0 and second.quarantine is None
    assert not Lake(cfg.lake).table_file("quarantine", DAY).exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (f"{HEADER.replace(',pressure', '')}\n", "lacks the required column(s) pressure"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "not a UTF-8 text file"),
        ("", "is empty"),
        (f'{HEADER}\n"ST01,2026-03-01T00:00:00,1\n', "cannot be parsed as CSV"),
    ],
)
def test_unreadable_file_fails_and_leaves_the_lake_as_it_was(
    tmp_path: Path, content: str | bytes, message: str
) -> None:
    cfg = csv_config(tmp_path, f"{HEADER}\n{GOOD.format(h=0)}\n")
    ingest(cfg, DAY)
    lake = Lake(cfg.lake)
    before = lake.table_file("raw", DAY).read_bytes()
    bad = tmp_path / "in" / f"{DAY}.csv"
    bad.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(InputDataError, match=re.escape(message)):
        ingest(cfg, DAY)
    assert lake.table_file("raw", DAY).read_bytes() == before


def test_missing_input_file_names_the_expected_path(tmp_path: Path) -> None:
    cfg = csv_config(tmp_path, f"{HEADER}\n")
    with pytest.raises(InputDataError, match=re.escape("2026-03-02.csv")):
        ingest(cfg, DAY + dt.timedelta(days=1))


def test_generator_is_deterministic_per_date(tmp_path: Path) -> None:
    """A date generated alone equals the same date generated inside a backfill."""
    from core.generator import generate_csv

    data = DataConfig(drift="strong", drift_start="2026-03-01", bad_row_rate=0.02)
    assert generate_csv(data, DAY) == generate_csv(dataclasses.replace(data), DAY)
    assert generate_csv(data, DAY) != generate_csv(dataclasses.replace(data, seed=1), DAY)
