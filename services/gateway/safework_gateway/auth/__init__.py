"""Public tokens: issue and verify (RFC 7519, RFC 8725), who may call what, rate limits."""
