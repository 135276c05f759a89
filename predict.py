"""python predict.py ckpt_path=<file.ckpt> input=<image file or folder>   (see --help)"""

from litvision.cli import predict

if __name__ == "__main__":
    predict()
