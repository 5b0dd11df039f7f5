"""newsbot's front ends on top of ``retrieval``: the ``newsbot`` command line and the Discord bot.

- ``cli``: ``main``, the console script (every command, ``newsbot run`` included).
- The Discord bot: ``settings.BotSettings``; ``runner.run`` (what ``newsbot run`` starts);
  ``app.build_bot`` wires a bot from collaborators (tests and bench use it); ``cogs`` has one Cog
  per feature; ``render``, ``streaming`` and ``delivery`` turn answers into Discord messages.
"""
