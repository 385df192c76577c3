"""Pydantic models and enums shared by every layer. Nothing here does I/O."""
