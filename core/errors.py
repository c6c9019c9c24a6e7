"""Errors a user can act on.

Every failure a user can cause or fix (bad config, bad input file, Docker not
running, image not built) is raised as an ``OrchbenchError``: the CLI prints its
message as one paragraph and exits non-zero, with no traceback. Anything else is
a bug and keeps its traceback.
"""

from __future__ import annotations


class OrchbenchError(Exception):
    """A problem the user can fix; ``fix`` says how."""

    exit_code = 2
    # Retrying cannot fix a bad config or a bad file; it can fix a flaky container.
    # Every implementation (direct and the three wrappers) honours this flag.
    retryable = False

    def __init__(self, problem: str, fix: str = "") -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem} {fix}".strip())


class ConfigError(OrchbenchError):
    """A configuration value, CLI argument or date is invalid."""


class InputDataError(OrchbenchError):
    """An input file cannot be read at all (row-level problems are quarantined instead)."""


class DockerUnavailable(OrchbenchError):
    """The Docker daemon cannot be reached."""


class ImageMissing(OrchbenchError):
    """A workload image is not built."""


class StepFailed(OrchbenchError):
    """A pipeline step failed in a way the orchestrator should see as a task failure."""

    exit_code = 1
    retryable = True


class ContainerError(StepFailed):
    """A workload container did not succeed; the message carries its last log lines."""

    def __init__(self, image: str, command: list[str], outcome: str, log_tail: list[str],
                 fix: str) -> None:
        self.image = image
        self.command = command
        self.log_tail = log_tail
        tail = "\n".join(log_tail) if log_tail else "(no output)"
        super().__init__(
            f"Container {image} running {' '.join(command)!r} {outcome}. Last log lines:\n{tail}",
            fix,
        )


class ContainerFailed(ContainerError):
    """A workload container exited non-zero."""

    def __init__(self, image: str, command: list[str], exit_code: int, log_tail: list[str]) -> None:
        self.exit_code_value = exit_code
        super().__init__(
            image, command, f"exited with code {exit_code}", log_tail,
            "Read the log above; the step's inputs and the previous model are unchanged.",
        )


class ContainerTimeout(ContainerError):
    """A workload container ran past its timeout and was killed."""

    def __init__(
        self, image: str, command: list[str], timeout_s: float, log_tail: list[str]
    ) -> None:
        self.timeout_s = timeout_s
        super().__init__(
            image, command, f"did not finish within {timeout_s:g} s and was killed and removed",
            log_tail, "Raise the step's timeout in the config if the work is legitimately slow.",
        )
