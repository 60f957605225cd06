"""The one shape of a refused input, shared by the library, the handler and the service."""

from __future__ import annotations


class InputError(ValueError):
    """An input that is refused: `code` is a snake_case reason, `message` names the problem for a person,
    `status` is the HTTP status to answer with (4xx for bad input)."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
