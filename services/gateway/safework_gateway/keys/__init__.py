"""Signing keys: generated on a fresh install, encrypted at rest, rotated with overlap, published as JWKS."""
