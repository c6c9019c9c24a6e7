"""The forecasting model shared by train.py and evaluate.py.

A linear model trained by stochastic gradient descent: it can continue from
its previous state on new data (``partial_fit``), which is what a warm start
means here, and it is deterministic for a fixed seed, so every orchestrator
trains the identical model from identical inputs.

The run says what the model reads: FEATURES (comma-separated refined columns)
and TARGET (the label's column), from the dataset's profile on the host. A
model is a bundle {features, target, imputer, scaler, model}: missing feature
values (NULL in the lake: not measured) are filled inside the model by a mean
imputer fitted with the scaler in a cold start, so training and every later
prediction fill them the same way.
"""

from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

ORDER = "date, station_id, ts"  # a fixed row order: the same data gives the same model


def fail(message: str, code: int = 2) -> None:
    print(f"error: {message}", file=sys.stderr, flush=True)
    sys.exit(code)


def env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        fail(f"environment variable {name} is required")
    return value


def features_from_env() -> list[str]:
    features = [f.strip() for f in env("FEATURES").split(",") if f.strip()]
    if not features:
        fail("FEATURES names no column")
    if len(set(features)) != len(features):
        fail(f"FEATURES names a column twice: {features}")
    return features


def load_columns(files: list[str], columns: list[str]) -> dict[str, np.ndarray]:
    """The given columns of the refined files as float arrays (NULL → NaN), in ORDER."""
    present = [f for f in files if Path(f).exists()]
    if not present:
        fail(f"none of the {len(files)} refined files exist")
    wanted = list(dict.fromkeys(columns))
    cols = ", ".join(f'cast("{c}" as double) as "{c}"' for c in wanted)
    try:
        data = duckdb.sql(f"select {cols} from read_parquet({present!r}) order by {ORDER}"
                          ).fetchnumpy()
    except duckdb.Error as exc:
        fail(f"cannot read {', '.join(wanted)} from the refined files: {exc}")
    # NULLs arrive as a masked array; NaN is what the imputer treats as missing.
    return {c: np.ma.filled(np.ma.asarray(data[c], dtype=np.float64), np.nan) for c in wanted}


def matrix(data: dict[str, np.ndarray], features: list[str]) -> np.ndarray:
    return np.column_stack([data[c] for c in features])


def fit_cold(x: np.ndarray, y: np.ndarray, features: list[str], target: str, seed: int,
             impute: bool = True) -> dict[str, Any]:
    """A new model on rows with a target: imputer, scaler and SGD fitted on them.

    `impute=False` leaves the imputer out (rows must then be complete): the model
    it gives is the one the pipeline had before imputation, which the tests compare.
    """
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import SGDRegressor
    from sklearn.preprocessing import StandardScaler

    imputer = None
    if impute:
        # Mean, not median: for a linear model a missing value then contributes the
        # feature's average effect (0 after scaling), so predictions stay unbiased;
        # a median would pull skewed pollutants (pm25) low. keep_empty_features: a
        # column with no value at all keeps its place (filled with 0).
        imputer = SimpleImputer(strategy="mean", keep_empty_features=True).fit(x)
        x = imputer.transform(x)
    scaler = StandardScaler().fit(x)
    model = SGDRegressor(
        alpha=1e-4, learning_rate="invscaling", eta0=0.01, max_iter=50, tol=1e-5,
        random_state=seed,
    )
    model.fit(scaler.transform(x), y)
    return {"features": list(features), "target": target, "imputer": imputer,
            "scaler": scaler, "model": model}


def prepare(bundle: dict[str, Any], x: np.ndarray) -> np.ndarray:
    """Rows as the model sees them: imputed (if the bundle imputes), then scaled."""
    imputer = bundle.get("imputer")
    if imputer is not None:
        x = imputer.transform(x)
    return bundle["scaler"].transform(x)


def continue_warm(bundle: dict[str, Any], x: np.ndarray, y: np.ndarray, epochs: int) -> None:
    """More SGD passes over new rows, in the parent's coordinates: its imputer and
    scaler stay as the cold start fitted them; only a cold start re-centres."""
    xs = prepare(bundle, x)
    for _ in range(epochs):
        bundle["model"].partial_fit(xs, y)


def as_pipeline(bundle: dict[str, Any]) -> Any:
    """The bundle as one scikit-learn Pipeline (impute → scale → SGD), what MLflow's
    scikit-learn flavour saves and its scoring server runs: the same fitted objects,
    so it predicts exactly what predict(bundle, x) does."""
    from sklearn.pipeline import Pipeline

    return Pipeline([("impute", bundle.get("imputer") or "passthrough"),
                     ("scale", bundle["scaler"]), ("model", bundle["model"])])


def save_mlflow_model(bundle: dict[str, Any], path: Path) -> None:
    """Write the bundle as an MLflow model (scikit-learn flavour) in folder `path`.

    Its input signature is the model's features in order, each a double (NaN where
    not measured: the pipeline imputes it); its output one double, the target.
    The pip requirements are this image's own versions, given rather than inferred
    (inference imports the model again and took ~10 s where this takes ~0.2 s;
    issue 12's measurements). Cloudpickle, not skops: the host's scoring server and
    registry load it without a list of trusted types."""
    import logging

    import cloudpickle
    import mlflow.sklearn
    import sklearn
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    # Its warnings (pickle is unsafe to load from strangers; pip's version unknown)
    # say nothing about models this pipeline wrote itself.
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    signature = ModelSignature(inputs=Schema([ColSpec("double", f) for f in bundle["features"]]),
                               outputs=Schema([ColSpec("double", bundle["target"])]))
    mlflow.sklearn.save_model(
        as_pipeline(bundle), str(path), serialization_format="cloudpickle",
        signature=signature,
        pip_requirements=[f"scikit-learn=={sklearn.__version__}", f"numpy=={np.__version__}",
                          f"cloudpickle=={cloudpickle.__version__}"])


def load_model(path: str) -> dict[str, Any]:
    with open(path, "rb") as f:
        return pickle.load(f)


def predict(bundle: dict[str, Any], x: np.ndarray) -> np.ndarray:
    return bundle["model"].predict(prepare(bundle, x))
