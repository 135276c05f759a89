"""python train.py [experiment=<name>] [group=option ...] [key=value ...]   (see --help)"""

from litvision.cli import train

if __name__ == "__main__":
    train()
