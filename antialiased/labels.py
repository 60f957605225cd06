"""The ImageNet-1k classes in class-index order (torch-free): names (the list torchvision's weights carry) and synset
ids, each read from a file of data/ (one a line)."""

from pathlib import Path

_DATA = Path(__file__).with_name("data")


def _lines(name: str) -> tuple[str, ...]:
    lines = (_DATA / name).read_text(encoding="utf-8").splitlines()
    return tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))


IMAGENET_CATEGORIES: tuple[str, ...] = _lines("imagenet_categories.txt")
NUM_CLASSES = len(IMAGENET_CATEGORIES)
# Synset id (WordNet id, e.g. "n01440764") of each class index: the sorted folder names of ImageNet's train and
# validation sets, so that an ImageFolder over them indexes classes as the published models do.
IMAGENET_SYNSETS: tuple[str, ...] = _lines("imagenet_synsets.txt")
SYNSET_INDEX: dict[str, int] = {synset: index for index, synset in enumerate(IMAGENET_SYNSETS)}
