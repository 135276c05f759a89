"""Errors a user can act on. Each message names the file or value at fault and what to do next;
the CLI prints them without a traceback."""

WORKER_PREFIX = "Caught "  # how torch.utils.data re-raises a worker's exception in the main process


def _worker_message(text: str, error_type: type) -> str | None:
    """The original message inside the text torch re-raises a DataLoader worker's exception with
    ("Caught DataError in DataLoader worker process 0.\nOriginal Traceback ...\n<module>.DataError: msg")."""
    if not text.startswith(WORKER_PREFIX) or "DataLoader worker process" not in text.split("\n", 1)[0]:
        return None
    head = f"\n{error_type.__module__}.{error_type.__qualname__}: "
    at = text.rfind(head)
    return text[at + len(head) :].rstrip("\n") if at >= 0 else None


class LitvisionError(Exception):
    """Base class: a problem with the user's input, data or configuration (not a bug).

    Raised in a DataLoader worker, it reaches the main process rebuilt by torch from the worker's whole
    traceback; the constructor recovers the original message (the traceback stays in
    `worker_traceback`), so it is still one line however many workers there are."""

    def __init__(self, *args: object) -> None:
        self.worker_traceback: str | None = None
        if len(args) == 1 and isinstance(args[0], str):
            original = _worker_message(args[0], type(self))
            if original is not None:
                self.worker_traceback, args = args[0], (original,)
        super().__init__(*args)


class DataError(LitvisionError):
    """Missing, corrupt or malformed data on disk."""


class ChecksumError(DataError):
    """A downloaded or local archive does not have the expected SHA-1."""


class UnsafeArchiveError(DataError):
    """An archive member would be written outside the extraction folder."""


class WeightsUnavailableError(LitvisionError):
    """Pretrained weights cannot be loaded (no network and no cached file)."""


class ConfigError(LitvisionError):
    """A configuration value that is valid YAML but makes no sense for this experiment."""


class CheckpointMismatchError(LitvisionError):
    """A checkpoint written by a different task or network than the experiment being run."""


class MissingInputsError(LitvisionError):
    """Several inputs of one run are missing (data, weights): all of them in one message."""

    def __init__(self, problems: list[Exception]) -> None:
        self.problems = list(problems)
        listed = " ".join(f"({i}) {p}" for i, p in enumerate(self.problems, 1))
        super().__init__(f"this run is missing {len(self.problems)} inputs: {listed}")
