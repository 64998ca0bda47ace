"""Encryption at rest, the one place content is read, audit, data rights and retention."""
