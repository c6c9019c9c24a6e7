"""What a result file records of where it ran (benchmarks/environment.py): the facts
beside the figures that change them. No Docker needed."""

from __future__ import annotations

from pathlib import Path

from benchmarks.environment import bytecode_compiled


def test_bytecode_is_recorded_as_the_environment_holds_it(tmp_path: Path) -> None:
    """Start-up figures halve with compiled bytecode (infra/envs.py SYNC_FLAGS), so the
    record says which kind of environment they come from."""
    assert bytecode_compiled(tmp_path / "absent") is None
    package = tmp_path / "venv" / "lib" / "python3.11" / "site-packages" / "pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    assert bytecode_compiled(tmp_path / "venv") is False
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "__init__.cpython-311.pyc").write_bytes(b"")
    assert bytecode_compiled(tmp_path / "venv") is True
