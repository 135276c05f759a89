"""python eval.py ckpt_path=<file.ckpt> [overrides ...]   (the experiment comes from the checkpoint; see --help)"""

from litvision.cli import evaluate

if __name__ == "__main__":
    evaluate()
