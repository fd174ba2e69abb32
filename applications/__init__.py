"""Ready anomaly-detection models with a one-argument block switch (SPEC section 3)."""
