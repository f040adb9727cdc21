"""``customers_among`` (is a pool number also a real customer's phone in some release?)
against a plain reference: for each release, its own index file's rows that are not
canaries (``is_canary`` false), under its own key version.

Session 15 replaced one DuckDB join per key version by one Polars scan per version run
together (bench/customer_hits.py). The property test writes random index files at the
paths a real ledger names (two releases under key version 1, two under version 2):
random customers, canary flags (null too), null customers, a digest under the other
version, extra columns and another column order; and asks random contacts written in
several forms."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import make_workspace
from leaktrace.attribution.hits import customers_among
from leaktrace.attribution.reports import customer_digest, normalise_phone_str
from leaktrace.errors import LedgerIntegrityError
from leaktrace.ledger import Ledger
from leaktrace.release import release
from leaktrace.workspace import Workspace, open_workspace

PHONES = [f"1380013{i:04d}" for i in range(12)]
Row = tuple[str | None, bool | None, bool]  # phone, is_canary, digest under the other version


def reference(ws: Workspace, contacts: list[str]) -> set[str]:
    """Each release's file read whole; a contact counts when its phone's digest under that
    release's key version is the customer of a row that is not a canary."""
    found = set()
    for e in Ledger(ws).entries():
        t = pq.read_table(ws.home / e.index_file).to_pylist()
        real = {r["customer"] for r in t if r["is_canary"] is False and r["customer"] is not None}
        for c in contacts:
            p = normalise_phone_str(c)
            if p is not None and customer_digest(ws, p, e.key_version) in real:
                found.add(c)
    return found


def written(phone: str, form: int) -> str:
    return [phone, f"+86 {phone}", f"0086{phone}", f"{phone[:3]}-{phone[3:7]}-{phone[7:]}"][form]


@pytest.fixture(scope="module")
def two_versions(
    tmp_path_factory: pytest.TempPathFactory, shop: pl.DataFrame
) -> Iterator[tuple[Workspace, dict[str, bytes]]]:
    """Four real releases (two per key version); the index files' bytes kept to put back."""
    ws = make_workspace(tmp_path_factory.mktemp("among") / "ws")
    small = shop.head(200)
    for r in ("zto", "cs-firm"):
        release(small, recipient=r, workspace=ws)
    ws.keys.rotate()
    ws = open_workspace(ws.home)
    for r in ("yto", "sms"):
        release(small, recipient=r, workspace=ws)
    entries = Ledger(ws).entries()
    assert [e.key_version for e in entries] == [1, 1, 2, 2]
    yield ws, {e.index_file: (ws.home / e.index_file).read_bytes() for e in entries}


@pytest.fixture
def ws(two_versions: tuple[Workspace, dict[str, bytes]]) -> Iterator[Workspace]:
    ws, originals = two_versions
    yield ws
    for name, data in originals.items():
        (ws.home / name).write_bytes(data)


row = st.tuples(
    st.sampled_from([*PHONES, None]),  # None: a row without a phone
    st.sampled_from([True, False, None]),  # is_canary, null too
    st.booleans(),  # digest under the other key version (must not match)
)
index_file = st.tuples(
    st.lists(row, min_size=0, max_size=15),
    st.booleans(),  # extra columns, customer not first
)


def write_index(ws: Workspace, path: Path, version: int, rows: list[Row], shuffled: bool) -> None:
    other = 2 if version == 1 else 1
    customers = [
        None if p is None else customer_digest(ws, p, other if cross else version)
        for p, _, cross in rows
    ]
    cols = {
        "customer": pa.array(customers, pa.uint64()),
        "is_canary": pa.array([c for _, c, _ in rows], pa.bool_()),
    }
    if shuffled:
        cols = {
            "is_canary": cols["is_canary"],
            "note": pa.array(["x"] * len(rows), pa.string()),
            "customer": cols["customer"],
            "order_day": pa.array([None] * len(rows), pa.date32()),
        }
    pq.write_table(pa.table(cols), path)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    files=st.lists(index_file, min_size=4, max_size=4),
    asked=st.lists(st.tuples(st.sampled_from(PHONES), st.integers(0, 3)), min_size=0, max_size=10),
    others=st.lists(st.sampled_from(["", "abc", "zhang@example.com", "12345", "17090000000"])),
)
def test_same_set_as_the_reference_on_random_ledgers(
    ws: Workspace,
    files: list[tuple[list[Row], bool]],
    asked: list[tuple[str, int]],
    others: list[str],
) -> None:
    for e, (rows, shuffled) in zip(Ledger(ws).entries(), files, strict=True):
        write_index(ws, ws.home / e.index_file, e.key_version, rows, shuffled)
    contacts = [written(p, form) for p, form in asked] + others
    assert customers_among(ws, contacts) == reference(ws, contacts)


def test_real_releases_customers_but_not_canaries_under_either_key_version(
    ws: Workspace, shop: pl.DataFrame
) -> None:
    phones = shop.head(200).get_column("phone").unique().sort().to_list()[:5]
    canaries = [t["contact"] for t in Ledger(ws).canary_tokens()][:5]
    contacts = [*phones, f"+86 {phones[0]}", *canaries, "13800000000"]
    got = customers_among(ws, contacts)
    assert got == reference(ws, contacts)
    assert got == {*phones, f"+86 {phones[0]}"}  # both forms of one phone


def test_a_missing_index_file_is_a_ledger_error_not_a_crash(ws: Workspace) -> None:
    e = Ledger(ws).entries()[-1]
    (ws.home / e.index_file).unlink()
    with pytest.raises(LedgerIntegrityError, match="leaktrace verify"):
        customers_among(ws, [PHONES[0]])


def test_nothing_to_ask_reads_nothing(ws: Workspace) -> None:
    assert customers_among(ws, []) == set()
    assert customers_among(ws, ["zhang@example.com", "abc"]) == set()


def test_a_push_naming_one_customers_number_two_ways_records_both_as_customer(
    tmp_path: Path, shop: pl.DataFrame
) -> None:
    """A pool typed wrong (it holds the shop's customers' phones), so the canary numbers
    issued are customers' phones; a push has one of them as ``+86 …`` and as the bare
    number. Before session 15 one digest kept one of the two spellings, and the other was
    recorded as a canary hit naming the recipient."""
    from leaktrace.telecom import ingest
    from leaktrace.workspace import add_recipient, init_workspace

    small = shop.head(200)
    ws = init_workspace(
        tmp_path / "ws", canary_phones=small.get_column("phone").unique().sort().to_list()
    )
    add_recipient(ws, "zto", template="courier")
    release(small, recipient="zto", workspace=ws)
    number = Ledger(ws).canary_tokens()[0]["contact"]
    records = [
        {"id": f"r{i}", "at": "2026-11-29 14:20:05", "channel": "call", "to": to}
        for i, to in enumerate([number, f"+86 {number}"])
    ]
    res = ingest(ws, "local", records)
    assert [(h.status, h.recipient) for h in res.hits] == [("customer", "")] * 2
