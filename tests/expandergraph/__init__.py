"""Tests of the ``expandergraph`` modules."""
