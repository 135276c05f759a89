"""Lightning callbacks (image grids for TensorBoard, ...)."""
