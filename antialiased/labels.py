"""The ImageNet-1k class names, in class-index order (torchvision's list, the one source here)."""

from torchvision.models import ResNet50_Weights

IMAGENET_CATEGORIES: tuple[str, ...] = tuple(ResNet50_Weights.IMAGENET1K_V1.meta["categories"])
NUM_CLASSES = len(IMAGENET_CATEGORIES)
