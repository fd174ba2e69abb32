"""Readers for the benchmark layouts, synthetic data, and PyDataset pipelines."""
