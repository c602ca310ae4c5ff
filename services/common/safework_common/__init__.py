"""What every Safework service shares: settings base, error envelope, internal auth, logging, request IDs."""
