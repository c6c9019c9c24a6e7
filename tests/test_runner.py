"""The container runner against a real Docker daemon.

Each test pins down a promise a broken runner would break: exit codes checked, the
timeout really stopping the container, log lines live and complete, mounts and the
caller's uid, no network, labels, clear errors, and no container left behind.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from core.errors import (
    ConfigError,
    ContainerFailed,
    ContainerTimeout,
    DockerUnavailable,
    ImageMissing,
)
from core.runner import (
    LABEL_RUN_ID,
    LABEL_STEP,
    ContainerSpec,
    Mount,
    _LineSplitter,
    docker_client,
    run_container,
    sweep,
)

pytestmark = pytest.mark.slow


def _py(code: str) -> list[str]:
    return ["python3", "-c", code]


def _left(client: docker.DockerClient, run_id: str) -> list[str]:
    found = client.containers.list(all=True, filters={"label": f"{LABEL_RUN_ID}={run_id}"})
    return [c.name for c in found]


@pytest.fixture
def run_id(docker_client: docker.DockerClient) -> Iterator[str]:
    """A fresh run id per test, and proof afterwards that its containers are gone."""
    rid = f"test-{uuid.uuid4().hex[:10]}"
    yield rid
    assert _left(docker_client, rid) == []


# ---------------------------------------------------------------- line splitting


def test_splitter_joins_lines_split_across_frames_per_stream() -> None:
    lines: list[str] = []
    splitter = _LineSplitter(lines.append)
    splitter.feed(1, b"hel")
    splitter.feed(2, b"warn")  # stderr interleaves mid-line: must not glue onto stdout
    splitter.feed(1, b"lo\nwor")
    splitter.feed(2, b"ing\n")
    splitter.feed(1, b"ld \xc3")  # a UTF-8 character split in two ...
    splitter.feed(1, b"\xa9\r\nlast")  # ... and a last line without a newline
    splitter.flush()
    assert lines == ["hello", "warning", "world \u00e9", "last"]


# -------------------------------------------------------------------- exit codes


def test_success_returns_exit_code_and_tail(base_image: str, run_id: str) -> None:
    result = run_container(
        ContainerSpec(base_image, _py("for i in range(50): print(i)")), run_id=run_id, step="ok"
    )
    assert result.exit_code == 0
    assert result.log_tail == [str(i) for i in range(10, 50)]
    assert result.duration_s > 0


def test_nonzero_exit_raises_with_code_and_last_lines(base_image: str, run_id: str) -> None:
    # Docker copies stdout and stderr on separate goroutines, so their relative order
    # in the log is only certain with a pause between them.
    code = (
        "import sys, time\n"
        "for i in range(100): print(f'line {i}')\n"
        "sys.stdout.flush()\n"
        "time.sleep(0.3)\n"
        "print('boom: bad input', file=sys.stderr)\n"
        "sys.exit(3)"
    )
    with pytest.raises(ContainerFailed) as info:
        run_container(ContainerSpec(base_image, _py(code)), run_id=run_id, step="fail")
    err = info.value
    assert err.exit_code_value == 3
    assert err.image == base_image
    assert err.command == _py(code)
    assert len(err.log_tail) == 40
    assert "boom: bad input" in err.log_tail
    assert "line 99" in err.log_tail
    assert "line 0" not in err.log_tail  # only the tail, not everything
    assert "exited with code 3" in str(err)
    assert "boom: bad input" in str(err)


def test_command_not_in_image_is_a_container_failure(base_image: str, run_id: str) -> None:
    with pytest.raises(ContainerFailed) as info:
        run_container(
            ContainerSpec(base_image, ["no-such-program-here"]), run_id=run_id, step="notfound"
        )
    assert info.value.exit_code_value == 127
    assert "no-such-program-here" in str(info.value)


# ----------------------------------------------------------------------- timeout


def test_hanging_container_is_killed_at_timeout_and_removed(
    base_image: str, run_id: str, docker_client: docker.DockerClient
) -> None:
    spec = ContainerSpec(base_image, ["sh", "-c", "echo started; sleep 600"], timeout_s=2)
    t0 = time.monotonic()
    with pytest.raises(ContainerTimeout) as info:
        run_container(spec, run_id=run_id, step="hang")
    elapsed = time.monotonic() - t0
    assert 2.0 <= elapsed < 8.0
    assert info.value.timeout_s == 2
    assert info.value.log_tail == ["started"]
    assert _left(docker_client, run_id) == []


# -------------------------------------------------------------------------- logs


def test_log_lines_arrive_while_the_container_runs(base_image: str, run_id: str) -> None:
    arrivals: list[tuple[float, str]] = []
    code = "import time\nprint('first', flush=True)\ntime.sleep(2)\nprint('second')"
    t0 = time.monotonic()
    run_container(
        ContainerSpec(base_image, _py(code)),
        run_id=run_id,
        step="live",
        on_log=lambda line: arrivals.append((time.monotonic(), line)),
    )
    end = time.monotonic()
    assert [line for _, line in arrivals] == ["first", "second"]
    first_at = arrivals[0][0]
    assert end - first_at > 1.5, f"first line at {first_at - t0:.2f} s of {end - t0:.2f} s"


def test_no_log_line_is_lost(base_image: str, run_id: str) -> None:
    # 500 quick lines, one longer than Docker's 16 KiB log chunk, and a last line
    # without a newline (which Docker's follow mode itself drops: moby#43860).
    code = (
        "import sys\n"
        "sys.stdout.write(''.join(f'{i}\\n' for i in range(500)))\n"
        "sys.stdout.write('x' * 40000 + '\\n')\n"
        "sys.stdout.write('no newline at the end')"
    )
    lines: list[str] = []
    result = run_container(
        ContainerSpec(base_image, _py(code)), run_id=run_id, step="many", on_log=lines.append
    )
    assert lines[:500] == [str(i) for i in range(500)]
    assert lines[500:] == ["x" * 40000, "no newline at the end"]
    assert result.log_tail[-1] == "no newline at the end"


def test_a_failing_log_callback_surfaces_after_the_run(base_image: str, run_id: str) -> None:
    seen: list[str] = []

    def broken(line: str) -> None:
        seen.append(line)
        raise RuntimeError("logger is broken")

    with pytest.raises(RuntimeError, match="logger is broken"):
        run_container(
            ContainerSpec(base_image, _py("print('a'); print('b')")),
            run_id=run_id,
            step="badlog",
            on_log=broken,
        )
    assert seen == ["a"]  # not called again after it failed


# ------------------------------------------------------------ env, mounts, user


def test_env_and_mounts_and_files_owned_by_the_caller(
    base_image: str, run_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "in"
    out = tmp_path / "out"
    src.mkdir()
    out.mkdir()
    # Writable by anyone, so only the mount's read-only flag can stop a write.
    src.chmod(0o777)
    out.chmod(0o777)
    (src / "data.txt").write_text("hello from the host")
    # Pretend to be an unprivileged user, so the test means the same when run as root.
    monkeypatch.setattr(os, "getuid", lambda: 4321)
    monkeypatch.setattr(os, "getgid", lambda: 4322)
    code = (
        "import os, pathlib\n"
        "text = pathlib.Path('/in/data.txt').read_text()\n"
        "assert pathlib.Path('/also-in/data.txt').read_text() == text\n"
        "pathlib.Path('/out/result.txt').write_text(text + ' / ' + os.environ['GREETING'])\n"
        "try:\n"
        "    pathlib.Path('/in/forbidden.txt').write_text('x')\n"
        "    print('wrote into the read-only mount')\n"
        "except OSError as exc:\n"
        "    print('read-only:', exc.errno)\n"
        "print('uid', os.getuid(), os.getgid())\n"
    )
    spec = ContainerSpec(
        base_image,
        _py(code),
        env={"GREETING": "hi"},
        mounts=[Mount(src, "/in"), Mount(src, "/also-in"), Mount(out, "/out", read_only=False)],
    )
    result = run_container(spec, run_id=run_id, step="mounts")
    assert (out / "result.txt").read_text() == "hello from the host / hi"
    stat = (out / "result.txt").stat()
    assert (stat.st_uid, stat.st_gid) == (4321, 4322)
    assert "read-only: 30" in result.log_tail  # EROFS
    assert "uid 4321 4322" in result.log_tail
    assert not (src / "forbidden.txt").exists()


def test_missing_mount_source_is_a_config_error(
    base_image: str, run_id: str, tmp_path: Path
) -> None:
    spec = ContainerSpec(base_image, ["true"], mounts=[Mount(tmp_path / "nope", "/data")])
    with pytest.raises(ConfigError, match="does not exist"):
        run_container(spec, run_id=run_id, step="nomount")
    assert not (tmp_path / "nope").exists()  # Docker would have created it, root-owned


def test_resource_limits_reach_the_container(base_image: str, run_id: str) -> None:
    code = (
        "import pathlib\n"
        "v2 = pathlib.Path('/sys/fs/cgroup/memory.max')\n"
        "v1 = pathlib.Path('/sys/fs/cgroup/memory/memory.limit_in_bytes')\n"
        "print((v2 if v2.exists() else v1).read_text().strip())\n"
    )
    spec = ContainerSpec(base_image, _py(code), mem_limit="64m", cpus=0.5)
    result = run_container(spec, run_id=run_id, step="limits")
    assert result.log_tail == [str(64 * 1024 * 1024)]


# ----------------------------------------------------------------------- network


def test_network_is_none_by_default(base_image: str, run_id: str) -> None:
    code = (
        "import os, socket\n"
        "print(sorted(os.listdir('/sys/class/net')))\n"
        "try:\n"
        "    socket.create_connection(('1.1.1.1', 53), timeout=3)\n"
        "    print('connected')\n"
        "except OSError as exc:\n"
        "    print('no network:', exc.errno)\n"
    )
    result = run_container(ContainerSpec(base_image, _py(code)), run_id=run_id, step="net")
    assert result.log_tail[0] == "['lo']"
    assert result.log_tail[1].startswith("no network:")


# ------------------------------------------------------------------------ labels


def test_container_is_labelled_while_it_runs(
    base_image: str, run_id: str, docker_client: docker.DockerClient
) -> None:
    seen: list[dict[str, str]] = []

    def look(_line: str) -> None:
        running = docker_client.containers.list(filters={"label": f"{LABEL_RUN_ID}={run_id}"})
        seen.extend(c.labels for c in running)

    spec = ContainerSpec(
        base_image,
        _py("import time\nprint('up', flush=True)\ntime.sleep(1)"),
        labels={"team": "ml"},
    )
    result = run_container(spec, run_id=run_id, step="labelled", on_log=look)
    assert len(seen) == 1
    assert seen[0][LABEL_RUN_ID] == run_id
    assert seen[0][LABEL_STEP] == "labelled"
    assert seen[0]["team"] == "ml"
    assert result.name.startswith(f"orchbench-{run_id}-labelled-")


def test_sweep_removes_only_the_given_run(
    base_image: str, run_id: str, docker_client: docker.DockerClient
) -> None:
    other = f"{run_id}-other"
    for rid in (run_id, other):
        docker_client.containers.create(base_image, ["true"], labels={LABEL_RUN_ID: rid})
    assert sweep(run_id) == 1
    assert _left(docker_client, run_id) == []
    assert len(_left(docker_client, other)) == 1
    assert sweep(other) == 1


# ------------------------------------------------------------------- interrupted


def test_ctrl_c_during_a_run_still_removes_the_container(
    base_image: str, run_id: str, docker_client: docker.DockerClient
) -> None:
    main = threading.main_thread().ident
    assert main is not None

    def interrupt(_line: str) -> None:
        signal.pthread_kill(main, signal.SIGINT)  # what Ctrl-C does to the waiting thread

    spec = ContainerSpec(base_image, ["sh", "-c", "echo ready; sleep 600"], timeout_s=60)
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run_container(spec, run_id=run_id, step="ctrlc", on_log=interrupt)
    assert time.monotonic() - t0 < 10
    assert _left(docker_client, run_id) == []


# ------------------------------------------------------------------ clear errors


def test_missing_image_says_how_to_build_it(run_id: str) -> None:
    t0 = time.monotonic()
    with pytest.raises(ImageMissing) as info:
        run_container(
            ContainerSpec("orchbench/not-built:never", ["true"]), run_id=run_id, step="noimg"
        )
    assert "orchbench images build" in str(info.value)
    assert "orchbench/not-built:never" in str(info.value)
    assert time.monotonic() - t0 < 5  # no pull attempted


def test_unreachable_daemon_is_reported_with_a_fix(
    base_image: str, run_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent.sock")
    with pytest.raises(DockerUnavailable) as info:
        run_container(ContainerSpec(base_image, ["true"]), run_id=run_id, step="nodaemon")
    message = str(info.value)
    assert "unix:///nonexistent.sock" in message
    assert "Start Docker" in message and "DOCKER_HOST" in message
    with pytest.raises(DockerUnavailable):
        docker_client()
    with pytest.raises(DockerUnavailable):
        sweep(run_id)
