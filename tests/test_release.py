"""Release end to end: policies, masking, marks, aliases, canaries, atomicity, CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from conftest import run_cli
from leaktrace.alias import resolve_alias
from leaktrace.errors import InputError, MissingColumnError, PolicyError, UnknownRecipientError
from leaktrace.io import read_table
from leaktrace.io.checksum import file_sha256
from leaktrace.ledger import Ledger
from leaktrace.release import release
from leaktrace.workspace import Workspace, open_workspace


def test_courier_gets_only_its_shipments_masked_and_marked(
    workspace: Workspace, shop: pl.DataFrame, tmp_path: Path
) -> None:
    res = release(shop, recipient="zto", workspace=workspace, out=tmp_path / "zto.parquet")
    out = pl.read_parquet(tmp_path / "zto.parquet")
    n_zto = shop.filter(pl.col("courier") == "中通快递").height
    assert res.canaries >= 3
    assert out.height == n_zto + res.canaries == res.rows
    assert out.columns == [
        "order_id",
        "order_time",
        "name",
        "phone",
        "address",
        "product",
        "quantity",
    ]
    # names masked (张*), phones kept for delivery, order numbers aliased
    assert out.get_column("name").str.contains(r"\*").all()
    assert not out.get_column("order_id").is_in(shop.get_column("order_id").implode()).any()
    assert out.get_column("order_id").str.len_chars().is_in([16, 17, 18, 19]).all()


def test_customer_service_sees_masked_phone_and_district(
    workspace: Workspace, shop: pl.DataFrame, tmp_path: Path
) -> None:
    release(shop, recipient="cs-firm", workspace=workspace, out=tmp_path / "cs.csv")
    out = read_table(tmp_path / "cs.csv")
    assert out.get_column("phone").str.contains(r"^1\d\d\*{4}\d{4}$").all()
    assert not out.get_column("address").str.contains("号").any()


def test_two_recipients_copies_differ_in_marks(
    workspace: Workspace, shop: pl.DataFrame, tmp_path: Path
) -> None:
    a = release(shop, recipient="cs-firm", workspace=workspace).frame
    workspace.config.recipients["cs2"] = workspace.config.recipients["cs-firm"].model_copy()
    b = release(shop, recipient="cs2", workspace=workspace).frame
    assert a is not None and b is not None
    secs_a = a.get_column("order_time").dt.second()
    secs_b = b.get_column("order_time").dt.second()
    assert (secs_a != secs_b).mean() > 0.9  # type: ignore[operator]


def test_alias_resolves_back(workspace: Workspace, shop: pl.DataFrame, tmp_path: Path) -> None:
    release(shop, recipient="zto", workspace=workspace, out=tmp_path / "zto.parquet")
    out = pl.read_parquet(tmp_path / "zto.parquet")
    real = set(shop.get_column("order_id").to_list())
    for alias in out.get_column("order_id").head(20).to_list():
        order_id, version = resolve_alias(workspace, alias, "zto")
        assert version == 1
        # canaries resolve to synthetic ids; real rows to the platform's order ids
        assert order_id in real or len(order_id) == len(alias)
    with pytest.raises(InputError):
        resolve_alias(workspace, "1" * 18, "zto")


def test_the_analysts_resolve_says_when_an_alias_is_a_canarys(
    workspace: Workspace, shop: pl.DataFrame, tmp_path: Path
) -> None:
    """A canary's alias resolved to an order number that exists nowhere in the shop's
    table, with no sign of it: the analyst's command now says so (the partners' service
    does not: they must not learn which rows are canaries)."""
    release(shop, recipient="zto", workspace=workspace, out=tmp_path / "zto.parquet")
    out = pl.read_parquet(tmp_path / "zto.parquet")
    pool = set(workspace.config.canary_pool.phone_numbers())
    canary = out.filter(pl.col("phone").is_in(list(pool))).get_column("order_id")[0]
    real = out.filter(~pl.col("phone").is_in(list(pool))).get_column("order_id")[0]
    r = run_cli("resolve", str(canary), "--from", "zto", "--json", home=workspace.home)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["canary_of"].startswith("rel-")
    r = run_cli("resolve", str(canary), "--from", "zto", home=workspace.home)
    assert "is a canary row" in r.stderr and r.stdout.strip().isdigit()
    r = run_cli("resolve", str(real), "--from", "zto", "--json", home=workspace.home)
    assert json.loads(r.stdout)["canary_of"] is None
    assert json.loads(r.stdout)["order_id"] in set(shop.get_column("order_id").cast(pl.Utf8))


def test_pandas_input(workspace: Workspace, shop: pl.DataFrame) -> None:
    res = release(shop.head(500).to_pandas(), recipient="sms", workspace=workspace)
    assert res.frame is not None and res.frame.height == res.rows


def test_missing_column_fails_cleanly(
    workspace: Workspace, shop: pl.DataFrame, tmp_path: Path
) -> None:
    out = tmp_path / "x.csv"
    with pytest.raises(MissingColumnError, match="address"):
        release(shop.drop("address"), recipient="zto", workspace=workspace, out=out)
    assert not out.exists()
    assert Ledger(workspace).entries() == []
    assert list((workspace.home / "index").glob("*")) == []
    src = tmp_path / "no_address.parquet"
    shop.drop("address").write_parquet(src)
    with pytest.raises(MissingColumnError, match=r"no_address\.parquet: .*address"):
        release(src, recipient="zto", workspace=workspace, out=out)
    assert not out.exists() and Ledger(workspace).entries() == []


def test_unknown_recipient(workspace: Workspace, shop: pl.DataFrame) -> None:
    with pytest.raises(UnknownRecipientError, match="nobody"):
        release(shop, recipient="nobody", workspace=workspace)


def test_failure_mid_release_leaves_nothing(
    workspace: Workspace, shop: pl.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import leaktrace.release as rel

    monkeypatch.setattr(rel, "BATCH_ROWS", 1000)
    calls = {"n": 0}
    real = rel.embed_marks

    def flaky(*a, **k):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full")
        return real(*a, **k)

    monkeypatch.setattr(rel, "embed_marks", flaky)
    out = tmp_path / "cs.csv"
    with pytest.raises(OSError):
        release(shop, recipient="cs-firm", workspace=workspace, out=out)
    assert not out.exists()
    assert list(tmp_path.glob("*")) == [workspace.home] or not list(tmp_path.glob("cs*"))
    assert Ledger(workspace).entries() == []
    assert list((workspace.home / "index").glob("*")) == []
    # the canary numbers the failed release had reserved are free again
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from leaktrace.ledger.models import CanaryReservation

    with Session(Ledger(workspace).engine) as s:
        assert s.scalar(select(func.count()).select_from(CanaryReservation)) == 0


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl", "xlsx"])
def test_cli_release_json(
    workspace: Workspace, shop_parquet: Path, tmp_path: Path, fmt: str
) -> None:
    out = tmp_path / f"out.{fmt}"
    r = run_cli(
        "release",
        str(shop_parquet),
        "--to",
        "yto",
        "--out",
        str(out),
        "--json",
        home=workspace.home,
    )
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert set(d) == {"release_id", "recipient", "rows", "canaries", "channels", "output_sha256"}
    import hashlib

    assert hashlib.sha256(out.read_bytes()).hexdigest() == d["output_sha256"]
    back = read_table(out)
    assert back.height == d["rows"]
    v = run_cli("verify", "--json", home=workspace.home)
    assert v.returncode == 0 and json.loads(v.stdout)["ok"]


def test_cli_errors_are_one_line_exit_2(
    workspace: Workspace, shop: pl.DataFrame, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\x00\x01\x02garbage\xff\xfe" * 100)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    nocol = tmp_path / "nocol.csv"
    shop.select(["name", "phone"]).head(10).write_csv(nocol)
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes(shop.head(50).drop("order_time").write_csv().encode("gb18030"))
    cases = [
        (["release", str(bad), "--to", "zto", "--out", str(tmp_path / "o.csv")], None),
        (["release", str(empty), "--to", "zto", "--out", str(tmp_path / "o.csv")], None),
        (["release", str(nocol), "--to", "zto", "--out", str(tmp_path / "o.csv")], "order_id"),
        (
            [
                "release",
                str(tmp_path / "missing.csv"),
                "--to",
                "zto",
                "--out",
                str(tmp_path / "o.csv"),
            ],
            None,
        ),
        (["release", str(gbk), "--to", "nobody", "--out", str(tmp_path / "o.csv")], "nobody"),
        (
            [
                *("release", str(gbk), "--to", "zto", "--out", str(tmp_path / "o.csv")),
                *("--encoding", "gb-nonsense"),
            ],
            "unknown encoding 'gb-nonsense'",
        ),
    ]
    for args, needle in cases:
        r = run_cli(*args, home=workspace.home)
        assert r.returncode == 2, (args, r.stderr)
        assert "Traceback" not in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
        if needle:
            assert needle in r.stderr
    assert not (tmp_path / "o.csv").exists()
    assert Ledger(workspace).entries() == []


def test_truncated_order_time_with_timestamp_channel_is_refused(
    workspace: Workspace, shop: pl.DataFrame
) -> None:
    """The timestamp channel would write keyed seconds back into a truncated time (an
    "hour" of 01:00:56): the policy check refuses the pair, in memory and in the TOML."""
    policy = workspace.config.policy_for("zto")
    policy.fields["order_time"] = " truncate_date:hour"  # as the operator parser reads it
    assert "timestamp" in policy.channels
    with pytest.raises(PolicyError, match=r"timestamp.*order_time.*truncate_date"):
        release(shop, recipient="zto", workspace=workspace)
    assert Ledger(workspace).entries() == []
    workspace.save()
    assert run_cli("releases", home=workspace.home).returncode == 0  # trace/verify still run
    r = run_cli("recipient", "add", "z2", "--template", "courier", home=workspace.home)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "truncate_date" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    policy.channels.remove("timestamp")
    workspace.save()
    res = release(shop, recipient="zto", workspace=workspace)
    assert res.frame is not None
    times = res.frame.get_column("order_time").drop_nulls()
    assert times.len() and (times.dt.truncate("1h") == times).all()


def test_channels_refuse_masks_they_cannot_mark(workspace: Workspace, shop: pl.DataFrame) -> None:
    """The address and title channels put full-width digits into a hex digest: refused."""
    policy = workspace.config.policy_for("zto")
    for role, channel in (("address", "address"), ("product", "title")):
        policy.fields[role] = "digest:16"
        with pytest.raises(PolicyError, match=rf"{channel}.*{role}.*digest"):
            release(shop, recipient="zto", workspace=workspace)
        policy.fields[role] = "keep"
    policy.fields["address"] = "generalise_address"  # a district-level address is markable
    assert release(shop, recipient="zto", workspace=workspace).rows > 0


def test_spaced_specs_mean_what_the_parser_reads(workspace: Workspace, shop: pl.DataFrame) -> None:
    """``"alias "`` sends aliases and records them; ``"keep? "`` is optional."""
    text = (workspace.home / "leaktrace.toml").read_text(encoding="utf-8")
    assert 'order_id = "alias"' in text
    text = text.replace('order_id = "alias"', 'order_id = "alias "', 1)
    (workspace.home / "leaktrace.toml").write_text(text, encoding="utf-8")
    ws = open_workspace(workspace.home)
    policy = ws.config.policy_for("zto")
    assert policy.fields["order_id"] == "alias"
    policy.fields["email"] = "keep? "  # an in-memory edit is parsed the same way
    res = release(shop.drop("email"), recipient="zto", workspace=ws)
    assert res.entry.alias is True
    assert "email" not in (res.frame.columns if res.frame is not None else [])
    # the record lists what was sent: no email (the input had none), no address channel
    assert "email" not in res.entry.fields and "address" in res.entry.fields
    policy.fields["address"] = "drop"
    res = release(shop, recipient="zto", workspace=ws)
    assert "address" not in res.entry.fields and "address" not in res.entry.channels
    assert "title" in res.entry.channels


def test_canaries_pass_the_recipients_where_filter(
    workspace: Workspace, shop: pl.DataFrame
) -> None:
    """A canary outside the recipient's filter (a Beijing address in a Zhejiang-only copy)
    would stand out; canaries are drawn until they pass it, or left out when they cannot."""
    from leaktrace.workspace import add_recipient

    add_recipient(workspace, "zj", template="merchant", where="address like '浙江省%'")
    add_recipient(workspace, "p138", template="merchant", where="substr(phone, 1, 3) = '138'")
    zj = release(shop, recipient="zj", workspace=workspace)
    assert zj.frame is not None and zj.canaries >= 3
    assert zj.frame.get_column("address").str.starts_with("浙江省").all()
    real = shop.filter(pl.col("address").str.starts_with("浙江省")).height
    assert zj.rows == real + zj.canaries
    # pool numbers never start with 138: no canary can pass, and none is sent
    p138 = release(shop, recipient="p138", workspace=workspace)
    assert p138.canaries == 0
    assert p138.rows == shop.filter(pl.col("phone").str.starts_with("138")).height
    assert Ledger(workspace).verify().ok


def test_cli_recipient_add_and_list(tmp_path: Path) -> None:
    home = tmp_path / "w"
    assert run_cli("init", home=home).returncode == 0
    r = run_cli(
        "recipient",
        "add",
        "sf",
        "--template",
        "courier",
        "--where",
        "courier = '顺丰速运'",
        home=home,
    )
    assert r.returncode == 0, r.stderr
    lst = run_cli("recipient", "list", "--json", home=home)
    assert [x["name"] for x in json.loads(lst.stdout)] == ["sf"]
    bad = run_cli(
        "recipient", "add", "x", "--template", "courier", "--where", "courier = = ", home=home
    )
    assert bad.returncode == 2 and "where" in bad.stderr
    typed = run_cli(
        "recipient", "add", "y", "--template", "merchant", "--where", "amount > 100", home=home
    )
    assert typed.returncode == 2 and "cast(amount as double) > 100" in typed.stderr
    unknown = run_cli(
        "recipient", "add", "z", "--template", "merchant", "--where", "nosuchcol = '1'", home=home
    )
    assert unknown.returncode == 2 and "not a column role" in unknown.stderr
    cast = "cast(amount as double) > 100 and order_time >= timestamp '2024-01-01'"
    ok = run_cli("recipient", "add", "y", "--template", "merchant", "--where", cast, home=home)
    assert ok.returncode == 0, ok.stderr
    again = run_cli("init", home=home)
    assert again.returncode == 2 and "already exists" in again.stderr


def test_canary_numbers_are_never_reused(workspace: Workspace, shop: pl.DataFrame) -> None:
    """A reused pool number would make a call to it name the wrong release."""
    from leaktrace.errors import ConfigError

    workspace.config.canary_pool.phones = ["17090000000-17090000006"]
    release(shop.head(300), recipient="sms", workspace=workspace)  # 3 canaries (canary_min)
    release(shop.head(300), recipient="cs-firm", workspace=workspace)  # 3 more
    contacts = [t["contact"] for t in Ledger(workspace).canary_tokens()]
    assert len(contacts) == len(set(contacts)) == 6
    with pytest.raises(ConfigError, match="unused numbers"):
        release(shop.head(300), recipient="zto", workspace=workspace)
    assert len(Ledger(workspace).entries()) == 2


def test_concurrent_canary_conflict_is_retried_then_reported(
    workspace: Workspace, shop: pl.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two releases that drew the same canary number: the later is redone, never half-kept."""
    from leaktrace import release as release_module
    from leaktrace.errors import CanaryConflictError

    real_append = Ledger.append
    calls = {"n": 0}

    def flaky_append(self: Ledger, *args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] <= failures:
            raise CanaryConflictError("a canary contact point was assigned meanwhile")
        return real_append(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Ledger, "append", flaky_append)
    failures = 2
    res = release(shop.head(500), recipient="cs-firm", workspace=workspace, out=tmp_path / "a.csv")
    assert calls["n"] == 3 and res.rows == read_table(tmp_path / "a.csv").height
    assert [e.release_id for e in Ledger(workspace).entries()] == [res.release_id]

    calls["n"], failures = 0, 99
    with pytest.raises(CanaryConflictError):
        release(shop.head(500), recipient="cs-firm", workspace=workspace, out=tmp_path / "b.csv")
    assert calls["n"] == release_module.CANARY_RETRIES + 1
    assert not (tmp_path / "b.csv").exists()
    assert len(Ledger(workspace).entries()) == 1
    assert not list(workspace.index_dir.glob(".tmp-*"))
    assert len(list(workspace.index_dir.glob("*.parquet"))) == 1


