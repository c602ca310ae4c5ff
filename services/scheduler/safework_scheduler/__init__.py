"""The scheduler: who is due which test and when, and who gets the next vaccine dose."""
