"""active_learning."""
