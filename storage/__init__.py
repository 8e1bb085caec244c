"""Everything the bot remembers: SQLModel tables, Alembic migrations and keyword-only queries.

Nothing here imports from `bot` or `handlers`, and no engine is created at import time.
"""
