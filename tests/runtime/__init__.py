"""Tests of sdbridge.runtime."""
