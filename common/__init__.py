"""Shared code of the receipt pipeline: one concept per module, no module knows a function."""
