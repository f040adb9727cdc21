"""Key bytes never format themselves (secrets audit: ``str()`` of a digest key printed it)."""

from __future__ import annotations

import dataclasses
import json
import pickle

import pytest

from leaktrace.digest import SipKey
from leaktrace.secret import SecretKey
from leaktrace.workspace import Workspace


@pytest.mark.parametrize("purpose", ["index", "anchor", "alias", "canary", "mark/timestamp/x"])
def test_derived_keys_never_print_their_bytes(workspace: Workspace, purpose: str) -> None:
    key = workspace.keys.derive(purpose)
    assert isinstance(key, SecretKey)
    raw = bytes(key)
    shown = [
        repr(key),
        str(key),
        f"{key}",
        f"{key!s}",
        f"{key:>80}",
        "%s" % (key,),  # noqa: UP031  # the old formatting path too
        json.dumps({"k": key}, default=str),
        repr(dataclasses.asdict(workspace.keys.master())),
    ]
    for text in shown:
        assert "<hidden>" in text
        assert raw.hex() not in text and repr(raw)[2:-1] not in text
    again = pickle.loads(pickle.dumps(key))
    assert again == key and type(again) is type(key)


def test_a_secret_key_is_still_bytes_for_the_code_that_uses_it() -> None:
    import hashlib
    import hmac

    k = SecretKey(b"k" * 32)
    assert (
        hmac.new(k, b"m", hashlib.sha256).digest() == hmac.new(b"k" * 32, b"m", "sha256").digest()
    )
    assert SipKey(b"s" * 16).scheme == "siphash-2-4" and isinstance(SipKey(b"s" * 16), SecretKey)
