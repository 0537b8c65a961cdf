"""What an index keeps on disk: generations and ``CURRENT`` (``generations``), a generation opened
and checked (``generation``), the typed manifest, the SQLite store (``store``, ``store_writer``,
``rows``) and the file-signature cache; ``vectors/`` (FAISS, Milvus, codec, segments, parts) and
``lexical/`` (BM25) beneath them."""
