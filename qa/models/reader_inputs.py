"""What the reader reads: a question and a passage as one token sequence.

Shared by training (train/reader.py) and the query path, so both cut and number tokens alike:
``[CLS] question [SEP] passage [SEP]`` with the question capped at ``MAX_QUESTION_TOKENS`` and the
passage cut to fit ``max_tokens``. A reader trained with titles reads ``title. passage`` as the
second segment (the title capped at ``MAX_TITLE_TOKENS``): a question often names what only the
article's title says ("Who led the expedition?"). Each passage token also knows which of the
passage's sentences it belongs to, so one pass scores the passage and every sentence in it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

MAX_QUESTION_TOKENS = 48
MAX_TITLE_TOKENS = 24
# A long passage is read in at most this many windows: the first reads what training read.
MAX_WINDOWS = 3


@dataclass(frozen=True)
class PairTokens:
    ids: list[int]
    type_ids: list[int]
    sentence_of_token: list[int]  # index into the passage's sentences, -1 for other tokens


class PairEncoder:
    def __init__(self, tokenizer_file: Path, max_tokens: int) -> None:
        from tokenizers import Tokenizer

        self.max_tokens = max_tokens
        self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        cls, sep = self._tokenizer.token_to_id("[CLS]"), self._tokenizer.token_to_id("[SEP]")
        if cls is None or sep is None:
            raise ValueError(f"{tokenizer_file} has no [CLS] or [SEP] token: not a BERT tokenizer")
        self._cls, self._sep = cls, sep

    def encode(
        self, question: str, passage: str, sentences: Sequence[tuple[int, int]], title: str = ""
    ) -> PairTokens:
        """``sentences``: character spans of ``passage`` (offsets into ``passage``). ``title``
        (none when empty) is read before the passage and belongs to no sentence. A passage too
        long to fit is cut (what training reads); :meth:`encode_windows` reads all of it."""
        return self.encode_windows(question, passage, sentences, title, max_windows=1)[0]

    def encode_windows(
        self,
        question: str,
        passage: str,
        sentences: Sequence[tuple[int, int]],
        title: str = "",
        max_windows: int = MAX_WINDOWS,
    ) -> list[PairTokens]:
        """The pair as :meth:`encode` makes it when the passage fits; else up to ``max_windows``
        pairs, each reading on from where the one before cut a sentence, from that sentence's
        start (a window starts mid-sentence only after a sentence longer than a whole window)."""
        asked = self._tokenizer.encode(question, add_special_tokens=False).ids[:MAX_QUESTION_TOKENS]
        named = title.strip()
        heading = (
            self._tokenizer.encode(f"{named}.", add_special_tokens=False).ids[:MAX_TITLE_TOKENS]
            if named
            else []
        )
        room = max(self.max_tokens - len(asked) - len(heading) - 3, 1)
        read = self._tokenizer.encode(passage, add_special_tokens=False)
        owners = _owners(read.offsets, sentences)
        # Where each sentence's first token is: the places a window may start.
        starts = [i for i in range(1, len(owners)) if owners[i] >= 0 and owners[i] != owners[i - 1]]
        pairs: list[PairTokens] = []
        begin = 0
        while len(pairs) < max_windows:
            end = min(begin + room, len(owners))
            pairs.append(self._pair(asked, heading, read.ids[begin:end], owners[begin:end]))
            if end >= len(owners):
                break
            cut = [i for i in starts if begin < i <= end]
            begin = cut[-1] if cut else end
        return pairs

    def _pair(self, asked: list[int], heading: list[int], ids: list[int], owners: list[int]) -> PairTokens:
        pair = [self._cls, *asked, self._sep, *heading, *ids, self._sep]
        type_ids = [0] * (len(asked) + 2) + [1] * (len(pair) - len(asked) - 2)
        return PairTokens(pair, type_ids, [-1] * (len(asked) + 2 + len(heading)) + owners + [-1])


def _owners(offsets: Sequence[tuple[int, int]], sentences: Sequence[tuple[int, int]]) -> list[int]:
    """The sentence each token (by its character offsets) belongs to, -1 for none."""
    owners: list[int] = []
    number = 0
    for start, end in offsets:
        middle = (start + end) // 2 if end > start else start
        while number < len(sentences) and middle >= sentences[number][1]:
            number += 1
        inside = number < len(sentences) and sentences[number][0] <= middle
        owners.append(number if inside else -1)
    return owners
