"""API layer: settings, wiring, the CLI and the FastAPI app. Nothing imports this package."""
