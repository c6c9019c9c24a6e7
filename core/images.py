"""Names and content tags of the workload images (and of the orchestrator UI images).

The tag of an image is a hash of everything its build reads from ``images/<name>/``
(Dockerfile, pinned requirements, the step's code and dbt project). The container
runner and the CLI compute it without asking Docker, so they always run the image
that matches the code on disk, and a stale image reads as missing instead of
silently running old code. Pure and fast on purpose: no Docker import, no I/O
beyond reading that folder.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from core.errors import ConfigError

IMAGE_NAMES: tuple[str, ...] = ("transform", "train")
# The orchestrator UI images of docker-compose.yml. Not in IMAGE_NAMES: the pipeline
# never needs them, so `orchbench images build` (no names), setup and doctor leave
# them alone; they are built only when named.
UI_IMAGE_NAMES: tuple[str, ...] = ("ui-prefect", "ui-airflow", "ui-dagster")
KNOWN_IMAGE_NAMES: tuple[str, ...] = IMAGE_NAMES + UI_IMAGE_NAMES
# A UI image also holds project code, copied into its build context under project/:
# the core, its wrapper, and the workload images' folders, because the pipeline
# inside names its containers by core.images.image_tag, which hashes those folders.
# So the UI image's tag changes with any of them, and never with the CLI or tests.
PROJECT_CONTEXT_DIR = "project"
_WORKLOAD_SOURCES = tuple(f"images/{name}" for name in IMAGE_NAMES)
UI_PROJECT_PATHS: dict[str, tuple[str, ...]] = {
    "ui-prefect": ("core", "prefect_impl", *_WORKLOAD_SOURCES),
    "ui-airflow": ("core", "airflow_impl", *_WORKLOAD_SOURCES),
    "ui-dagster": ("core", "dagster_impl", *_WORKLOAD_SOURCES),
}
IMAGE_REPOSITORY_PREFIX = "orchbench/"
TAG_HEX_CHARS = 12

# Never part of an image's identity: caches and dbt's run outputs. Skipped at any
# depth, both when hashing and when assembling the build context, so what is
# hashed is exactly what is built.
IGNORED_DIRS = frozenset({"__pycache__", "target", "logs", "dbt_packages", ".pytest_cache"})
IGNORED_FILES = frozenset({".DS_Store"})
IGNORED_SUFFIXES = (".pyc", ".pyo")

_PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _check_name(name: str) -> None:
    if name not in KNOWN_IMAGE_NAMES:
        raise ConfigError(
            f"Unknown image {name!r}.",
            f"Valid image names: {', '.join(KNOWN_IMAGE_NAMES)}.",
        )


def image_dir(name: str, root: Path | str | None = None) -> Path:
    """The folder holding the image's Dockerfile; ``root`` is the project root."""
    _check_name(name)
    return Path(root if root is not None else _PROJECT_ROOT) / "images" / name


def _walk(base: Path) -> list[Path]:
    """Files under ``base`` (relative to it) minus caches and build outputs, sorted.

    Sorted as POSIX strings so the order (and the hash) is the same on every machine.
    """
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = [d for d in dirnames if d not in IGNORED_DIRS]
        for filename in filenames:
            if filename in IGNORED_FILES or filename.endswith(IGNORED_SUFFIXES):
                continue
            path = Path(dirpath, filename)
            if path.is_file():
                found.append(path.relative_to(base))
    return sorted(found, key=lambda p: p.as_posix())


def image_sources(name: str, root: Path | str | None = None) -> list[tuple[Path, Path]]:
    """(path in the build context, file on disk) for every file the image is built from.

    The image's own folder maps to the context's top; a UI image's project code
    (``UI_PROJECT_PATHS``) to ``project/<path in the project>``.
    """
    base = image_dir(name, root)
    if not base.is_dir():
        raise ConfigError(
            f"Image folder {base} does not exist.",
            "Run orchbench from a full checkout of the project.",
        )
    pairs = [(rel, base / rel) for rel in _walk(base)]
    project = base.parent.parent
    for part in UI_PROJECT_PATHS.get(name, ()):
        source = project / part
        if not source.is_dir():
            raise ConfigError(
                f"The {name} image needs {source}, which does not exist.",
                "Run orchbench from a full checkout of the project.",
            )
        pairs += [(Path(PROJECT_CONTEXT_DIR, part, rel), source / rel) for rel in _walk(source)]
    return sorted(pairs, key=lambda pair: pair[0].as_posix())


def image_files(name: str, root: Path | str | None = None) -> list[Path]:
    """Paths, relative to the build context, of the files that make up the image, sorted."""
    return [rel for rel, _ in image_sources(name, root)]


def content_hash(name: str, root: Path | str | None = None) -> str:
    """sha256 over the image's files: path, owner-executable bit and bytes of each.

    Each field is length-prefixed so that moving bytes between a path and a file's
    content can never produce the same stream; the executable bit counts because
    COPY keeps it and an entry point without it fails.
    """
    digest = hashlib.sha256()
    for rel, path in image_sources(name, root):
        data = path.read_bytes()
        encoded = rel.as_posix().encode()
        executable = b"x" if path.stat().st_mode & stat.S_IXUSR else b"-"
        digest.update(len(encoded).to_bytes(8, "big") + encoded + executable)
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


def image_repository(name: str) -> str:
    """``orchbench/<name>``: the repository both the content tag and ``latest`` live in."""
    _check_name(name)
    return IMAGE_REPOSITORY_PREFIX + name


def image_tag(name: str, root: Path | str | None = None) -> str:
    """``orchbench/<name>:<12 hex>``, changing whenever any file of the image changes."""
    return f"{image_repository(name)}:{content_hash(name, root)[:TAG_HEX_CHARS]}"
