"""Entry point of the evaluate step (train image): MSE and MAE on the held-out day.

Environment: MODEL (new model), PREVIOUS_MODEL (optional), EVAL_FILE (refined
Parquet of the held-out day). Both models are scored on the same day, so the
regression flag compares like with like. Writes /out/metrics.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from model import env, load_model, load_xy, predict


def score(model_path: str, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    error = predict(load_model(model_path), x) - y
    return {"mse": float(np.mean(error**2)), "mae": float(np.mean(np.abs(error)))}


def main() -> int:
    x, y = load_xy([env("EVAL_FILE")])
    metrics = {"rows": len(y), **score(env("MODEL"), x, y)}
    previous = env("PREVIOUS_MODEL", "")
    if previous:
        metrics["previous"] = score(previous, x, y)
    Path("/out").mkdir(parents=True, exist_ok=True)
    Path("/out/metrics.json").write_text(json.dumps(metrics, indent=2))
    print(f"evaluated on {len(y)} rows: mse={metrics['mse']:.3f} mae={metrics['mae']:.3f}",
          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
