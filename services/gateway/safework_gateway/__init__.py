"""The gateway: the one public door. Authenticates, authorizes, forwards."""
