"""Plain nn.Modules and backbones (with their pretrained-weight loading); nothing about Lightning."""
