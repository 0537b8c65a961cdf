from __future__ import annotations

import hashlib
import math
import os
import re
import shutil
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from qa.models.embed import Vectors
from qa.models.reader import Calibration, Passages, Reading

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

ROOT = Path(__file__).resolve().parent.parent
# bench/common.py, the helpers the benches and the tests share (milvus-lite, free ports), imports as
# ``common`` as it does in the bench scripts; appended, so bench/ shadows nothing (app.py stays ROOT's).
sys.path.append(str(ROOT / "bench"))
EXAMPLES = ROOT / "examples" / "articles"
SEED = EXAMPLES / "news" / "russia-reaffirms-bakhmut-push.txt"


class FakeEncoder:
    """Deterministic bag-of-words encoder: each word lands in a dimension chosen by sha256.

    Texts that share words get a high cosine, so retrieval behaves sensibly in unit tests
    without loading a model.
    """

    name = "fake-bow"
    dim = 64

    def __init__(self) -> None:
        self.calls = 0
        self.texts_encoded = 0

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> Vectors:
        self.calls += 1
        self.texts_encoded += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                digest = hashlib.sha256(word.encode()).digest()
                out[row, digest[0] % self.dim] += 1.0 if digest[1] % 2 else -1.0
            norm = np.linalg.norm(out[row])
            out[row] = out[row] / norm if norm else np.eye(1, self.dim, 0)
        return out


@pytest.fixture
def fake_encoder() -> FakeEncoder:
    return FakeEncoder()


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test works in its own temp dir; no test can touch ./index or another's files."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("QA_INDEX", raising=False)


@pytest.fixture
def articles(tmp_path: Path) -> Path:
    """A small corpus: the seed news article and three short articles of our own."""
    folder = tmp_path / "articles"
    (folder / "news").mkdir(parents=True)
    shutil.copy(SEED, folder / "news" / SEED.name)
    (folder / "news" / "harbour.txt").write_text(
        "Harbour bridge reopens\n\n"
        "The harbour bridge reopened on Friday after two years of repairs costing 40 million euros.\n\n"
        "Engineers replaced the steel cables and repainted the towers in the original grey.\n\n"
        "Subscribe to our newsletter for more local news.\n",
        encoding="utf-8",
    )
    (folder / "science.md").write_text(
        "---\ntitle: Comet seen over Lapland\nurl: https://example.org/comet\n"
        "published: 2024-01-05\nbyline: A. Writer\n---\n\n"
        "# Comet seen over Lapland\n\n"
        "Astronomers in Lapland photographed a green comet on Thursday night.\n\n"
        "The comet will return in fifty thousand years, they said.\n",
        encoding="utf-8",
    )
    (folder / "feed.jsonl").write_text(
        '{"id": "bees", "title": "Bees return to the city park", '
        '"text": "Beekeepers counted twelve new hives in the city park this spring.\\n\\n'
        'The council planted clover to feed them."}\n',
        encoding="utf-8",
    )
    return folder


class WordReader:
    """A stand-in reader: a passage answers when it shares a long word with the question."""

    calibration = Calibration(abstain_below=0.5, reader_weight=1.0, read_pool=4, reader_version="test")

    def __init__(self) -> None:
        self.titles: list[str] = []  # the titles it was given, every passage read

    def read(self, question: str, passages: Passages, titles: Sequence[str] | None = None) -> list[Reading]:
        self.titles.extend(titles or [])
        words = {w.strip("?.,").lower() for w in question.split() if len(w) > 5}
        readings = []
        for text, spans in passages:
            logit = 3.0 if any(w in text.lower() for w in words) else -3.0
            readings.append(Reading(logit, 1.0 / (1.0 + math.exp(-logit)), tuple(0.0 for _ in spans)))
        return readings


# The fake encoder's cosines run lower than a real model's; abstain below this with it.
FAKE_ABSTAIN = 0.4


@pytest.fixture(scope="session")
def real_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample corpus indexed with the real model, once per test session (slow)."""
    from qa import build_index

    index = tmp_path_factory.mktemp("real") / "index"
    build_index(EXAMPLES, index, show_progress=False)
    return index


@pytest.fixture(scope="session")
def app_url(real_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real app.py serving ``real_index`` on 127.0.0.1, once per session (slow)."""
    from tests.servers import running_app

    with running_app(real_index, tmp_path_factory.mktemp("server")) as url:
        yield url
