"""``highlight``: the scam-check page's text cut into plain and marked pieces."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from leaktrace.scam import check
from leaktrace.scam.rules import STAGE_LABELS
from leaktrace.server.dashboard import highlight

from .conftest import SCAM

LABELS = ["冒充身份", "借口", "转移平台", "共享屏幕"]

spans_st = st.lists(
    st.tuples(st.integers(-5, 45), st.integers(-5, 45), st.sampled_from(LABELS)), max_size=8
)
text_st = st.text(max_size=40)


def _expected_labels(text: str, spans: list[tuple[int, int, str]]) -> list[str | None]:
    """Per character: the label of the first span (in sorted order) that covers it."""
    ordered = sorted(spans)
    out: list[str | None] = []
    for i in range(len(text)):
        out.append(next((lab for s, e, lab in ordered if s <= i < e), None))
    return out


@given(text_st, spans_st)
def test_segments_rebuild_the_text(text: str, spans: list[tuple[int, int, str]]) -> None:
    segs = highlight(text, spans)
    assert "".join(s.text for s in segs) == text
    assert all(s.text for s in segs)  # no empty piece


@given(text_st, spans_st)
def test_marked_pieces_never_overlap_and_cover_exactly_the_spans(
    text: str, spans: list[tuple[int, int, str]]
) -> None:
    segs = highlight(text, spans)
    labels: list[str | None] = []
    covered: list[int] = []
    pos = 0
    for s in segs:
        labels += [s.stage] * len(s.text)
        if s.stage is not None:
            covered += range(pos, pos + len(s.text))
        pos += len(s.text)
    assert len(covered) == len(set(covered))  # no character is marked twice
    assert labels == _expected_labels(text, spans)
    # two plain pieces are never side by side (they would be one piece)
    for a, b in itertools.pairwise(segs):
        assert not (a.stage is None and b.stage is None)


@given(text_st)
def test_no_spans_is_one_plain_piece(text: str) -> None:
    segs = highlight(text, [])
    assert [(s.text, s.stage) for s in segs] == ([(text, None)] if text else [])


def test_spans_past_the_end_are_clipped() -> None:
    segs = highlight("骗子你好", [(2, 99, "借口"), (50, 60, "共享屏幕"), (-3, 1, "冒充身份")])
    assert [(s.text, s.stage) for s in segs] == [
        ("骗", "冒充身份"),
        ("子", None),
        ("你好", "借口"),
    ]


def test_the_detectors_cues_are_what_gets_marked() -> None:
    result = check([SCAM])[0]
    spans = [(h.start, h.end, STAGE_LABELS[h.stage]) for h in result.stages]
    assert spans  # the scam text has stages
    marked = [s.text for s in highlight(SCAM, spans) if s.stage is not None]
    assert marked == [h.cue for h in result.stages]
    assert any("屏幕共享" in m for m in marked)
