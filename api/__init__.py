"""The HTTP API, the dashboard, the command-line interface and the Python client."""
