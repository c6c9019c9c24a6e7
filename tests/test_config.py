"""Config: typos and bad values are refused with the key's name, never defaulted."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import Config, load_config
from core.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "orchbench.toml"
    path.write_text(text)
    return path


def test_defaults_are_valid_and_file_values_apply(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, '[drift]\nthreshold = 1\n[steps.train]\nretries = 3\n'))
    assert cfg.drift.threshold == 1.0 and isinstance(cfg.drift.threshold, float)
    assert cfg.steps["train"].retries == 3
    assert cfg.steps["transform"] == Config().steps["transform"]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("[drift]\nthreshhold = 0.3\n", "drift.threshhold"),
        ("[drift]\nthreshold = -1\n", "drift.threshold"),
        ("[drift]\nthreshold = 'high'\n", "drift.threshold"),
        ("[data]\ndrift = 'huge'\n", "data.drift"),
        ("[data]\ndrift = 'mild'\n", "data.drift_start"),
        ("[steps.trian]\nretries = 1\n", "trian"),
        ("[faults.ingest]\nfail_times = 1\n", "ingest"),
        ("[drift\nthreshold = 1\n", "not valid TOML"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, text: str, names: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text))
    assert names in str(err.value)


def test_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")


def test_faults_load_from_toml(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "[faults.train]\nfail_times = 2\nexit_code = 9\n"))
    assert cfg.faults["train"].fail_times == 2 and cfg.faults["train"].exit_code == 9


def test_saved_config_loads_back_identical(tmp_path: Path) -> None:
    """How a driver hands a run's exact config to an orchestrator's own environment."""
    from core.config import DriftConfig, Fault, StepPolicy, save_config

    cfg = Config(home=tmp_path / "h", drift=DriftConfig(current_days=3, reference_days=7,
                                                        min_reference_days=7),
                 steps={**Config().steps, "train": StepPolicy(retries=4, timeout_s=9)},
                 faults={"evaluate": Fault(hang_seconds=5)}).validate()
    assert load_config(save_config(cfg, tmp_path / "cfg.json")) == cfg
