"""Canary rows' pool mailboxes name their release, as their phone numbers do (session 27).

Before, a canary's e-mail was drawn from ``[canary_pool] emails`` with no reservation and
recorded nowhere: two releases shared mailboxes, and a mail to one was a "pool" hit that
named no one. Now each mailbox is reserved like a number, goes into one canary of one
release, and is recorded as a second (``email``) token of that canary.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from sqlalchemy import text

import leaktrace.release as release_module
from leaktrace.attribution.evidence import _canary_counts
from leaktrace.attribution.hits import resolve_contact
from leaktrace.ledger import Ledger
from leaktrace.release import release
from leaktrace.synth import generate_orders
from leaktrace.workspace import Workspace, add_recipient, init_workspace

BOXES = [f"c{i:04d}@canary.example.cn" for i in range(400)]


@pytest.fixture(scope="module")
def shop() -> pl.DataFrame:
    # more e-mails than the synthetic shop's share, so that canaries carry many
    orders = generate_orders(6000, seed=5)
    mail = pl.Series([f"u{i}@qq.com" for i in range(orders.height)])
    return orders.with_columns(
        email=pl.when(pl.int_range(pl.len()) % 3 > 0).then(mail).otherwise(None)
    )


def _workspace(home: Path, boxes: list[str]) -> Workspace:
    ws = init_workspace(home)
    ws.config.canary_pool.emails = boxes
    add_recipient(ws, "cs", template="customer-service")
    add_recipient(ws, "zto", template="courier", where="courier = '中通快递'")
    for name in ("customer-service", "courier"):
        ws.config.policies[name].fields["email"] = "keep"
    return ws


def _mail_tokens(ws: Workspace) -> list[dict[str, str]]:
    return [t for t in Ledger(ws).canary_tokens() if t["kind"] == "email"]


def test_each_canary_mailbox_is_recorded_once_and_verifies(
    tmp_path: Path, shop: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(release_module, "BATCH_ROWS", 1000)  # several batches, each reserving
    ws = _workspace(tmp_path / "ws", BOXES)
    a = release(shop, recipient="cs", workspace=ws, out=tmp_path / "cs.csv")
    b = release(shop, recipient="zto", workspace=ws, out=tmp_path / "zto.csv")
    tokens = Ledger(ws).canary_tokens()
    mails = [t for t in tokens if t["kind"] == "email"]
    # every mailbox at most once over both releases, and each a canary of the record
    assert len(mails) > 20
    assert len({t["contact"] for t in mails}) == len(mails)
    for res, out in ((a, tmp_path / "cs.csv"), (b, tmp_path / "zto.csv")):
        mine = [t for t in tokens if t["release_id"] == res.entry.release_id]
        assert sum(t["kind"] == "phone" for t in mine) == res.canaries == res.entry.canaries
        rows = {t["anchor"] for t in mine if t["kind"] == "phone"}
        assert {t["anchor"] for t in mine if t["kind"] == "email"} <= rows
        # the copy carries exactly the recorded mailboxes, each in one row
        sent = pl.read_csv(out, infer_schema=False).get_column("email")
        in_pool = [e for e in sent.drop_nulls().to_list() if e in set(BOXES)]
        assert sorted(in_pool) == sorted(t["contact"] for t in mine if t["kind"] == "email")
        # canaries carry mailboxes at about the real rows' rate (2/3 here), not all or none
        assert 0.4 < len(in_pool) / res.canaries < 0.9, (len(in_pool), res.canaries)
    assert Ledger(ws).verify().ok
    assert Ledger(ws).canary_reservations() == []  # the unused ones were freed


def test_a_mail_to_a_canary_mailbox_names_its_release(tmp_path: Path, shop: pl.DataFrame) -> None:
    ws = _workspace(tmp_path / "ws", BOXES)
    res = release(shop, recipient="cs", workspace=ws, out=tmp_path / "cs.csv")
    box = _mail_tokens(ws)[0]["contact"]
    status, recipient, release_id, _ = resolve_contact(ws, box.upper())
    assert (status, recipient, release_id) == ("canary", "cs", res.entry.release_id)
    unused = next(b for b in BOXES if b not in {t["contact"] for t in _mail_tokens(ws)})
    assert resolve_contact(ws, unused)[0] == "pool"


def test_a_short_mailbox_pool_leaves_later_canaries_without_one(
    tmp_path: Path, shop: pl.DataFrame
) -> None:
    """Mailboxes run out quietly (a canary without an e-mail is like a shopper without
    one); numbers running out is an error, since a canary needs its number."""
    ws = _workspace(tmp_path / "ws", BOXES[:6])
    release(shop, recipient="cs", workspace=ws, out=tmp_path / "a.csv")
    release(shop, recipient="cs", workspace=ws, out=tmp_path / "b.csv")
    release(shop, recipient="cs", workspace=ws, out=tmp_path / "c.csv")
    used = [t["contact"] for t in _mail_tokens(ws)]
    assert len(used) == len(set(used)) == 6
    assert Ledger(ws).verify().ok


def test_a_pool_listing_a_mailbox_twice_gives_it_out_once(
    tmp_path: Path, shop: pl.DataFrame
) -> None:
    ws = _workspace(tmp_path / "ws", [" A@canary.example.cn", "a@canary.example.cn", *BOXES[:1]])
    release(shop, recipient="cs", workspace=ws, out=tmp_path / "a.csv")
    release(shop, recipient="cs", workspace=ws, out=tmp_path / "b.csv")
    keys = [t["contact"].lower() for t in _mail_tokens(ws)]
    assert len(keys) == len(set(keys)) == 2


def test_filtered_copies_give_no_mailbox_twice(
    tmp_path: Path, shop: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The where filter redraws canaries (and, for filters on other columns, draws many and
    gives the survivors mailboxes afterwards): both from the batch's reserved mailboxes
    that no kept canary has."""
    monkeypatch.setattr(release_module, "BATCH_ROWS", 1500)
    ws = _workspace(tmp_path / "ws", BOXES)
    add_recipient(
        ws, "odd", template="customer-service", where="cast(substr(order_id, 12, 3) as int) % 7 = 3"
    )
    ws.config.policies["customer-service"].fields["email"] = "keep"
    for who in ("zto", "odd"):
        release(shop, recipient=who, workspace=ws, out=tmp_path / f"{who}.csv")
    counts = Counter(t["contact"] for t in _mail_tokens(ws))
    assert counts and max(counts.values()) == 1
    assert {t["recipient"] for t in _mail_tokens(ws)} == {"zto", "odd"}
    assert Ledger(ws).verify().ok


