"""Persistence: the engine, sessions, typed models and Alembic migrations."""
