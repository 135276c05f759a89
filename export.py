"""python export.py ckpt_path=<file.ckpt> format=onnx|torchscript [output=<file>]   (see --help)"""

from litvision.cli import export

if __name__ == "__main__":
    export()
