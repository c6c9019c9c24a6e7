"""Airflow's settings for an orchbench home, importable without Airflow.

Airflow reads its environment on import, so whoever starts Airflow (the driver entry
`airflow_impl.run`, the served stack in `infra/stacks/airflow.py`, the tests) sets
these first. This module imports no Airflow: the infrastructure layer uses it without
pulling Airflow into the CLI's environment (the import contract in pyproject.toml).
"""

from __future__ import annotations

from pathlib import Path

DAGS = Path(__file__).resolve().parent / "dags"
DAG_FILE = DAGS / "orchbench_pipeline.py"


def airflow_environment(home: Path) -> dict[str, str]:
    """Airflow's settings for an orchbench home: SQLite under it, our DAGs, no examples."""
    airflow_home = (home / "orchestrators" / "airflow").resolve()
    return {
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
