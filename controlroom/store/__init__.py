"""Persistence: SQLAlchemy tables, the async engines, the group-commit journal writer, reads.

ORM/Core rows never leave this package: functions take and return domain models.
"""
