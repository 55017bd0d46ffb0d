"""Plumbing shared by the project's management commands."""
