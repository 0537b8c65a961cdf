"""Regenerate examples/articles/wikipedia/ from the SQuAD v1.1 dev set (run once, by hand).

Usage: python examples/make_sample_corpus.py ../shared/evaldata/squad-dev-v1.1-tune.json
Each Wikipedia article becomes one .txt file: a title line, a blank line, then its paragraphs
in order separated by blank lines. Nothing in the package reads the dataset at run time.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

OUT = Path(__file__).parent / "articles" / "wikipedia"


def main(dataset: str) -> int:
    data = json.loads(Path(dataset).read_text(encoding="utf-8"))["data"]
    OUT.mkdir(parents=True, exist_ok=True)
    for article in data:
        title = article["title"].replace("_", " ")
        paragraphs = [re.sub(r"\n\s*\n", "\n", p["context"].strip()) for p in article["paragraphs"]]
        name = re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-").lower()
        (OUT / f"{name}.txt").write_text(title + "\n\n" + "\n\n".join(paragraphs) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
