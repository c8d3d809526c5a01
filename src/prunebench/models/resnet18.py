"""torchvision's ResNet-18 with the usual CIFAR stem: 3x3 stride-1 first conv and no max-pool."""

from __future__ import annotations

from torch import nn

from .base import ClassifierNet

FEATURE_WIDTH = 512


def resnet18(input_shape: tuple[int, ...], num_classes: int) -> ClassifierNet:
    """ResNet-18 body (fc removed) and a Linear(512, num_classes) head; about 11.17M parameters."""
    # imported here: torchvision costs ~1 s at import, which every small job would pay
    import torchvision

    body = torchvision.models.resnet18(weights=None, num_classes=num_classes)
    # The ImageNet stem (7x7 stride 2 + max-pool) would shrink a 32x32 image to 8x8 at once.
    body.conv1 = nn.Conv2d(input_shape[0], 64, 3, stride=1, padding=1, bias=False)
    nn.init.kaiming_normal_(body.conv1.weight, mode="fan_out", nonlinearity="relu")
    body.maxpool = nn.Identity()
    body.fc = nn.Identity()
    # torchvision uses in-place ReLU; out-of-place is safer under torch.func transforms.
    for module in body.modules():
        if isinstance(module, nn.ReLU):
            module.inplace = False
    return ClassifierNet(body, nn.Linear(FEATURE_WIDTH, num_classes))
