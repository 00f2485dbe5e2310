"""Internal utilities (validation, torch/numpy conversion, RNG handling)."""
