"""newsbot's Discord bot: slash commands, mentions and follow-ups on top of ``retrieval``.

Entry point: ``bot.runner.run(settings)`` (used by ``newsbot run``); ``bot.app.build_bot`` wires
a bot from collaborators for tests and embedding.
"""
