"""The BM25 index: per-part postings written by a streamed builder, combined at query time."""
