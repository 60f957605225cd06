"""The ImageNet class list as data: 1000 synset ids in class-index order, beside torchvision's class names; both
checked against independent lists (torchvision's weights' categories, timm's ImageNet synsets)."""

import re

import timm.data
from torchvision.models import ResNet50_Weights

from antialiased.labels import IMAGENET_CATEGORIES, IMAGENET_SYNSETS, NUM_CLASSES, SYNSET_INDEX


def test_synsets_are_the_1000_sorted_unique_wordnet_ids() -> None:
    assert len(IMAGENET_SYNSETS) == NUM_CLASSES == len(IMAGENET_CATEGORIES) == 1000
    assert len(set(IMAGENET_SYNSETS)) == 1000
    assert list(IMAGENET_SYNSETS) == sorted(IMAGENET_SYNSETS), "ImageFolder indexes the sorted folder names"
    assert all(re.fullmatch(r"n\d{8}", synset) for synset in IMAGENET_SYNSETS)


def test_known_synsets_sit_at_their_class_index() -> None:
    """Spot checks against torchvision's class names: tench, goldfish, tabby cat, espresso, toilet tissue."""
    for synset, name in [
        ("n01440764", "tench"),
        ("n01443537", "goldfish"),
        ("n02123045", "tabby"),
        ("n07920052", "espresso"),
        ("n15075141", "toilet tissue"),
    ]:
        assert IMAGENET_CATEGORIES[SYNSET_INDEX[synset]] == name


def test_the_class_names_are_torchvisions_categories_in_order() -> None:
    assert tuple(ResNet50_Weights.IMAGENET1K_V1.meta["categories"]) == IMAGENET_CATEGORIES


def test_the_synsets_are_timms_imagenet_synsets_in_order() -> None:
    assert tuple(timm.data.ImageNetInfo("imagenet-1k").label_names()) == IMAGENET_SYNSETS
