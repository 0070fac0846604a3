// Helper that starts `python -m sdbridge.cli serve` for the end-to-end tests: written next.
