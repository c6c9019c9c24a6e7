"""Errors a user can act on, and the structured record a failed step leaves.

Every failure a user can cause or fix (bad config, bad input file, Docker not
running, image not built) is raised as an ``OrchbenchError``: the CLI prints its
message as one paragraph and exits non-zero, with no traceback. Anything else is
a bug and keeps its traceback.

A step that fails under any implementation (direct or a wrapper) is recorded as
a ``StepError``: the same facts as data (kind, message, fix, retryable, the
container's exit code and log tail), so no reader has to parse them back out of
the human text. ``OrchbenchError.to_step_error()`` builds it; ``StepError.text``
renders the human text, equal to ``str()`` of the exception it came from.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


class OrchbenchError(Exception):
    """A problem the user can fix; ``fix`` says how."""

    exit_code = 2
    # Retrying cannot fix a bad config or a bad file; it can fix a flaky container.
    # Every implementation (direct and the three wrappers) honours this flag.
    retryable = False
    kind = "problem"  # StepError.kind: stable, one per class below

    def __init__(self, problem: str, fix: str = "") -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem} {fix}".strip())

    def to_step_error(self) -> StepError:
        """This error as data (see StepError)."""
        return StepError(kind=self.kind, message=self.problem, fix=self.fix,
                         retryable=self.retryable, error_type=type(self).__name__)


def problem_of(err: BaseException) -> str:
    """What went wrong, for a note or a log line: an OrchbenchError's `problem` (without
    its fix), any other exception as "TypeName: message". May hold several lines."""
    return err.problem if isinstance(err, OrchbenchError) else f"{type(err).__name__}: {err}"


class ConfigError(OrchbenchError):
    """A configuration value, CLI argument or date is invalid."""

    kind = "bad_config"


class InputDataError(OrchbenchError):
    """An input file cannot be read at all (row-level problems are quarantined instead)."""

    kind = "bad_input"


class DockerUnavailable(OrchbenchError):
    """The Docker daemon cannot be reached."""

    kind = "docker_unavailable"


class ImageMissing(OrchbenchError):
    """A workload image is not built."""

    kind = "image_missing"


class StepFailed(OrchbenchError):
    """A pipeline step failed in a way the orchestrator should see as a task failure."""

    exit_code = 1
    retryable = True
    kind = "step_failed"


class ContainerError(StepFailed):
    """A workload container did not succeed; the message carries its last log lines.

    ``outcome`` is what happened to the container ("exited with code 3", "did not
    finish within 10 s and was killed and removed"); the human text is rendered by
    StepError.text, so the exception and its record cannot drift apart.
    """

    def __init__(self, image: str, command: list[str], outcome: str, log_tail: list[str],
                 fix: str, *, exit_code: int | None = None,
                 timeout_s: float | None = None) -> None:
        self.image = image
        self.command = command
        self.outcome = outcome
        self.log_tail = log_tail
        self.container_exit_code = exit_code
        self.timeout_s = timeout_s
        self.fix = fix
        super().__init__(self.to_step_error().problem, fix)

    def to_step_error(self) -> StepError:
        return StepError(
            kind=self.kind, message=f"Container {self.image} running "
            f"{' '.join(self.command)!r} {self.outcome}.", fix=self.fix,
            retryable=self.retryable, exit_code=self.container_exit_code,
            timeout_s=self.timeout_s, log_tail=list(self.log_tail),
            error_type=type(self).__name__)


class ContainerFailed(ContainerError):
    """A workload container exited non-zero."""

    kind = "container_exit"

    def __init__(self, image: str, command: list[str], exit_code: int, log_tail: list[str]) -> None:
        self.exit_code_value = exit_code
        super().__init__(
            image, command, f"exited with code {exit_code}", log_tail,
            "Read the log above; the step's inputs and the previous model are unchanged.",
            exit_code=exit_code,
        )


class ContainerTimeout(ContainerError):
    """A workload container ran past its timeout and was killed."""

    kind = "timeout"

    def __init__(
        self, image: str, command: list[str], timeout_s: float, log_tail: list[str]
    ) -> None:
        super().__init__(
            image, command, f"did not finish within {timeout_s:g} s and was killed and removed",
            log_tail, "Raise the step's timeout in the config if the work is legitimately slow.",
            timeout_s=timeout_s,
        )


@dataclass(frozen=True)
class StepError:
    """Why a step failed, as data: what every implementation records for a failed step.

    JSON shape (``to_dict``), in StepResult.failure of the uniform result
    (core/result.py) and in the per-step error file (core/task.py):

        {"kind": "container_exit", "message": "Container … exited with code 3.",
         "fix": "Read the log above; …", "retryable": true, "exit_code": 3,
         "timeout_s": null, "log_tail": ["…", "…"], "error_type": "ContainerFailed"}

    kind: stable strings, the ``kind`` of the OrchbenchError class (above):
      container_exit  a workload container exited non-zero; exit_code is its code
      timeout         the container runner's timeout (timeout_s set, log_tail kept),
                      or an orchestrator's own timeout (both None)
      bad_input       an input file cannot be read at all (InputDataError)
      bad_config      a config value, argument or date is invalid (ConfigError)
      docker_unavailable, image_missing, step_failed, problem (a plain OrchbenchError)
      unexpected      any other exception: a bug; message is its str()
      orchestrator    the step left no record (killed, or failed before core ran):
                      message is what the orchestrator recorded
    log_tail: the container's last log lines ([] if it printed nothing); None when
      no container was involved. exit_code, timeout_s: the container's, else None.
    error_type: the exception's class name ("" when unknown).
    """

    kind: str
    message: str
    fix: str = ""
    retryable: bool = True
    exit_code: int | None = None
    timeout_s: float | None = None
    log_tail: list[str] | None = None
    error_type: str = ""

    @property
    def problem(self) -> str:
        """The message, with the container's log tail where there is one (the problem
        half of OrchbenchError: what the exception's message says before the fix)."""
        if self.log_tail is None:
            return self.message
        tail = "\n".join(self.log_tail) if self.log_tail else "(no output)"
        return f"{self.message} Last log lines:\n{tail}"

    @property
    def text(self) -> str:
        """The human text: ``str()`` of the exception this was built from."""
        return f"{self.problem} {self.fix}".strip()

    @property
    def outcome(self) -> str | None:
        """What happened to the container, in a few words; None if none was involved."""
        if self.exit_code is not None:
            return f"exited with code {self.exit_code}"
        if self.timeout_s is not None:
            return f"did not finish within {self.timeout_s:g} s and was killed and removed"
        return None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StepError:
        """Read the JSON shape above; unknown keys (a newer writer) are ignored."""
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)

    @classmethod
    def from_exception(cls, exc: BaseException) -> StepError:
        """Any exception a step raised: an OrchbenchError says what it is itself; a
        TimeoutError is a timeout; anything else is a bug, recorded as unexpected."""
        if isinstance(exc, OrchbenchError):
            return exc.to_step_error()
        kind = "timeout" if isinstance(exc, TimeoutError) else "unexpected"
        return cls(kind=kind, message=str(exc) or type(exc).__name__,
                   retryable=bool(getattr(exc, "retryable", True)),
                   error_type=type(exc).__name__)

    @classmethod
    def recorded_by(cls, orchestrator: str, message: str, kind: str = "orchestrator",
                    retryable: bool = True) -> StepError:
        """A failure the step itself left no record of: the orchestrator's own words."""
        return cls(kind=kind, message=message, retryable=retryable, error_type=orchestrator)
