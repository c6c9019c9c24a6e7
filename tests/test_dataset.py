"""Dataset profiles: real file layouts (delimiters, decimal commas, missing markers,
local time across DST, multi-day files, units) and the clear errors of bad profiles.

The layouts are those of real deliveries: the UCI "Air Quality" file of an Italian
city (`;`, decimal `,`, -200 for missing, Date + Time in local time) and a
station export in local time across both 2026 DST changes. Beijing's real file is
tested in tests/test_data.py. No Docker: ingest runs in process.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from core.config import Config, load_config
from core.dataset import DatasetProfile, Measurement, from_dict
from core.errors import ConfigError, InputDataError
from core.ingest import ingest
from core.lake import Lake
from core.schema import converter

ROOT = Path(__file__).resolve().parent.parent

# The first hours of the UCI Air Quality file (De Vito et al. 2008), its header and
# its layout as delivered: `;`, decimal comma, -200 for "not measured", two empty
# trailing fields, Date dd/mm/yyyy and Time hh.mm.ss in local (Italian) time.
UCI_HEADER = ("Date;Time;CO(GT);PT08.S1(CO);NMHC(GT);C6H6(GT);PT08.S2(NMHC);NOx(GT);"
              "PT08.S3(NOx);NO2(GT);PT08.S4(NO2);PT08.S5(O3);T;RH;AH;;")
UCI_ROWS = [
    "10/03/2004;18.00.00;2,6;1360;150;11,9;1046;166;1056;113;1692;1268;13,6;48,9;0,7578;;",
    "10/03/2004;19.00.00;2;1292;112;9,4;955;103;1174;92;1559;972;13,3;47,7;0,7255;;",
    "10/03/2004;20.00.00;2,2;1402;88;9,0;939;131;1140;114;1555;1074;11,9;54,0;0,7502;;",
    "10/03/2004;21.00.00;2,2;1376;80;9,2;948;172;1092;122;1584;1203;11,0;60,0;0,7867;;",
    "10/03/2004;22.00.00;1,6;1272;51;6,5;836;131;1205;116;1490;1110;11,2;59,6;0,7888;;",
    "10/03/2004;23.00.00;1,2;1197;38;4,7;750;89;1337;96;1393;949;11,2;59,2;0,7848;;",
    "11/03/2004;00.00.00;1,2;1185;31;3,6;690;62;1462;77;1333;733;11,3;56,8;0,7603;;",
    "11/03/2004;01.00.00;1;1136;31;3,3;672;62;1453;76;1333;730;10,7;60,0;0,7702;;",
    "11/03/2004;02.00.00;0,9;1094;24;2,3;609;45;1579;60;1276;620;10,7;59,7;0,7648;;",
    "11/03/2004;03.00.00;0,6;1010;19;1,7;561;-200;1705;-200;1235;501;10,3;60,2;0,7517;;",
    "11/03/2004;04.00.00;-200;1011;14;1,3;527;21;1818;34;1197;445;10,1;60,5;0,7465;;",
]


def uci_profile(files: str) -> DatasetProfile:
    return from_dict({
        "name": "uci-air-quality", "source": "files", "files": files, "delimiter": ";",
        "decimal": ",", "missing": ["-200", ""], "timestamp": ["Date", "Time"],
        "timestamp_format": "%d/%m/%Y %H.%M.%S", "timezone": "Europe/Rome",
        "station_column": "", "station": "IT-city-main-road",
        "measurements": {"co": "CO(GT)", "no2": "NO2(GT)", "temperature": "T",
                         "humidity": "RH"},
        "target": "co",
    })


def write(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def test_semicolons_decimal_commas_and_minus_200_ingest_as_values_and_nulls(
        tmp_path: Path) -> None:
    source = write(tmp_path / "in" / "AirQualityUCI.csv", [UCI_HEADER, *UCI_ROWS])
    cfg = Config(home=tmp_path / "home", dataset=uci_profile(str(source))).validate()
    first = ingest(cfg, dt.date(2004, 3, 10))
    second = ingest(cfg, dt.date(2004, 3, 11))
    assert (first.rows_in, first.rows_raw, first.rows_quarantined) == (6, 6, 0)
    assert (second.rows_in, second.rows_raw, second.rows_quarantined) == (5, 5, 0)
    raw = pd.read_parquet(first.raw)
    assert list(raw.columns) == ["station_id", "timestamp", "no2", "co", "temperature",
                                 "humidity", "source_file", "date"]
    top = raw.iloc[0]
    assert (top["co"], top["temperature"], top["humidity"], top["no2"]) == (2.6, 13.6, 48.9, 113)
    # 18:00 in Rome in March (CET, UTC+1) is 17:00 UTC.
    assert top["timestamp"] == pd.Timestamp("2004-03-10 17:00")
    late = pd.read_parquet(second.raw).set_index("timestamp")
    assert pd.isna(late.loc["2004-03-11 02:00", "no2"])  # -200 → NULL, row kept
    assert pd.isna(late.loc["2004-03-11 03:00", "co"])
    assert second.completeness == {"no2": 0.8, "co": 0.8, "temperature": 1.0, "humidity": 1.0}
    # The delivered file is kept once in landing/, untouched.
    assert (cfg.lake / "landing" / "files" / source.name).read_bytes() == source.read_bytes()


def test_a_multi_day_file_splits_by_date_and_the_counts_add_up(tmp_path: Path) -> None:
    rows = [*UCI_ROWS, "12/03/2004;00.00.00;1;1;1;1;1;1;1;1;1;1;9;50;1;;",
            "12/03/2004;01.00.00;1;1;1;1;1;1;1;1;1;1;999;50;1;;",  # 999 °C
            ";;1;1;1;1;1;1;1;1;1;1;9;50;1;;",  # no timestamp: belongs to no date
            "31/02/2004;01.00.00;1;1;1;1;1;1;1;1;1;1;9;50;1;;"]  # no such date
    source = write(tmp_path / "in" / "2004-03.csv", [UCI_HEADER, *rows])
    cfg = Config(home=tmp_path / "home", dataset=uci_profile(str(tmp_path / "in" / "*.csv")))
    results = [ingest(cfg.validate(), dt.date(2004, 3, d)) for d in (10, 11, 12)]
    assert [r.rows_in for r in results] == [6, 5, 2]
    assert {r.undated_rows for r in results} == {2}
    assert sum(r.rows_in for r in results) + results[0].undated_rows == len(rows)
    assert sum(r.rows_raw + r.rows_quarantined for r in results) == 13
    assert results[2].reasons == {"out_of_range:temperature": 1}
    assert Lake(cfg.lake).dates("raw") == [dt.date(2004, 3, d) for d in (10, 11, 12)]
    assert [p.name for p in (cfg.lake / "landing" / "files").iterdir()] == [source.name]


def station_day(day: str, hours: list[str]) -> list[str]:
    return [f"ST1;{day} {h};12,5;8" for h in hours]


def local_profile(files: str, zone: str = "Europe/Berlin") -> DatasetProfile:
    return from_dict({"name": "berlin", "source": "files", "files": files, "delimiter": ";",
                      "decimal": ",", "timestamp": ["time"], "timestamp_format":
                      "%Y-%m-%d %H:%M", "timezone": zone, "station_column": "station",
                      "measurements": {"pm25": "PM2.5", "temperature": "T"}})


def test_the_repeated_autumn_hour_keeps_both_rows_at_their_own_utc_hours(
        tmp_path: Path) -> None:
    """Berlin, 2026-10-25: 03:00 CEST becomes 02:00 CET, so 02:xx happens twice."""
    hours = ["00:00", "01:00", "02:00", "02:00", *(f"{h:02d}:00" for h in range(3, 24))]
    source = write(tmp_path / "in" / "{date}.csv".replace("{date}", "2026-10-25"),
                   ["station;time;PM2.5;T", *station_day("2026-10-25", hours)])
    cfg = Config(home=tmp_path / "home",
                 dataset=local_profile(str(source.parent / "{date}.csv"))).validate()
    result = ingest(cfg, dt.date(2026, 10, 25))
    assert (result.rows_in, result.rows_raw, result.rows_quarantined) == (25, 25, 0)
    assert result.dst == {"hours_in_day": 25, "repeated_hour_rows": 2,
                          "nonexistent_time_rows": 0}
    stamps = pd.read_parquet(result.raw)["timestamp"]
    # 25 distinct UTC hours, 2026-10-24 22:00 .. 2026-10-25 22:00, none twice.
    assert list(stamps) == list(pd.date_range("2026-10-24 22:00", periods=25, freq="h"))


def test_a_time_inside_the_spring_gap_is_quarantined_with_its_reason(tmp_path: Path) -> None:
    """Berlin, 2026-03-29: 02:00 CET becomes 03:00 CEST, so 02:30 never happened."""
    hours = ["00:00", "01:00", "02:30", *(f"{h:02d}:00" for h in range(3, 24))]
    source = write(tmp_path / "in" / "2026-03-29.csv",
                   ["station;time;PM2.5;T", *station_day("2026-03-29", hours)])
    cfg = Config(home=tmp_path / "home",
                 dataset=local_profile(str(source.parent / "{date}.csv"))).validate()
    result = ingest(cfg, dt.date(2026, 3, 29))
    assert (result.rows_raw, result.rows_quarantined) == (23, 1)
    assert result.reasons == {"nonexistent_local_time": 1}
    assert result.dst["hours_in_day"] == 23
    stamps = pd.read_parquet(result.raw)["timestamp"]
    assert list(stamps) == list(pd.date_range("2026-03-28 23:00", periods=23, freq="h"))


def test_a_single_report_of_the_repeated_hour_cannot_be_placed(tmp_path: Path) -> None:
    hours = [f"{h:02d}:00" for h in range(24)]  # 02:00 once on a 25-hour day
    source = write(tmp_path / "in" / "2026-10-25.csv",
                   ["station;time;PM2.5;T", *station_day("2026-10-25", hours)])
    cfg = Config(home=tmp_path / "home",
                 dataset=local_profile(str(source.parent / "{date}.csv"))).validate()
    result = ingest(cfg, dt.date(2026, 10, 25))
    assert result.reasons == {"ambiguous_local_time": 1}
    assert result.rows_raw == 23


def test_units_convert_to_the_catalogue(tmp_path: Path) -> None:
    assert converter("temperature", "°F")(212.0) == pytest.approx(100.0)
    assert converter("temperature", "K")(273.15) == pytest.approx(0.0)
    assert converter("wind_speed", "mph")(10.0) == pytest.approx(4.4704)
    # 1 ppb of NO2 at 25 °C and 1013.25 hPa: 46.0055 g/mol / 24.465 L/mol = 1.8804 µg/m³
    # (the 1.88 that air-quality agencies quote, e.g. the UK's Defra conversion table).
    assert converter("no2", "ppb")(1.0) == pytest.approx(1.8804, abs=1e-4)
    assert converter("o3", "ppb", 20.0)(1.0) == pytest.approx(1.996, abs=1e-3)
    assert converter("co", "ppm")(1.0) == pytest.approx(1.145, abs=1e-3)  # mg/m³
    assert converter("pm25", "ppb") is None
    source = write(tmp_path / "in" / "2026-07-01.csv",
                   ["station,time,pm,tempF,windMph", "A,2026-07-01T12:00:00Z,10,86,22.4"])
    profile = from_dict({
        "name": "us", "source": "files", "files": str(source.parent / "{date}.csv"),
        "timestamp": ["time"], "timezone": "America/New_York", "station_column": "station",
        "measurements": {"pm25": "pm", "temperature": {"column": "tempF", "unit": "°F"},
                         "wind_speed": {"column": "windMph", "unit": "mph"}}})
    result = ingest(Config(home=tmp_path / "home", dataset=profile).validate(),
                    dt.date(2026, 7, 1))
    row = pd.read_parquet(result.raw).iloc[0]
    assert row["temperature"] == pytest.approx(30.0)
    assert row["wind_speed"] == pytest.approx(10.013696)
    # An explicit offset wins over the zone: 12:00Z stays 12:00 UTC.
    assert row["timestamp"] == pd.Timestamp("2026-07-01 12:00")


@pytest.mark.parametrize(
    ("table", "needles"),
    [
        ({"delimeter": ";"}, ["unknown key 'delimeter'", "Known keys"]),
        ({"measurements": {"pm2.5": "PM25"}},
         ["pm2.5 under [dataset.measurements] is not a canonical measurement", "pm25"]),
        ({"timezone": "Europe/Atlantis"}, ["time zone 'Europe/Atlantis' does not exist",
                                           "IANA zone name"]),
        ({"target": "no2", "measurements": {"pm25": "PM25"}},
         ["target = 'no2' is not valid", "one of this dataset's measurements: pm25"]),
        ({"target": ""}, ["target = '' is not valid"]),
        ({"measurements": {"temperature": {"column": "T", "unit": "furlongs"}}},
         ["measurements.temperature.unit = 'furlongs'", "°C or a unit orchbench converts"]),
        ({"station": "X"}, ["exactly one of station_column", "station = \"NAME\""]),
        ({"source": "files"}, ["files = '' is not valid", "{date}"]),
        ({"profile": "atlantis"}, ["no built-in dataset profile 'atlantis'", "beijing"]),
    ],
)
def test_bad_profiles_name_the_problem_and_the_fix(table: dict, needles: list[str]) -> None:
    with pytest.raises(ConfigError) as caught:
        from_dict(table)
    for needle in needles:
        assert needle in str(caught.value), (needle, str(caught.value))


def test_a_mapped_column_absent_from_the_file_fails_before_anything_is_written(
        tmp_path: Path) -> None:
    source = write(tmp_path / "in" / "AirQualityUCI.csv", [UCI_HEADER, *UCI_ROWS])
    profile = dataclasses.replace(uci_profile(str(source)), measurements={
        "co": Measurement("CO(GT)"), "no2": Measurement("NO2")})
    cfg = Config(home=tmp_path / "home", dataset=profile).validate()
    with pytest.raises(InputDataError, match=re.escape("lacks the required column(s) NO2")):
        ingest(cfg, dt.date(2004, 3, 10))
    assert not (tmp_path / "home").exists()


def test_a_bad_profile_in_a_config_file_exits_non_zero_before_writing(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[dataset]\nprofile = "beijing"\ntimezone = "Asia/Peking"\n')
    home = tmp_path / "home"
    done = subprocess.run([sys.executable, "-m", "orchbench.cli", "run", "--date",
                           "2013-11-15", "--config", str(config), "--home", str(home)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "time zone 'Asia/Peking' does not exist" in done.stderr
    assert not home.exists()


def test_a_profile_round_trips_through_the_run_config(tmp_path: Path) -> None:
    """Drivers hand a run's config to the orchestrators as JSON: the profile travels whole."""
    from core.config import save_config

    cfg = Config(home=tmp_path, dataset=uci_profile("/data/*.csv")).validate()
    again = load_config(save_config(cfg, tmp_path / "run.json"))
    assert again.dataset == cfg.dataset
    toml = tmp_path / "c.toml"
    toml.write_text('[dataset]\nprofile = "beijing"\nfiles = "/elsewhere/*.csv"\n')
    loaded = load_config(toml).dataset
    assert (loaded.name, loaded.files, loaded.timezone) == ("beijing", "/elsewhere/*.csv",
                                                            "Asia/Shanghai")
