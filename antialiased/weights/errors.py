"""The errors of the weights package: one base class, one subclass per way a checkpoint can fail.

Messages are one line and say what to do, so the command line can print them as they are.
"""

from __future__ import annotations


class WeightsError(Exception):
    """Base class of every error raised by `antialiased.weights`."""


class UnknownWeightsError(WeightsError, KeyError):
    """No registry entry has the requested name."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class RegistryError(WeightsError):
    """A registry entry (from `register` or the user registry file) is invalid or clashes with another."""


class WeightsUnavailableError(WeightsError):
    """The file could not be downloaded: offline, unreachable host, HTTP error or interrupted transfer."""


class HashMismatchError(WeightsError):
    """A file's sha256 does not start with the registered prefix; the file was not kept."""


class CheckpointFormatError(WeightsError):
    """A file is not a readable checkpoint (truncated, not PyTorch, unsafe pickle, no state_dict)."""


class ArchitectureMismatchError(WeightsError):
    """A state_dict does not fit the model: keys missing, unexpected, or of another shape."""


class ProgramFormatError(CheckpointFormatError):
    """A `.pt2` file is not a plain exported program (or would run code when loaded), or not a classifier of image
    batches with a dynamic batch dimension."""
