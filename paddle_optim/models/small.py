"""Two small models for the built-in data: an MLP and a CNN."""
from typing import Sequence

import paddle
import paddle.nn as nn


class MLP(nn.Layer):
    """Flatten -> [Linear -> ReLU -> Dropout] x len(hidden_sizes) -> Linear.

    Args:
        in_features (int): size of one flattened sample.
        num_classes (int): number of outputs (logits).
        hidden_sizes (list of int, default [128]): width of each hidden layer.
        dropout (float, default 0.0): dropout probability after each hidden layer.
    """

    def __init__(self, in_features: int, num_classes: int, hidden_sizes: Sequence[int] = (128,), dropout: float = 0.0):
        super().__init__()
        layers, width = [nn.Flatten()], in_features
        for size in hidden_sizes:
            layers += [nn.Linear(width, size), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = size
        layers.append(nn.Linear(width, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.net(x)


class SmallCNN(nn.Layer):
    """[Conv3x3 -> BatchNorm -> ReLU -> MaxPool2] per entry of ``channels`` -> global avg pool -> Linear.

    Args:
        in_channels (int): channels of the input images (N, C, H, W).
        num_classes (int): number of outputs (logits).
        channels (list of int, default [32, 64]): output channels of each conv block.
        dropout (float, default 0.0): dropout before the classifier.
    """

    def __init__(self, in_channels: int, num_classes: int, channels: Sequence[int] = (32, 64), dropout: float = 0.0):
        super().__init__()
        blocks, width = [], in_channels
        for size in channels:
            blocks += [nn.Conv2D(width, size, 3, padding=1, bias_attr=False), nn.BatchNorm2D(size), nn.ReLU(),
                       nn.MaxPool2D(2, ceil_mode=True)]
            width = size
        self.features = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2D(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(width, num_classes)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.fc(self.dropout(paddle.flatten(self.pool(self.features(x)), 1)))
