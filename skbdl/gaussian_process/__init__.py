"""gaussian_process."""
