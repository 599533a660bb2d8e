"""Read-only API over the model registry (``models/``)."""
