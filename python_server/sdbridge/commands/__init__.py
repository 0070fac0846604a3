"""Subcommands of the `sdbridge` CLI, one module each."""
