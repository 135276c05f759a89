"""Errors a user can act on. Each message names the file or value at fault and what to do next;
the CLI prints them without a traceback."""


class LitvisionError(Exception):
    """Base class: a problem with the user's input, data or configuration (not a bug)."""


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
