"""litvision: Hydra-configured computer-vision experiments on PyTorch Lightning."""

__version__ = "0.1.0"
