"""Command-line client for the model registry (``modelreg``), for CI/CD pipelines."""
