"""Sharded runs use the session operator and `world` of tests/integration/conftest.py."""
