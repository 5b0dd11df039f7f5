"""Prompt templates newsbot ships: system, answer and passage (checked for their variables at start)."""
