"""The preprocessing of the paper's ImageNet evaluation, as numbers (torch-free): Resize(256) -> CenterCrop -> mean/std.

The functions that apply it to tensors are in `antialiased.transforms`.
"""

RESIZE_SIZE = 256  # shorter side after resizing
CROP_SIZE = 224  # model input for plain classification
SHIFT_BASE_SIZE = 256  # center crop in which the paper's shifted 224 windows move
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
