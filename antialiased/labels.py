"""The ImageNet-1k classes in class-index order (torch-free): names (the list torchvision's weights carry) and synset
ids, each read from a data file (antialiased/data/, one a line)."""

from antialiased.data import lines

IMAGENET_CATEGORIES: tuple[str, ...] = lines("imagenet_categories.txt")
NUM_CLASSES = len(IMAGENET_CATEGORIES)
# Synset id (WordNet id, e.g. "n01440764") of each class index: the sorted folder names of ImageNet's train and
# validation sets, so that an ImageFolder over them indexes classes as the published models do.
IMAGENET_SYNSETS: tuple[str, ...] = lines("imagenet_synsets.txt")
SYNSET_INDEX: dict[str, int] = {synset: index for index, synset in enumerate(IMAGENET_SYNSETS)}
