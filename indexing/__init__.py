"""Indexing layer: decode videos, cut them into clips, give each clip text, embed and store it."""
