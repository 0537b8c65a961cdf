"""Vectors on disk and in servers: the FAISS and Milvus indexes, the int8 record codec, the shared
vector segments, a generation's parts searched as one, and vectors read locally beside Milvus."""
