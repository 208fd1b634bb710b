"""Pytest fixtures shared by every test package."""
