"""The `safework` command: starts the system, migrates, seeds, manages keys and clients."""
