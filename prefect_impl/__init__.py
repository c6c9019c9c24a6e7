"""The pipeline on Prefect 3: `flow.py` (the registry as a flow of tasks), `run.py` (the
driver entry, contract in core/protocol.py) and `deploy.py` (schedules, `serve`)."""
