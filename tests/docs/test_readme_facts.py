"""The README's folder list is the tree's (every folder named, each subfolder of the library, the service, the tests
and deploy/ too, and no folder that is not there), and the torch-free list of the README and docs/library.md is the
library's own constant, antialiased.TORCH_FREE_MODULES."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from antialiased import TORCH_FREE_MODULES

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
SUBFOLDERS_LISTED = ("antialiased", "service", "tests", "deploy")  # whose subfolders the README names too


def _folders_block() -> dict[str, str]:
    """Each top folder of the README's `## Folders` block -> its text (its line and the lines continuing it)."""
    block = README.split("## Folders", 1)[1].split("```", 2)[1]
    entries: dict[str, str] = {}
    for line in block.strip("\n").splitlines():
        if match := re.match(r"(\S+)/\s", line):
            name = match.group(1)
            entries[name] = line[len(name) + 1 :]
        else:
            entries[name] += " " + line.strip()
    return entries


def _tracked_folders() -> set[Path]:
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return {parent for file in files.splitlines() for parent in Path(file).parents if parent != Path(".")}


ENTRIES = _folders_block()
FOLDERS = _tracked_folders()


def test_every_top_folder_is_listed_and_every_listed_one_exists() -> None:
    top = {str(folder) for folder in FOLDERS if len(folder.parts) == 1 and not folder.name.startswith(".")}
    assert set(ENTRIES) == top


@pytest.mark.parametrize("top", SUBFOLDERS_LISTED)
def test_every_subfolder_is_named_in_its_folders_entry(top: str) -> None:
    subfolders = {folder.name for folder in FOLDERS if len(folder.parts) == 2 and folder.parts[0] == top}
    named = set(re.findall(r"(?<![\w/.])([a-z_]+)/(?![\w.])", ENTRIES[top]))  # folders, not paths of files
    assert subfolders - named == set(), f"README's {top}/ entry misses these"
    anywhere = {folder.name for folder in FOLDERS if folder.parts[0] == top}
    assert named - anywhere == set(), f"README's {top}/ entry names folders that are not in {top}/"


@pytest.mark.parametrize("page", ["README.md", "docs/library.md"])
def test_the_torch_free_list_is_the_librarys_constant(page: str) -> None:
    text = " ".join((ROOT / page).read_text().split())
    listed = text.split("TORCH_FREE_MODULES", 1)[1].split("(all of it)", 1)[0]
    names = set(re.findall(r"[a-z_]+/?", listed.replace("`", ""))) - {"and"}
    expected = {name for name in TORCH_FREE_MODULES if "." not in name and name != "serving"} | {"serving/"}
    assert names == expected
