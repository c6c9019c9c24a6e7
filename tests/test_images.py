"""Workload images: content tags, offline builds, and what the built images can run."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import docker
import pytest

from core.errors import ConfigError, DockerUnavailable, OrchbenchError
from core.images import IMAGE_NAMES, image_dir, image_files, image_tag
from infra.images import BuildResult, build_images, missing_images

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RUN_LABELS = {"orchbench.run_id": "test-images"}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the images/ tree under a throwaway project root."""
    shutil.copytree(
        PROJECT_ROOT / "images",
        tmp_path / "images",
        ignore=shutil.ignore_patterns("target", "logs", "dbt_packages", "__pycache__"),
    )
    return tmp_path


def _append(path: Path, text: str) -> None:
    with path.open("a") as f:
        f.write(text)


# --- content tags (no Docker) -----------------------------------------------------


def test_tag_names_the_image_and_is_stable_across_copies(tree: Path) -> None:
    for name in IMAGE_NAMES:
        tag = image_tag(name, tree)
        assert re.fullmatch(rf"orchbench/{name}:[0-9a-f]{{12}}", tag), tag
        # Same bytes elsewhere, with other mtimes: same tag.
        assert tag == image_tag(name, PROJECT_ROOT)
        for rel in image_files(name, tree):
            (image_dir(name, tree) / rel).touch()
        assert image_tag(name, tree) == tag
    assert image_tag("transform", tree) != image_tag("train", tree)


def test_tag_changes_with_the_dockerfile(tree: Path) -> None:
    before = {name: image_tag(name, tree) for name in IMAGE_NAMES}
    _append(image_dir("transform", tree) / "Dockerfile", "\n# changed\n")
    assert image_tag("transform", tree) != before["transform"]
    assert image_tag("train", tree) == before["train"], "train does not read transform/"


def test_tag_follows_the_content_of_a_dbt_model(tree: Path) -> None:
    models = sorted((image_dir("transform", tree) / "app").rglob("*.sql"))
    assert models, "the transform image should hold dbt models"
    model = models[0]
    original = model.read_bytes()
    before = image_tag("transform", tree)
    model.write_bytes(original.replace(b"select", b"SELECT", 1) + b"\n-- edited\n")
    edited = image_tag("transform", tree)
    assert edited != before
    model.write_bytes(original)
    assert image_tag("transform", tree) == before, "the tag is the content, not the history"


def test_tag_changes_with_requirements_a_new_file_and_a_rename(tree: Path) -> None:
    train = image_dir("train", tree)
    seen = {image_tag("train", tree)}
    requirements = train / "requirements.txt"
    requirements.write_text(requirements.read_text().replace("threadpoolctl==", "threadpoolctl>="))
    seen.add(image_tag("train", tree))
    (train / "app" / "extra.py").write_text("X = 1\n")
    seen.add(image_tag("train", tree))
    (train / "app" / "extra.py").rename(train / "app" / "renamed.py")
    seen.add(image_tag("train", tree))
    assert len(seen) == 4


def test_caches_and_dbt_outputs_do_not_change_the_tag(tree: Path) -> None:
    app = image_dir("transform", tree) / "app"
    before = image_tag("transform", tree)
    files_before = image_files("transform", tree)
    for junk in (
        app / "target" / "manifest.json",
        app / "logs" / "dbt.log",
        app / "dbt_packages" / "pkg" / "x.sql",
        app / "__pycache__" / "transform.cpython-311.pyc",
        app / "stray.pyc",
        app / ".DS_Store",
    ):
        junk.parent.mkdir(parents=True, exist_ok=True)
        junk.write_text("junk")
    assert image_tag("transform", tree) == before
    assert image_files("transform", tree) == files_before


def test_unknown_image_name_lists_the_valid_ones() -> None:
    for call in (image_tag, image_dir):
        with pytest.raises(ConfigError) as info:
            call("trian")
        assert "trian" in str(info.value)
        assert all(name in str(info.value) for name in IMAGE_NAMES)
    with pytest.raises(ConfigError):
        build_images(["trian"])


