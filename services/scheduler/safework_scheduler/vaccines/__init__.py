"""The vaccine priority queue and the capacity plan (seeds/000 §2.1, seeds/003)."""
