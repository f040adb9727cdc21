"""loads_json: every way user JSON text can fail is one InputError naming where, never a
traceback — including valid JSON Python refuses to build (huge integers, deep nesting)."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leaktrace.errors import InputError
from leaktrace.io.jsontext import NOT_JSON, JsonTextError, loads_json

WHERE = "leak.jsonl: line 7"
SECRET = "13812345678"
DIGITS = sys.get_int_max_str_digits()


@pytest.mark.parametrize(
    ("text", "reason", "malformed"),
    [
        (f'{{"phone": {SECRET}', NOT_JSON, True),
        ("", NOT_JSON, True),
        (f'{{"phone": "{SECRET}"}} trailing', NOT_JSON, True),
        ("1" + "0" * DIGITS, f"more than {DIGITS} digits", False),
        (f'{{"victim_phone": -{"9" * (DIGITS + 700)}}}', f"more than {DIGITS} digits", False),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply", False),
        ('{"a":' * 50_000 + "1" + "}" * 50_000, "nested too deeply", False),
        (f'[{{"x": "{SECRET}", "y": ' + "[" * 20_000, "nested too deeply", False),
    ],
    ids=["unclosed", "empty", "trailing", "int-4301", "int-neg", "arrays", "objects", "open"],
)
def test_hostile_and_malformed_json(text: str, reason: str, malformed: bool) -> None:
    with pytest.raises(InputError) as info:
        loads_json(text, WHERE)
    exc = info.value
    assert isinstance(exc, JsonTextError) and exc.malformed is malformed
    msg = str(exc)
    assert msg.startswith(f"{WHERE}: ") and reason in msg
    assert "\n" not in msg and SECRET not in msg and len(msg) < 200


def test_the_limits_themselves_still_parse() -> None:
    """Refusing is only for what Python cannot build: the largest integer and a modest
    nesting depth are read as before."""
    assert loads_json("9" * DIGITS, "x") == int("9" * DIGITS)
    assert loads_json("[" * 200 + "]" * 200, "x") is not None
    assert loads_json(b'{"a": [1, 2.5, null, true]}', "x") == {"a": [1, 2.5, None, True]}


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(_json_values)
def test_round_trips_ordinary_json(value: Any) -> None:
    assert loads_json(json.dumps(value, ensure_ascii=False), "x") == value


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(max_size=200),
        st.text(alphabet='[]{}:,"0123456789-.eE tfnul', max_size=200),
        st.tuples(st.integers(0, 3000), st.sampled_from("[{")).map(
            lambda t: t[1] * t[0] + ("]" if t[1] == "[" else "}") * t[0]
        ),
        st.integers(DIGITS - 2, DIGITS + 50).map(lambda n: "7" * n),
    )
)
def test_never_raises_anything_but_input_error(text: str) -> None:
    try:
        loads_json(text, WHERE)
    except JsonTextError as exc:
        assert str(exc).startswith(f"{WHERE}: ") and "\n" not in str(exc)
