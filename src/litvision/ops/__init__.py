"""Pure tensor functions: anchors and boxes, bilinear kernels, style losses. Nothing about nets or data."""