def test_verify_catches_a_mail_token_altered_or_added(tmp_path: Path, shop: pl.DataFrame) -> None:
    ws = _workspace(tmp_path / "ws", BOXES)
    release(shop, recipient="cs", workspace=ws, out=tmp_path / "cs.csv")
    ledger = Ledger(ws)
    box = _mail_tokens(ws)[0]["contact"]
    with ledger.engine.begin() as conn:
        conn.execute(
            text("UPDATE canary_tokens SET contact = :new WHERE contact = :old"),
            {"new": BOXES[-1], "old": box},
        )
    bad = ledger.verify()
    assert not bad.ok and "altered" in " ".join(bad.problems)
    with ledger.engine.begin() as conn:
        conn.execute(
            text("UPDATE canary_tokens SET contact = :old WHERE contact = :new"),
            {"new": BOXES[-1], "old": box},
        )
        conn.execute(
            text(
                "INSERT INTO canary_tokens (release_id, recipient, anchor, kind, contact) "
                "SELECT release_id, recipient, 'ffffffffffffffff', 'email', :c "
                "FROM canary_tokens LIMIT 1"
            ),
            {"c": BOXES[-2]},
        )
    bad = ledger.verify()
    assert not bad.ok and "names no canary row" in " ".join(bad.problems)


def test_reserved_mailboxes_are_not_free_for_the_hit_test(tmp_path: Path) -> None:
    """A mailbox held by a running (or crashed) release is not a free one: counting it
    free would make a hit on a recipient's mailbox look rarer by chance than it is."""
    ws = _workspace(tmp_path / "ws", BOXES[:50])
    ledger = Ledger(ws)
    before = _canary_counts(ws, ledger, [])[1]["mailbox"]
    got = ledger.reserve_canary_contacts("rel-running", BOXES[:50], 0, np.random.default_rng(1), 20)
    assert len(got) == 20
    assert _canary_counts(ws, ledger, [])[1]["mailbox"] == before - 20
    assert ledger.canary_reservations()[0]["mailboxes"] == 20
