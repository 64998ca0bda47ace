"""Test doubles and real-server helpers shared by test packages."""
