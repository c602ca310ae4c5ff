"""Routes the gateway forwards to the registry and the scheduler, with their roles and scope."""
