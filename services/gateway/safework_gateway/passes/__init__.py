"""Gate passes: a signed cleared-to-work credential, its revocation, and the SMART Health Card."""
