"""The ImageNet-1k class names, in class-index order (torch-free; the list torchvision's weights carry)."""

from pathlib import Path

_CATEGORIES_FILE = Path(__file__).with_name("data") / "imagenet_categories.txt"

IMAGENET_CATEGORIES: tuple[str, ...] = tuple(_CATEGORIES_FILE.read_text(encoding="utf-8").splitlines())
NUM_CLASSES = len(IMAGENET_CATEGORIES)
