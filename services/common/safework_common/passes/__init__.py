"""The gate pass as a verifier sees it: embeddable, needs only the JWKS and a revocation list."""
