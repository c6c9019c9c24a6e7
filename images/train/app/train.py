"""Entry point of the train image: a warm or cold start, as TRAINING_STRATEGY says.

Environment:
  TRAINING_STRATEGY  warm | cold (the drift policy's decision)
  TRAIN_FILES        comma-separated refined Parquet files to learn from
  PARENT_MODEL       the previous model's pickle (required for warm)
  SEED               random seed (same seed + same data → identical model)
  WARM_EPOCHS        passes over the new data in a warm start (default 5)

Writes /out/model.pkl and /out/train.json. The host publishes them as a new
model version only after this exits 0: a crash here leaves the previous model.
"""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path

from model import env, fail, load_model, load_xy

OUT = Path("/out")


def main() -> int:
    from sklearn.linear_model import SGDRegressor
    from sklearn.preprocessing import StandardScaler

    strategy = env("TRAINING_STRATEGY")
    if strategy not in ("warm", "cold"):
        fail(f"TRAINING_STRATEGY must be 'warm' or 'cold', not {strategy!r}")
    seed = int(env("SEED", "7"))
    files = [f for f in env("TRAIN_FILES").split(",") if f]
    x, y = load_xy(files)
    print(f"{strategy} start on {len(y)} rows from {len(files)} file(s)", flush=True)

    if strategy == "cold":
        scaler = StandardScaler().fit(x)
        model = SGDRegressor(
            alpha=1e-4, learning_rate="invscaling", eta0=0.01, max_iter=50, tol=1e-5,
            random_state=seed,
        )
        model.fit(scaler.transform(x), y)
        bundle = {"scaler": scaler, "model": model}
        epochs = int(model.n_iter_)
    else:
        parent = env("PARENT_MODEL", "")
        if not parent or not Path(parent).exists():
            fail("a warm start needs PARENT_MODEL, the previous model's file")
        bundle = load_model(parent)
        # The scaler stays as the cold start fitted it: a warm start continues
        # the same model in the same coordinates; only a cold start re-centres.
        xs = bundle["scaler"].transform(x)
        epochs = int(env("WARM_EPOCHS", "5"))
        t_before = float(bundle["model"].t_)
        for _ in range(epochs):
            bundle["model"].partial_fit(xs, y)
        print(f"continued from t_={t_before:.0f} to t_={bundle['model'].t_:.0f}", flush=True)

    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / "model.pkl", "wb") as f:
        pickle.dump(bundle, f, protocol=5)
    info = {
        "strategy": strategy,
        "rows": len(y),
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
