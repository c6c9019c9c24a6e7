"""Missing values through the pipeline: kept by ingest and dbt, imputed by the model.

- the imputer changes nothing when nothing is missing (host-side, and the real train
  container against a fit without it);
- a day with one channel empty keeps its rows through ingest and the real dbt
  transform into trusted/refined, as NULLs, and train + evaluate succeed on it;
- evaluate scores the model against the persistence forecast on the same rows.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib.util
import math
import pickle
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest
from history import small_config

from core import steps
from core.config import Config, DataConfig
from core.dataset import DatasetProfile
from core.direct import backfill_history, run_date
from core.errors import StepFailed
from core.generator import generate_day
from core.lake import Lake
from core.models import ModelStore
from core.schema import SYNTHETIC, ranges

IMAGES = Path(__file__).resolve().parents[1] / "images"
MODEL_PY = IMAGES / "train" / "app" / "model.py"
TRANSFORM_PY = IMAGES / "transform" / "app" / "transform.py"
# The refined columns of the synthetic dataset, as they were before dataset profiles.
SYNTHETIC_REFINED = [
    "station_id", "ts", "date", "pm25", "pm10", "no2", "o3", "temperature", "humidity",
    "wind_speed", "pressure", "precipitation", "hour_sin", "hour_cos", "pm25_lag_1h",
    "pm25_lag_24h", "pm10_lag_1h", "no2_lag_1h", "o3_lag_1h",
]
D1, D2, D3, D4, D5 = (dt.date(2026, 1, 1) + dt.timedelta(days=i) for i in range(5))


def train_model() -> ModuleType:
    """images/train/app/model.py, the train image's own code, imported on the host."""
    spec = importlib.util.spec_from_file_location("orchbench_train_model", MODEL_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def quiet(_: str) -> None:
    pass


def cold(day: dt.date) -> dict[str, Any]:
    return {"decision_id": f"test-{day}", "strategy": "cold", "reason": "test",
            "drifted_columns": []}


def bundle_of(cfg: Config, version: str) -> dict[str, Any]:
    with open(ModelStore.of(cfg).get(version).model_file, "rb") as f:
        return pickle.load(f)


def expected_scores(cfg: Config, day: dt.date, bundle: dict[str, Any]) -> dict[str, float]:
    """What evaluate should report for `day`, recomputed on the host from refined."""
    m, profile = train_model(), cfg.profile
    frame = Lake(cfg.lake).read("refined", [day]).sort_values(["date", "station_id", "ts"])
    frame = frame[frame[profile.target].notna() & frame[profile.persistence].notna()]
    y = frame[profile.target].to_numpy(float)
    x = frame[list(bundle["features"])].to_numpy(float)
    model_error = m.predict(bundle, x) - y
    naive_error = frame[profile.persistence].to_numpy(float) - y
    mse, pmse = float(np.mean(model_error**2)), float(np.mean(naive_error**2))
    return {"rows": len(y), "mse": mse, "mae": float(np.mean(np.abs(model_error))),
            "persistence_mse": pmse, "persistence_mae": float(np.mean(np.abs(naive_error))),
            "skill": 1 - mse / pmse}


def assert_reported(metrics: dict[str, Any], expected: dict[str, float]) -> None:
    assert metrics["rows"] == expected["rows"]
    for key in ("mse", "mae", "persistence_mse", "persistence_mae", "skill"):
        assert math.isfinite(metrics[key]), key
        assert metrics[key] == pytest.approx(expected[key], rel=1e-6, abs=1e-6), key


# ---------------------------------------------------------------- (a) host-side
def test_the_imputer_does_not_change_a_model_fitted_on_complete_data() -> None:
    m = train_model()
    rng = np.random.default_rng(3)
    x = rng.normal([20, 60, 3, 1010, 0.2, 35], [8, 15, 2, 8, 0.5, 20], size=(600, 6))
    y = x @ np.array([0.5, 0.1, -2.0, 0.05, 3.0, 0.8]) + rng.normal(0, 2, 600)
    names = [f"f{i}" for i in range(6)]
    imputed = m.fit_cold(x, y, names, "y", seed=7)
    plain = m.fit_cold(x, y, names, "y", seed=7, impute=False)
    assert imputed["imputer"] is not None and plain["imputer"] is None
    assert imputed["features"] == names and imputed["target"] == "y"
    np.testing.assert_array_equal(imputed["model"].coef_, plain["model"].coef_)
    np.testing.assert_array_equal(imputed["model"].intercept_, plain["model"].intercept_)
    np.testing.assert_array_equal(imputed["scaler"].mean_, plain["scaler"].mean_)
    assert imputed["model"].t_ == plain["model"].t_
    np.testing.assert_array_equal(m.predict(imputed, x), m.predict(plain, x))


def test_missing_features_are_filled_with_the_training_mean_and_keep_their_place() -> None:
    m = train_model()
    rng = np.random.default_rng(5)
    x = rng.normal(10, 3, size=(300, 3))
    y = 2 * x[:, 0] - x[:, 1] + rng.normal(0, 1, 300)
    x[::7, 1] = np.nan
    x[:, 2] = np.nan  # a channel never measured in the training window
    bundle = m.fit_cold(x, y, ["a", "b", "c"], "y", seed=7)
    imputer = bundle["imputer"]
    assert imputer.statistics_[1] == pytest.approx(np.nanmean(x[:, 1]))
    assert imputer.statistics_[2] == 0.0  # keep_empty_features: the column stays, as 0
    assert bundle["model"].coef_.shape == (3,)
    prepared = m.prepare(bundle, x)
    assert prepared.shape == x.shape and np.isfinite(prepared).all()
    assert np.isfinite(m.predict(bundle, np.full((2, 3), np.nan))).all()


def transform_app() -> ModuleType:
    spec = importlib.util.spec_from_file_location("orchbench_transform_app", TRANSFORM_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dbt_gets_the_datasets_columns_and_lags_and_refuses_other_lag_hours(
        tmp_path: Path) -> None:
    given = steps._transform_vars(steps.RunContext(small_config(tmp_path), D1))
    assert given == {"ranges": ranges(SYNTHETIC),
                     "lags": {"pm25": [1, 24], "pm10": [1], "no2": [1], "o3": [1]}}
    check = transform_app().check_vars
    assert check(given) is None
    assert "1 or 24" in check({**given, "lags": {"pm25": [1, 48]}})
    assert "not a measured column" in check({**given, "lags": {"so2": [1]}})


# ------------------------------------------------- (a), (c) complete data, containers
@pytest.fixture(scope="module")
def complete(tmp_path_factory: pytest.TempPathFactory) -> tuple[Config, dict, dict]:
    """Synthetic history D1..D4; the real train container's cold start for D3, evaluated."""
    cfg = small_config(tmp_path_factory.mktemp("complete"))
    backfill_history(cfg, D1, D4, log=quiet)
    ctx = steps.RunContext(cfg, D3, log=quiet, container_log=quiet)
    trained = steps.train(ctx, cold(D3))
    return cfg, trained, steps.evaluate(ctx, trained)


@pytest.mark.slow
# The image's settings (max_iter=50) stop before convergence on this data, as they do there.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_train_container_on_complete_data_equals_a_fit_without_imputer(complete) -> None:
    cfg, trained, _ = complete
    m, profile = train_model(), cfg.profile
    assert list(Lake(cfg.lake).read("refined", [D2]).columns) == SYNTHETIC_REFINED
    bundle = bundle_of(cfg, trained["version"])
    assert bundle["features"] == list(profile.features) and bundle["target"] == "pm25"
    assert bundle["imputer"] is not None
    meta = ModelStore.of(cfg).get(trained["version"]).meta
    assert meta["features"] == list(profile.features) and meta["target"] == "pm25"
    data = m.load_columns([str(Lake(cfg.lake).table_file("refined", D2))],
                          [*profile.features, profile.target])
    x, y = m.matrix(data, list(profile.features)), data[profile.target]
    assert not np.isnan(x).any() and len(y) == trained["train_rows"]
    plain = m.fit_cold(x, y, list(profile.features), profile.target, cfg.train.seed,
                       impute=False)
    np.testing.assert_allclose(bundle["model"].coef_, plain["model"].coef_, rtol=1e-9, atol=0)
    np.testing.assert_allclose(bundle["model"].intercept_, plain["model"].intercept_,
                               rtol=1e-9, atol=0)


@pytest.mark.slow
def test_evaluate_reports_persistence_and_skill(complete) -> None:
    cfg, trained, metrics = complete
    assert {"version", "held_out", "rows", "mse", "mae", "previous_version", "previous_mse",
            "previous_mae", "regression", "persistence_mse", "persistence_mae",
            "skill"} <= set(metrics)
    assert_reported(metrics, expected_scores(cfg, D3, bundle_of(cfg, trained["version"])))
    assert metrics["skill"] == pytest.approx(1 - metrics["mse"] / metrics["persistence_mse"],
                                             abs=1e-5)
    stored = ModelStore.of(cfg).get(trained["version"]).metrics()
    assert stored == metrics


@pytest.mark.slow
def test_a_warm_start_refuses_a_parent_with_other_features(complete) -> None:
    cfg, trained, _ = complete
    dataset = cfg.dataset
    without_o3 = dataclasses.replace(
        dataset, measurements={k: v for k, v in dataset.measurements.items() if k != "o3"})
    other = dataclasses.replace(cfg, dataset=without_o3)
    assert "o3_lag_1h" not in other.profile.features
    ctx = steps.RunContext(other, D4, log=quiet, container_log=quiet)
    decision = {**cold(D4), "strategy": "warm"}
    with pytest.raises(StepFailed, match="needs the same inputs"):
        steps.train(ctx, decision)
    store = ModelStore.of(cfg)
    assert store.for_date(D4) is None and store.current().version == trained["version"]


# ------------------------------------------------------ (b) a channel left empty
def write_csvs(folder: Path) -> None:
    """Canonical daily CSVs D1..D5 from the generator (no bad rows), with holes:
    D2 the target (pm25) unmeasured all day, D3 pm10, D4 temperature, and on D4 also
    pm25 at 05:00 and 06:00 of one station."""
    folder.mkdir(parents=True)
    empty = {D2: "pm25", D3: "pm10", D4: "temperature"}
    for day in (D1, D2, D3, D4, D5):
        frame = generate_day(DataConfig(), day)
        if day in empty:
            frame[empty[day]] = np.nan
        if day == D4:
            hours = pd.to_datetime(frame["timestamp"]).dt.hour
            first = frame["station_id"] == frame["station_id"].iloc[0]
            frame.loc[first & hours.isin([5, 6]), "pm25"] = np.nan
        frame.to_csv(folder / f"{day}.csv", index=False, date_format="%Y-%m-%dT%H:%M:%S",
                     float_format="%.2f")


@pytest.fixture(scope="module")
def holes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Config, list]:
    home = tmp_path_factory.mktemp("holes")
    write_csvs(home / "csv")
    # Local time UTC+8, as in Beijing: a logical date is not the UTC date of its hours.
    cfg = dataclasses.replace(
        small_config(home), data=DataConfig(source="csv", csv_dir=str(home / "csv")),
        dataset=dataclasses.replace(DatasetProfile(), timezone="Asia/Shanghai"),
    ).replace(**{"drift.policy": "always_warm"})
    backfill_history(cfg, D1, D3, log=quiet)
    return cfg, [run_date(cfg, day, log=quiet, container_log=quiet) for day in (D4, D5)]


def nulls(frame: pd.DataFrame) -> dict[str, int]:
    return {c: int(n) for c, n in frame.isna().sum().items() if n}


@pytest.mark.slow
def test_an_empty_channel_keeps_its_rows_as_nulls_through_ingest_and_dbt(holes) -> None:
    cfg, _ = holes
    lake = Lake(cfg.lake)
    rows = len(generate_day(DataConfig(), D1))  # 4 stations × 24 h
    for day in (D1, D2, D3, D4, D5):
        assert lake.rows("raw", day) == lake.rows("trusted", day) == rows, day
        assert lake.rows("quarantine", day) == 0, day
        assert lake.rows("refined", day) == (0 if day == D1 else rows), day
    raw = {d: nulls(lake.read("raw", [d])) for d in (D2, D3, D4, D5)}
    assert raw == {D2: {"pm25": rows}, D3: {"pm10": rows}, D4: {"temperature": rows, "pm25": 2},
                   D5: {}}
    for day, expected in raw.items():
        assert nulls(lake.read("trusted", [day])) == expected, day
    stations = rows // 24
    refined = {d: nulls(lake.read("refined", [d])) for d in (D2, D3, D4, D5)}
    assert refined[D2] == {"pm25": rows, "pm25_lag_1h": rows - stations}
    assert refined[D3] == {"pm10": rows, "pm25_lag_24h": rows, "pm25_lag_1h": stations,
                           "pm10_lag_1h": rows - stations}
    assert refined[D4] == {"temperature": rows, "pm25": 2, "pm25_lag_1h": 2,
                           "pm10_lag_1h": stations}
    assert refined[D5] == {"pm25_lag_24h": 2}
    # trusted and refined keep the logical (local) date of the raw partition, while
    # the first 8 local hours of a day are the previous UTC date
    for zone in ("trusted", "refined"):
        frame = lake.read(zone, [D4])
        assert set(frame["date"]) == {D4}, zone
        utc_dates = pd.to_datetime(frame["ts"]).dt.date
        assert (utc_dates == D3).sum() == 8 * stations and (utc_dates == D4).sum() == 16 * stations


@pytest.mark.slow
def test_train_and_evaluate_succeed_on_days_with_an_empty_channel(holes) -> None:
    cfg, results = holes
    for result in results:
        assert result.status == "success", result.error
    first, second = results
    store = ModelStore.of(cfg)
    cold_model = store.get(first.metrics["version"])
    warm_model = store.get(second.metrics["version"])
    assert (first.decision["strategy"], second.decision["strategy"]) == ("cold", "warm")
    # only rows with a target are learnt from: D2's pm25 was not measured
    assert (cold_model.meta["train_start"], cold_model.meta["train_end"]) == ("2026-01-02",
                                                                              "2026-01-03")
    rows = len(generate_day(DataConfig(), D1))
    assert cold_model.meta["train_rows"] == rows
    assert warm_model.meta["train_rows"] == rows - 2  # D4, less its two hours without pm25
    assert warm_model.meta["t"] == cold_model.meta["t"] + 5 * warm_model.meta["train_rows"]
    # the cold start's imputer learnt D3's mean of pm10_lag_1h (92 of 96 missing)
    bundle = bundle_of(cfg, cold_model.version)
    features = list(cfg.profile.features)
    d3 = Lake(cfg.lake).read("refined", [D3])
    assert bundle["imputer"].statistics_[features.index("pm10_lag_1h")] == pytest.approx(
        d3["pm10_lag_1h"].mean())
    # the warm start keeps its parent's imputer and scaler, as it keeps the scaler
    warm_bundle = bundle_of(cfg, warm_model.version)
    np.testing.assert_array_equal(warm_bundle["imputer"].statistics_,
                                  bundle["imputer"].statistics_)
    np.testing.assert_array_equal(warm_bundle["scaler"].mean_, bundle["scaler"].mean_)
    # D4: rows without pm25 (2) or without pm25 an hour earlier (1 more) are not scored
    assert first.metrics["rows"] == rows - 3
    assert_reported(first.metrics, expected_scores(cfg, D4, bundle))
    assert_reported(second.metrics, expected_scores(cfg, D5, warm_bundle))
    assert math.isfinite(second.metrics["previous_mse"])
    assert math.isfinite(second.metrics["previous_mae"])
