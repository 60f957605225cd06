"""The ImageNet-1k classes in class-index order: names (torchvision's list) and synset ids (data/, one a line)."""

from pathlib import Path

from torchvision.models import ResNet50_Weights

IMAGENET_CATEGORIES: tuple[str, ...] = tuple(ResNet50_Weights.IMAGENET1K_V1.meta["categories"])
NUM_CLASSES = len(IMAGENET_CATEGORIES)


def _read_synsets() -> tuple[str, ...]:
    lines = (Path(__file__).parent / "data" / "imagenet_synsets.txt").read_text().splitlines()
    return tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))


# Synset id (WordNet id, e.g. "n01440764") of each class index: the sorted folder names of ImageNet's train and
# validation sets, so that an ImageFolder over them indexes classes as the published models do.
IMAGENET_SYNSETS: tuple[str, ...] = _read_synsets()
SYNSET_INDEX: dict[str, int] = {synset: index for index, synset in enumerate(IMAGENET_SYNSETS)}
