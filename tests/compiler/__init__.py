"""Tests of the ``compiler`` modules."""
