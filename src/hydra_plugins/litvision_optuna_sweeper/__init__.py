"""Hydra plugin: the Optuna sweeper with the full trial table (see optuna_sweeper.py)."""
