"""`safework seed`: a synthetic province (Bắc Giang, 2021), reproducible from a seed, loaded with
COPY. Seeded data is for demos and benchmarks only: its national-ID ciphertexts use
deterministic nonces so that the same seed gives byte-identical rows."""

from safework_cli.seed.load import RegistryNotEmpty, seed_province
from safework_cli.seed.province import DEFAULT_AS_OF

__all__ = ["DEFAULT_AS_OF", "RegistryNotEmpty", "seed_province"]
