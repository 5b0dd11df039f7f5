"""newsbot's core: ingest articles, store them in Chroma, search them and answer with citations.

Nothing in this package imports Discord; the bot in ``bot/`` is built on top of it.
"""
