"""The infrastructure layer: environments, images, stacks, drivers, processes.

Below the CLI (`orchbench/`) and the benchmarks (`benchmarks/`), above the wrappers
and `core/`. It starts and stops things (uv environments, Docker images and
containers, orchestrator servers, driver processes) and never imports an
orchestrator: that happens only inside each orchestrator's own environment.
"""
