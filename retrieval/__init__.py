"""newsbot's core: articles in, cited answers out. Nothing here imports Discord, rich or argparse.

The pipeline, one subpackage per step::

    text/     tokens, terms and sentences; Article -> Chunks (chunk_article)
    ingest/   files, pasted text and URLs -> Articles; Ingestor embeds and stores their chunks
    embed/    Embedder: text -> vectors (MiniLM on ONNX, or OpenAI's)
    store/    ChromaStore (chunks + vectors, one collection per library) and the BM25 keyword index
    search/   Searcher: vector + keyword candidates, fused, re-ranked -> ranked Passages
    answer/   Answerer: Passages -> a cited Answer (LLM with retries, or extractive), streamed as events
    eval/     MultiHop-RAG retrieval metrics and their report, as data

``models`` (Article, Chunk, Passage, Answer …), ``errors`` and ``settings`` sit below every step;
``service.NewsService`` is the one facade the command line and the bot use; ``components`` builds
its parts from the settings.
"""
