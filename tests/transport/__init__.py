"""Tests of sdbridge.transport."""
