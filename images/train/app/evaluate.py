"""Entry point of the evaluate step (train image): the held-out day, scored.

Environment: MODEL (new model), PREVIOUS_MODEL (optional), EVAL_FILE (refined
Parquet of the held-out day), TARGET (the label's column), PERSISTENCE (the
target one hour earlier: the naive forecast "as it was an hour ago"), FEATURES
(used only for a model that does not record its own).

Scored are the rows with a target and a persistence value; missing features are
imputed by each model. On those same rows: the model's MSE and MAE, the
persistence forecast's, skill = 1 − mse / persistence_mse (None when persistence
is perfect), and the previous model's MSE and MAE, so the regression flag and the
skill compare like with like. And what the new model learned: each feature's
permutation importance on the same rows (scikit-learn's permutation_importance,
SEED-seeded, N_REPEATS shuffles, default 5): how much the MSE grows, in the
target's unit squared, when that feature's values are shuffled (Breiman 2001,
"Random Forests", Machine Learning 45; scikit-learn's user guide, "Permutation
feature importance"). Writes /out/metrics.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from model import (
    as_pipeline,
    env,
    fail,
    features_from_env,
    load_columns,
    load_model,
    matrix,
    predict,
)


def errors(forecast: np.ndarray, y: np.ndarray) -> dict[str, float]:
    error = forecast - y
    return {"mse": float(np.mean(error**2)), "mae": float(np.mean(np.abs(error)))}


def features_of(bundle: dict[str, Any]) -> list[str]:
    """The model's own feature list; FEATURES for a model trained before it kept one."""
    recorded = bundle.get("features")
    if recorded:
        return list(recorded)
    return features_from_env()


def importance(bundle: dict[str, Any], x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Mean growth of the MSE when each feature is shuffled, feature → value, largest first."""
    from sklearn.inspection import permutation_importance

    result = permutation_importance(as_pipeline(bundle), x, y,
                                    scoring="neg_mean_squared_error",
                                    n_repeats=int(env("N_REPEATS", "5")),
                                    random_state=int(env("SEED", "7")))
    scores = dict(zip(features_of(bundle), result.importances_mean.tolist(), strict=True))
    return dict(sorted(scores.items(), key=lambda kv: -kv[1]))


def main() -> int:
    eval_file, target, persistence = env("EVAL_FILE"), env("TARGET"), env("PERSISTENCE")
    models = {"model": load_model(env("MODEL"))}
    previous = env("PREVIOUS_MODEL", "")
    if previous:
        models["previous"] = load_model(previous)
    needed = [target, persistence, *(f for b in models.values() for f in features_of(b))]
    data = load_columns([eval_file], needed)
    total = len(data[target])
    scored = ~np.isnan(data[target]) & ~np.isnan(data[persistence])
    rows = int(scored.sum())
    if rows == 0:
        fail(f"no row of {eval_file} has both {target} and {persistence}: nothing to score")
    y = data[target][scored]
    results = {name: errors(predict(b, matrix(data, features_of(b))[scored]), y)
               for name, b in models.items()}
    naive = errors(data[persistence][scored], y)
    metrics = {
        "rows": rows,
        "rows_unscored": total - rows,
        **results["model"],
        "persistence_mse": naive["mse"],
        "persistence_mae": naive["mae"],
        "skill": 1.0 - results["model"]["mse"] / naive["mse"] if naive["mse"] > 0 else None,
    }
    if "previous" in results:
        metrics["previous"] = results["previous"]
    model = models["model"]
    metrics["permutation_importance"] = importance(
        model, matrix(data, features_of(model))[scored], y)
    Path("/out").mkdir(parents=True, exist_ok=True)
    Path("/out/metrics.json").write_text(json.dumps(metrics, indent=2))
    skill = "n/a" if metrics["skill"] is None else f"{metrics['skill']:.3f}"
    print(f"evaluated on {rows} of {total} rows: mse={metrics['mse']:.3f} "
          f"mae={metrics['mae']:.3f}, persistence mse={naive['mse']:.3f}, skill={skill}",
          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
