"""Offline generators that write small datasets in the exact on-disk format of the real ones, built
from real photographs shipped inside pip packages, so the real reading code is what tests and offline
experiments exercise."""
