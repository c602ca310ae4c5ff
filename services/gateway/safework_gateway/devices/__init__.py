"""Workers' devices: activation codes, device tokens with rotating refresh, the single-app mandate."""
