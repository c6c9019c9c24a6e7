"""The forecasting model shared by train.py and evaluate.py.

A linear model trained by stochastic gradient descent: it can continue from
its previous state on new data (``partial_fit``), which is what a warm start
means here, and it is deterministic for a fixed seed, so every orchestrator
trains the identical model from identical inputs.
"""

from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path

import duckdb
import numpy as np

FEATURES = (
    "temperature", "humidity", "wind_speed", "pressure", "precipitation", "hour_sin",
    "hour_cos", "pm25_lag_1h", "pm25_lag_24h", "pm10_lag_1h", "no2_lag_1h", "o3_lag_1h",
)
TARGET = "pm25"


def fail(message: str, code: int = 2) -> None:
    print(f"error: {message}", file=sys.stderr, flush=True)
    sys.exit(code)


def env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        fail(f"environment variable {name} is required")
    return value


def load_xy(files: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Features and target of the given refined files, in a fixed row order."""
    present = [f for f in files if Path(f).exists()]
    if not present:
        fail(f"none of the {len(files)} refined files exist")
    cols = ", ".join(FEATURES)
    rel = duckdb.sql(
        f"select {cols}, {TARGET} from read_parquet({present!r}) order by date, station_id, ts"
    )
    data = rel.fetchnumpy()
    x = np.column_stack([np.asarray(data[c], dtype=np.float64) for c in FEATURES])
    y = np.asarray(data[TARGET], dtype=np.float64)
    return x, y


def load_model(path: str) -> dict:
    with open(path, "rb") as f:
        return pickle.load(f)


def predict(bundle: dict, x: np.ndarray) -> np.ndarray:
    return bundle["model"].predict(bundle["scaler"].transform(x))
