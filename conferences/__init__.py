"""Statutory councils' work: case meetings, their records and the support plans they make."""