def test_concurrent_releases_reserve_disjoint_canary_numbers(
    workspace: Workspace, shop: pl.DataFrame, tmp_path: Path
) -> None:
    """Two processes releasing at once draw disjoint canary numbers and both land — at the
    first attempt: retries are off, so a collision would fail a process (this is what the
    reservations prevent; without them the pool below makes a collision near certain)."""
    code = (
        "import sys, polars as pl\n"
        "import leaktrace.release as R\n"
        "R.CANARY_RETRIES = 0\n"
        "from leaktrace.release import release\n"
        "from leaktrace.workspace import open_workspace\n"
        "ws = open_workspace(__import__('pathlib').Path(sys.argv[1]))\n"
        "release(pl.read_parquet(sys.argv[2]), recipient='cs-firm', workspace=ws)\n"
    )
    src = tmp_path / "shop.parquet"
    shop.write_parquet(src)
    # a pool just big enough for both: random draws from it would collide almost surely
    per_release = int(0.2 * shop.height)
    lo = 17090000000
    workspace.config.canary_pool.phones = [f"{lo}-{lo + 2 * per_release - 1}"]
    workspace.config.policies[workspace.config.recipients["cs-firm"].policy].canary_rate = 0.2
    workspace.save()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(workspace.home), str(src)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    contacts = [t["contact"] for t in Ledger(workspace).canary_tokens()]
    assert len(contacts) == len(set(contacts)) == 2 * per_release
    assert Ledger(workspace).verify().ok


