"""Datasets and LightningDataModules, one module per dataset family."""
