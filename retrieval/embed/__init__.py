"""Text -> vectors.

- ``base``: the ``Embedder`` interface.
- ``minilm``: ``MiniLMEmbedder`` (all-MiniLM-L6-v2 on ONNX, the same vectors as Chroma's) and
  ``resolve_model_dir``.
- ``openai_embedder``: ``OpenAIEmbedder``.
- ``background``: ``LowPriorityEmbedder`` (article embedding in a low-priority thread);
  ``priority``: ``lower_thread_priority``.
"""