def test_cli_release_and_trace_with_encoding(
    workspace: Workspace, shop: pl.DataFrame, tmp_path: Path
) -> None:
    """--encoding names a CSV's encoding instead of detecting it, for release and trace."""
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes(shop.head(300).write_csv(datetime_format="%Y-%m-%d %H:%M:%S").encode("gb18030"))
    out = tmp_path / "out.csv"
    r = run_cli(
        "release",
        str(gbk),
        "--to",
        "zto",
        "--out",
        str(out),
        "--encoding",
        "gbk",
        "--json",
        home=workspace.home,
    )
    assert r.returncode == 0, r.stderr
    released = read_table(out)
    assert json.loads(r.stdout)["rows"] == released.height > 0
    leaked = tmp_path / "leaked.csv"
    leaked.write_bytes(out.read_bytes().decode("utf-8").encode("gb18030"))
    t = run_cli("trace", str(leaked), "--encoding", "gb18030", "--json", home=workspace.home)
    assert t.returncode == 0, t.stderr
    assert json.loads(t.stdout)["accused"][0]["recipient"] == "zto"


def test_a_release_refuses_a_file_its_encoding_reads_as_mojibake(
    workspace: Workspace, shop: pl.DataFrame, tmp_path: Path
) -> None:
    """``--encoding latin1`` decodes any byte: a GBK file named so was released as garbled
    names and products, with blank addresses, and recorded in the ledger as sent."""
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes(shop.head(300).write_csv().encode("gb18030"))
    out = tmp_path / "out.csv"
    before = len(Ledger(workspace).entries())
    r = run_cli(
        "release", str(gbk), "--to", "zto", "--out", str(out), "--encoding", "latin1",
        home=workspace.home,
    )  # fmt: skip
    assert r.returncode == 2, r.stderr
    [line] = r.stderr.strip().splitlines()
    assert (
        "looks garbled" in line and "--encoding gb18030" in line and "nothing was released" in line
    )
    assert not out.exists() and len(Ledger(workspace).entries()) == before


