"""Due tests: who is due which test, and when (seeds/000 §2.2-2.3)."""
