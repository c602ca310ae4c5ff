"""Compliance: the single-app mandate, tests and doses (seeds/000 §2.1-2.4)."""
