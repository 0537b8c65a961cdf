"""Syndicated copies: a wire story republished with small edits is grouped and cited once."""

from __future__ import annotations

import html
from pathlib import Path

import pytest

from qa import QA, build_index
from qa.ingest import read_corpus
from qa.ingest.article import Article
from qa.ingest.syndication import find_copies
from qa.web.render import citation_card
from tests.conftest import FakeEncoder

WIRE = [
    "LISBON (ENS) - Portugal's parliament approved a cap on annual rent increases on Thursday, limiting "
    "rises for existing tenants to 2 percent a year for the next three years, after a heated debate that "
    "ran late into the night.",
    "The measure passed by 118 votes to 104, with the Socialists and two smaller left-wing parties in "
    "favour and the centre-right opposition against. It applies to about 900,000 rental contracts.",
    "Housing minister Ana Costa said the cap would give families breathing room while new homes were "
    "built. Landlords' associations said they would challenge the law in the Constitutional Court.",
]
# The same story as a regional paper ran it: a few words changed, a local line added.
COPY = [
    WIRE[0].replace("on Thursday", "Thursday").replace("heated debate", "fierce debate"),
    WIRE[1].replace("about 900,000", "roughly 900,000"),
    WIRE[2],
    "In Porto, where rents rose fastest last year, tenant groups welcomed the vote.",
]
# Another outlet's own story about the same vote: the same facts in its own words.
OTHER = [
    "Lawmakers in Lisbon voted on Thursday to limit how much landlords may raise rents. Sitting tenants "
    "will see increases of no more than 2 percent annually until 2029 under the new law.",
    "The bill won 118 to 104. Supporters on the left said the country's housing crisis left no choice; the "
    "opposition warned that owners would take flats off the market.",
    "Property owners plan to ask the Constitutional Court to strike the law down, their federation said, "
    "while the government promised to speed up public housing construction.",
]


def _write(folder: Path, name: str, title: str, day: str | None, paragraphs: list[str]) -> None:
    head = f"---\ntitle: {title}\n" + (f"published: {day}\n" if day else "") + "---\n\n"
    (folder / name).write_text(head + "\n\n".join(paragraphs) + "\n", encoding="utf-8")


def _corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "wire"
    folder.mkdir(exist_ok=True)
    _write(folder, "ens-rent-cap.md", "Portugal caps rent rises", "2026-02-05", WIRE)
    _write(folder, "porto-daily-rent-cap.md", "Parliament caps rents", "2026-02-06", COPY)
    _write(folder, "lisbon-post-rent-law.md", "Lisbon limits rent increases", "2026-02-05", OTHER)
    _write(
        folder, "short.md", "Brief", None, ["Portugal's parliament approved a cap on annual rent increases."]
    )
    return folder


def test_an_edited_copy_is_grouped_and_another_outlets_story_is_not(tmp_path: Path) -> None:
    corpus = read_corpus(_corpus(tmp_path))
    assert find_copies(corpus.articles).original_of == {
        "porto-daily-rent-cap.md": "ens-rent-cap.md"
    }  # the earlier one leads


def test_the_original_is_the_earliest_dated(tmp_path: Path) -> None:
    folder = _corpus(tmp_path)
    _write(folder, "ens-rent-cap.md", "Portugal caps rent rises", "2026-02-07", WIRE)  # now the later one
    assert find_copies(read_corpus(folder).articles).original_of == {
        "ens-rent-cap.md": "porto-daily-rent-cap.md"
    }


def test_a_syndicated_paragraph_is_cited_once_naming_the_copies(
    tmp_path: Path, fake_encoder: FakeEncoder
) -> None:
    report = build_index(_corpus(tmp_path), "idx", encoder=fake_encoder, show_progress=False)
    assert report.syndicated == 1 and "1 syndicated copies" in report.summary()
    with QA.open("idx", encoder=fake_encoder) as qa:
        citations = qa.ask("By how much can rents rise each year for existing tenants?", top_k=5).citations
        stories = [c.article_id for c in citations]
        first = next(c for c in citations if c.article_id in ("ens-rent-cap.md", "porto-daily-rent-cap.md"))
        other = ({"ens-rent-cap.md", "porto-daily-rent-cap.md"} - {first.article_id}).pop()
        assert other in first.also_in
        card = html.unescape(citation_card(first, turn=0, cited=True))
        assert f"Also published in: {other}" in card
        shared = {1, 2, 3}  # the paragraphs both copies carry (the regional paper added a 4th)
        cited = {(c.article_id, c.paragraph) for c in citations}
        for paragraph in shared:  # each shared paragraph cited from one copy at most
            assert not {("ens-rent-cap.md", paragraph), ("porto-daily-rent-cap.md", paragraph)} <= cited
        assert "lisbon-post-rent-law.md" in stories  # a different outlet's own story still counts
    again = build_index(_corpus(tmp_path), "idx", encoder=fake_encoder, show_progress=False)
    assert again.up_to_date and again.syndicated == 1


def test_a_rebuild_reuses_the_signatures_of_unchanged_articles(
    tmp_path: Path, fake_encoder: FakeEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    import qa.ingest.syndication as syndication

    folder = _corpus(tmp_path)
    build_index(folder, "idx", encoder=fake_encoder, show_progress=False)
    computed: list[str] = []
    real = syndication._shingles

    def counting(article: Article) -> set[bytes]:
        computed.append(article.id)
        return real(article)

    monkeypatch.setattr(syndication, "_shingles", counting)
    _write(
        folder,
        "extra.md",
        "Ferry",
        None,
        ["The ferry now runs hourly between the islands, said the operator."],
    )
    report = build_index(folder, "idx", encoder=fake_encoder, show_progress=False)
    assert computed == ["extra.md"]  # only the new article was shingled
    assert report.syndicated == 1  # and the copies found from stored signatures are the same


def test_copy_groups_equal_datasketchs_lsh_with_the_same_check() -> None:
    """The array banding finds exactly the groups MinHashLSH candidates + MinHash.jaccard find."""
    import numpy as np
    from datasketch import MinHash, MinHashLSH

    import qa.ingest.syndication as syndication

    rng = np.random.default_rng(4)
    sources = rng.integers(0, 2**32, size=(40, syndication.PERMUTATIONS), dtype=np.uint64)
    rows = [sources[i] for i in range(40)]
    for i in range(160):  # copies of a source with some values redrawn: near and far ones
        copy = sources[i % 40].copy()
        redraw = rng.random(syndication.PERMUTATIONS) < rng.choice([0.2, 0.45, 0.55, 0.8])
        copy[redraw] = rng.integers(0, 2**32, size=int(redraw.sum()), dtype=np.uint64)
        rows.append(copy)
    signatures = np.stack(rows)

    lsh = MinHashLSH(threshold=syndication.COPY_THRESHOLD, num_perm=syndication.PERMUTATIONS)
    minhashes = [MinHash(hashvalues=row, scheme=syndication.SCHEME) for row in signatures]
    for i, m in enumerate(minhashes):
        lsh.insert(i, m)
    parent = list(range(len(rows)))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for i, m in enumerate(minhashes):
        for j in lsh.query(m):
            if j != i and m.jaccard(minhashes[j]) >= syndication.COPY_THRESHOLD:
                parent[root(j)] = root(i)
    expected: dict[int, list[int]] = {}
    for i in range(len(rows)):
        expected.setdefault(root(i), []).append(i)
    want = sorted(g for g in expected.values() if len(g) > 1)
    assert want and sorted(syndication._groups(signatures)) == want
    assert syndication._groups(signatures[:1]) == [] and syndication._groups(signatures[:0]) == []
