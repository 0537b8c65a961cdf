"""The neural parts: the ``Encoder`` protocol and the sentence-transformers encoder (``embed``),
and the model's forward pass in NumPy for questions (``numpy_encoder``)."""
