"""SQLAlchemy models, persistence functions and migrations. Built by a later issue."""
