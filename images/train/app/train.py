"""Entry point of the train image: a warm or cold start, as TRAINING_STRATEGY says.

Environment:
  TRAINING_STRATEGY  warm | cold (the drift policy's decision)
  TRAIN_FILES        comma-separated refined Parquet files to learn from
  FEATURES           comma-separated feature columns, in the model's order
  TARGET             the label's column
  PARENT_MODEL       the previous model's pickle (required for warm)
  SEED               random seed (same seed + same data → identical model)
  WARM_EPOCHS        passes over the new data in a warm start (default 5)

Only rows with a target are learnt from; missing features are imputed inside the
model (model.py). A warm start continues the parent with the parent's imputer
and scaler, so it refuses a parent that reads other features or another target.

Writes /out/model.pkl (the bundle: what a warm start continues and evaluate
scores), /out/mlflow_model/ (the same model as an MLflow model, what the registry
serves) and /out/train.json. The host registers them as a new model version only
after this exits 0: a crash here leaves the previous model.
"""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path

import numpy as np
from model import (
    continue_warm,
    env,
    fail,
    features_from_env,
    fit_cold,
    load_columns,
    load_model,
    matrix,
    save_mlflow_model,
)

OUT = Path("/out")


def main() -> int:
    strategy = env("TRAINING_STRATEGY")
    if strategy not in ("warm", "cold"):
        fail(f"TRAINING_STRATEGY must be 'warm' or 'cold', not {strategy!r}")
    seed = int(env("SEED", "7"))
    features, target = features_from_env(), env("TARGET")
    if target in features:
        fail(f"TARGET {target} is also one of the FEATURES")
    files = [f for f in env("TRAIN_FILES").split(",") if f]
    data = load_columns(files, [*features, target])
    labelled = ~np.isnan(data[target])
    x, y = matrix(data, features)[labelled], data[target][labelled]
    missing = {f: int(n) for f, n in zip(features, np.isnan(x).sum(axis=0), strict=True) if n}
    print(f"{strategy} start on {len(y)} rows with a target ({len(labelled) - len(y)} without) "
          f"from {len(files)} file(s); missing feature values: {missing or 'none'}", flush=True)

    if strategy == "cold":
        if len(y) == 0:
            fail(f"no row of the {len(files)} training file(s) has a value of {target}")
        bundle = fit_cold(x, y, features, target, seed)
        epochs = int(bundle["model"].n_iter_)
    else:
        parent = env("PARENT_MODEL", "")
        if not parent or not Path(parent).exists():
            fail("a warm start needs PARENT_MODEL, the previous model's file")
        bundle = load_model(parent)
        if bundle.get("features") != features or bundle.get("target") != target:
            fail(f"the parent model {parent} reads features {bundle.get('features')} and target "
                 f"{bundle.get('target')}; this run has {features} and {target}. A warm start "
                 "continues the same model, so it needs the same inputs: train a cold start "
                 "(orchbench run --force-cold)")
        t_before = float(bundle["model"].t_)
        if len(y) == 0:
            # Nothing new to learn from (the target was not measured): the parent goes on.
            epochs = 0
            print("no row with a target: the parent model continues unchanged", flush=True)
        else:
            epochs = int(env("WARM_EPOCHS", "5"))
            continue_warm(bundle, x, y, epochs)
        print(f"continued from t_={t_before:.0f} to t_={bundle['model'].t_:.0f}", flush=True)

    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / "model.pkl", "wb") as f:
        pickle.dump(bundle, f, protocol=5)
    save_mlflow_model(bundle, OUT / "mlflow_model")
    info = {
        "strategy": strategy,
        "rows": len(y),
        "rows_without_target": int(len(labelled) - len(y)),
        "missing_feature_values": missing,
        "features": features,
        "target": target,
        "files": [Path(p).name for p in files],
        "epochs": epochs,
        "t": float(bundle["model"].t_),
        "coef": [round(float(c), 10) for c in bundle["model"].coef_],
        "intercept": round(float(bundle["model"].intercept_[0]), 10),
    }
    (OUT / "train.json").write_text(json.dumps(info, indent=2))
    print(f"trained: {epochs} epoch(s), t_={info['t']:.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
