"""python eval.py ckpt_path=<file.ckpt> [experiment=<name>] [overrides ...]   (see --help)"""

from litvision.cli import evaluate

if __name__ == "__main__":
    evaluate()
