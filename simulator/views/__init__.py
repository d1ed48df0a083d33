"""Textual-free view models: lesson steps, the inspector's rows and conversations, handouts."""
