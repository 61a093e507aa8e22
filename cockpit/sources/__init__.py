"""Sources: each polls or tails one thing and yields model objects."""
