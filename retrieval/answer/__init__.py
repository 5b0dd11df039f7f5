"""Ranked Passages -> a cited Answer, streamed as events.

- ``answerer``: ``Answerer.stream`` and its events (``AnswerStatus`` with a ``Stage``,
  ``AnswerDelta``, ``AnswerReset``, ``AnswerDone``).
- ``prompts``: ``PromptSet`` (the templates in ``prompts/``, article text kept inert).
- ``llm``: the ``ChatModel`` interface and ``stream_with_retries``; ``openai_chat``: ``OpenAIChatModel``.
- ``citations``: numbering sources and checking the model's ``[n]`` markers (``NOT_FOUND``).
- ``extractive``: ``extractive_answer``, the answer without a language model.
"""