@pytest.mark.skipif(not hasattr(os, "posix_fadvise"), reason="no posix_fadvise here")
def test_writeback_starts_after_every_batch_and_is_only_advice(
    workspace: Workspace, shop: pl.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Output and index are handed to the disk batch by batch (so the fsync before the
    ledger record has little left); a kernel that refuses the advice changes nothing."""
    import leaktrace.release as release_module

    advised: list[str] = []

    def refuse(fd: int, offset: int, length: int, advice: int) -> None:
        assert advice == os.POSIX_FADV_DONTNEED
        advised.append(os.readlink(f"/proc/self/fd/{fd}"))
        raise OSError(22, "refused")

    monkeypatch.setattr(release_module, "BATCH_ROWS", 500)
    monkeypatch.setattr(os, "posix_fadvise", refuse)
    res = release(shop, recipient="cs-firm", workspace=workspace, out=tmp_path / "cs.parquet")
    batches = -(-shop.height // 500)
    outputs = [p for p in advised if Path(p).name.startswith(".cs.parquet.")]
    indexes = [p for p in advised if p.startswith(str(workspace.home / "index") + "/.tmp-")]
    assert len(outputs) == len(indexes) == batches > 1
    assert res.output_sha256 == file_sha256(tmp_path / "cs.parquet")
    assert Ledger(workspace).verify().ok


def test_canary_numbers_reserved_ahead_are_used_or_freed(
    workspace: Workspace, shop: pl.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From the third batch on, one reservation covers the next batches too; a release
    records exactly its canaries' numbers and leaves no reservation behind."""
    import leaktrace.release as release_module

    calls: list[tuple[int, int]] = []
    real = Ledger.reserve_canary_contacts

    def reserve(self: Ledger, *args: Any, **kwargs: Any) -> list[str]:
        _release_id, _pool, k, _rng, *rest = args
        calls.append((k, rest[0] if rest else kwargs.get("extra", 0)))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(release_module, "BATCH_ROWS", 300)
    monkeypatch.setattr(Ledger, "reserve_canary_contacts", reserve)
    res = release(shop, recipient="cs-firm", workspace=workspace, out=tmp_path / "cs.parquet")
    batches = -(-shop.height // 300)
    assert batches >= 6 and 2 < len(calls) < batches
    assert [extra for _, extra in calls[:2]] == [0, 0] and calls[2][1] > 0
    ledger = Ledger(workspace)
    tokens = [t for t in ledger.canary_tokens() if t["release_id"] == res.release_id]
    assert len(tokens) == res.canaries == len({t["contact"] for t in tokens})
    assert ledger.canary_reservations() == []
    assert ledger.verify().ok


def test_output_and_index_reach_the_disk_before_the_record(
    workspace: Workspace, shop: pl.DataFrame, tmp_path: Path, synced_at_append: list[list[str]]
) -> None:
    """After a power loss the ledger must never name an index or output that is not on disk:
    both files are fsynced before the record is appended, and the index digest recorded
    (hashed while writing) is the file's."""
    from leaktrace.io.checksum import file_sha256

    res = release(shop, recipient="cs-firm", workspace=workspace, out=tmp_path / "cs.parquet")
    (before,) = synced_at_append
    index_dir = str(workspace.home / "index")
    assert any(p.startswith(index_dir + "/.tmp-") for p in before)  # the index, before rename
    assert any(Path(p).name.startswith(".cs.parquet.") for p in before)  # the output
    assert res.entry.index_sha256 == file_sha256(workspace.home / res.entry.index_file)


def test_index_stores_digests_plain_and_days_with_statistics(
    workspace: Workspace, shop: pl.DataFrame, tmp_path: Path
) -> None:
    """The exposure index: keyed digests uncompressed, without dictionary or min/max (random
    64-bit values: nothing to gain); is_canary and order_day compressed, with min/max, so a
    reader can skip row groups by day. Reading it back gives the same rows either way."""
    import pyarrow.parquet as pq

    res = release(shop, recipient="cs-firm", workspace=workspace, out=tmp_path / "cs.parquet")
    path = workspace.home / res.entry.index_file
    meta = pq.ParquetFile(path).metadata
    chunks = {
        meta.schema.column(i).name: meta.row_group(0).column(i) for i in range(meta.num_columns)
    }
    for name in ["anchor", "customer", "k_order", "k_phone_name", "k_phone_addr", "k_name_addr"]:
        assert chunks[name].compression == "UNCOMPRESSED", name
        assert chunks[name].statistics is None, name
        assert chunks[name].dictionary_page_offset is None, name
    day = chunks["order_day"]
    assert day.compression == "ZSTD" and day.statistics is not None
    assert day.statistics.has_min_max and day.dictionary_page_offset is not None
    index = pl.read_parquet(path)
    assert index.height == res.rows and index.get_column("anchor").null_count() == 0


def test_an_index_folder_made_again_by_a_release_is_owner_only(
    workspace: Workspace, shop: pl.DataFrame
) -> None:
    import shutil
    import stat

    shutil.rmtree(workspace.index_dir)
    release(shop.head(200), recipient="cs-firm", workspace=workspace)
    assert stat.S_IMODE(workspace.index_dir.stat().st_mode) == 0o700