def test_tags_need_no_docker_import() -> None:
    """The runner and the CLI compute tags on every call: that must stay cheap."""
    code = (
        "import sys, core.images, infra.images; "
        "core.images.image_tag('transform'); print('docker' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


def test_unreachable_docker_is_reported_with_a_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(DockerUnavailable) as info:
        missing_images()
    assert "systemctl start docker" in str(info.value)


# --- real builds --------------------------------------------------------------------


@pytest.fixture(scope="module")
def built(base_image: str) -> dict[str, BuildResult]:
    """Both images built from the project tree (a no-op when they already are)."""
    results = build_images()
    assert [r.name for r in results] == list(IMAGE_NAMES)
    return {r.name: r for r in results}


def _run(client: docker.DockerClient, image: str, command: list[str], **kwargs: object) -> str:
    out = client.containers.run(
        image,
        command,
        network_mode="none",
        remove=True,
        stdout=True,
        stderr=True,
        labels={**RUN_LABELS, "orchbench.step": "test-images"},
        **kwargs,
    )
    return out.decode()


@pytest.mark.slow
def test_second_build_is_a_fast_noop(
    built: dict[str, BuildResult], docker_client: docker.DockerClient
) -> None:
    started = time.monotonic()
    again = build_images()
    elapsed = time.monotonic() - started
    assert [r.built for r in again] == [False, False]
    assert elapsed < 2.0, f"a no-op build took {elapsed:.2f} s"
    assert missing_images() == []
    for result in again:
        assert result.seconds < 1.0
        assert result.tag == image_tag(result.name) == built[result.name].tag
        assert result.base == built[result.name].base
        image = docker_client.images.get(result.tag)
        assert image.labels["orchbench.image"] == result.name
        assert docker_client.images.get(f"orchbench/{result.name}:latest").id == image.id


@pytest.mark.slow
def test_transform_image_runs_dbt_with_no_network(
    built: dict[str, BuildResult], docker_client: docker.DockerClient
) -> None:
    out = _run(docker_client, built["transform"].tag, ["dbt", "--version"])
    assert re.search(r"installed:\s*1\.11\.\d+", out), out
    assert re.search(r"Plugins:.*-\s*duckdb:\s*1\.11\.\d+", out, re.S), out
    # No wheels in the image's files (deleted after the install); telemetry is off;
    # the code is in /app.
    env = _run(
        docker_client,
        built["transform"].tag,
        [
            "sh",
            "-c",
            "test ! -e /wheels && pwd && echo $DBT_SEND_ANONYMOUS_USAGE_STATS"
            " && python -c 'import duckdb; print(duckdb.__version__)' && ls /app",
        ],
    )
    lines = env.split()
    assert lines[:3] == ["/app", "false", "2.0.1"], env
    assert "dbt_project.yml" in lines[3:], env


@pytest.mark.slow
def test_train_image_imports_its_libraries_with_no_network(
    built: dict[str, BuildResult], docker_client: docker.DockerClient
) -> None:
    script = (
        "import sys, sklearn, duckdb, numpy, scipy, joblib, threadpoolctl; "
        "print(sklearn.__version__, duckdb.__version__, sys.prefix)"
    )
    # As an unprivileged user too: the runner may run the container as the host user.
    out = _run(docker_client, built["train"].tag, ["python", "-c", script], user="65534")
    assert out.split() == ["1.9.1", "2.0.1", "/opt/venv"], out


@pytest.mark.slow
def test_failed_build_reports_its_last_lines(
    built: dict[str, BuildResult], tree: Path, docker_client: docker.DockerClient
) -> None:
    _append(image_dir("train", tree) / "Dockerfile", "RUN echo about-to-fail && exit 3\n")
    tag = image_tag("train", tree)
    with pytest.raises(OrchbenchError) as info:
        build_images(["train"], root=tree)
    message = str(info.value)
    assert "\nabout-to-fail\n" in message, "the failing step's own output"
    assert "non-zero code: 3" in message and tag in message
    with pytest.raises(docker.errors.ImageNotFound):
        docker_client.images.get(tag)
    assert docker_client.images.get("orchbench/train:latest").id == (
        docker_client.images.get(built["train"].tag).id
    )
