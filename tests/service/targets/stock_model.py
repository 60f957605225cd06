"""The network of the stock-handler TorchServe model of the tests: torchvision's ResNet-18 (TorchServe's eager
loading wants the model file to define exactly one class)."""

from torchvision.models.resnet import BasicBlock, ResNet


class StockResNet18(ResNet):
    def __init__(self) -> None:
        super().__init__(BasicBlock, [2, 2, 2, 2])
