"""Names and content tags of the workload images.

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
    if name not in IMAGE_NAMES:
        raise ConfigError(
            f"Unknown image {name!r}.",
            f"Valid image names: {', '.join(IMAGE_NAMES)}.",
        )


def image_dir(name: str, root: Path | str | None = None) -> Path:
    """The folder holding the image's Dockerfile; ``root`` is the project root."""
    _check_name(name)
    return Path(root if root is not None else _PROJECT_ROOT) / "images" / name


def image_files(name: str, root: Path | str | None = None) -> list[Path]:
    """Paths, relative to ``image_dir``, of the files that make up the image, sorted.

    Sorted as POSIX strings so the order (and the hash) is the same on every machine.
    """
    base = image_dir(name, root)
    if not base.is_dir():
        raise ConfigError(
            f"Image folder {base} does not exist.",
            "Run orchbench from a full checkout of the project.",
        )
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


def content_hash(name: str, root: Path | str | None = None) -> str:
    """sha256 over the image's files: path, owner-executable bit and bytes of each.

    Each field is length-prefixed so that moving bytes between a path and a file's
    content can never produce the same stream; the executable bit counts because
    COPY keeps it and an entry point without it fails.
    """
    base = image_dir(name, root)
    digest = hashlib.sha256()
    for rel in image_files(name, root):
        path = base / rel
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
