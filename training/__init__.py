"""Model training (not shipped in the wheel; needs the `train` extra)."""
