"""Text as the search sees it: terms for lexical matching (terms) and sentence spans (spans)."""
