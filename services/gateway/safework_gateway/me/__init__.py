"""The worker's app: own status, declarations, travels, check-ins and sync."""
