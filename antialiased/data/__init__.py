"""The library's data files: one item a line, `#` comments and blank lines skipped (torch-free)."""

from pathlib import Path


def lines(name: str) -> tuple[str, ...]:
    """The items of data file `name` (e.g. "imagenet_synsets.txt"), in file order."""
    text = (Path(__file__).parent / name).read_text(encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))
