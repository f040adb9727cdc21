"""A release refuses input whose headers contradict its values for personal data: names
under the phone's header would be sent under the phone's masking (a courier's ``keep``),
addresses under the product's header with every street and room."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import run_cli
from leaktrace.errors import InputError
from leaktrace.io.columns import SENSITIVE_ROLES, header_contradictions, infer_roles
from leaktrace.release import release
from leaktrace.synth import generate_orders
from leaktrace.workspace import Workspace

_SHOP = generate_orders(1500, 11).with_columns(pl.all().cast(pl.String))


def _swapped(df: pl.DataFrame, a: str, b: str) -> pl.DataFrame:
    return df.rename({a: "__a"}).rename({b: a}).rename({"__a": b})


@pytest.mark.parametrize(
    ("sensitive", "other"),
    [(r.value, c) for r in SENSITIVE_ROLES for c in _SHOP.columns if c != r.value],
)
def test_personal_data_under_any_other_header_is_found(sensitive: str, other: str) -> None:
    df = _swapped(_SHOP, sensitive, other)
    found = {(c.column, c.content_role.value) for c in header_contradictions(df, infer_roles(df))}
    assert (other, sensitive) in found  # the column named `other` now holds `sensitive`


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), rows=st.integers(1, 400))
def test_the_shops_own_columns_are_never_refused(seed: int, rows: int) -> None:
    df = generate_orders(rows, seed).with_columns(pl.all().cast(pl.String))
    assert header_contradictions(df, infer_roles(df)) == []
    chinese = df.rename(
        {"name": "收货人", "phone": "手机", "address": "收货地址", "order_id": "订单号"}
    )
    assert header_contradictions(chinese, infer_roles(chinese)) == []


def test_roles_named_in_the_policy_or_placed_by_content_are_not_second_guessed() -> None:
    df = _swapped(_SHOP, "name", "phone")
    named = infer_roles(df, {"name": "phone", "phone": "name"})
    assert header_contradictions(df, named) == []
    blind = df.rename({"name": "c1", "phone": "c2"})
    assert header_contradictions(blind, infer_roles(blind)) == []


def test_only_the_roles_a_release_reads_are_checked() -> None:
    df = _swapped(_SHOP, "name", "courier")  # names under 'courier', couriers under 'name'
    roles = infer_roles(df)
    found = header_contradictions(df, roles, ["order_id", "courier"])
    assert [(c.column, c.content_role.value) for c in found] == [("courier", "name")]
    assert header_contradictions(df, roles, ["order_id", "name", "phone"]) == []


def test_a_release_of_a_frame_with_swapped_headers_writes_nothing(workspace: Workspace) -> None:
    df = _swapped(_SHOP, "name", "phone")
    with pytest.raises(InputError) as err:
        release(df, recipient="zto", workspace=workspace)
    message = err.value.message
    assert message.startswith("data frame: column 'name' is read as name")
    assert "look like phone" in message and "`columns`" in message
    assert not any(v in message for v in df.get_column("name").head(50).to_list())
    assert not list(workspace.index_dir.glob("*.parquet"))

    # the way out the message names: the roles given in the policy
    workspace.config.policy_for("zto").columns = {"name": "phone", "phone": "name"}
    res = release(df, recipient="zto", workspace=workspace)
    assert res.frame is not None and res.frame.get_column("phone").str.contains("^1").all()


def test_the_cli_refuses_a_gbk_file_with_swapped_chinese_headers(
    workspace: Workspace, tmp_path: Path
) -> None:
    df = _swapped(
        _SHOP.rename({"name": "收货人", "phone": "手机号码", "address": "收货地址"}),
        "收货地址",
        "product",
    )
    src = tmp_path / "订单导出.csv"
    src.write_bytes(df.write_csv().encode("gbk", errors="replace"))
    out = tmp_path / "out.csv"
    r = run_cli("release", str(src), "--to", "zto", "--out", str(out), home=workspace.home)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "column 'product' is read as product" in r.stderr and "look like address" in r.stderr
    assert not out.exists()
    assert "release" not in run_cli("releases", "--json", home=workspace.home).stdout.lower()


@pytest.mark.parametrize(
    ("column", "values"),
    [
        ("name", ["John Smith", "Wong Ka Ming", "Mary-Jane Lee"]),
        ("name", ["阿卜杜拉·买买提", "热依拉·艾力"]),
        ("phone", ["13800138000-1234", "13912345678转88", "0571-88886666"]),
        ("id_number", ["110101800101123", "440301750203456"]),
    ],
    ids=["latin-names", "dotted-names", "extensions-landlines", "id15"],
)
def test_personal_data_role_inference_does_not_know_is_not_sent_under_a_swap(
    column: str, values: list[str]
) -> None:
    """Forms the detectors leave to no role (they serve inference, where a wrong role
    costs a trace) are still personal data: swapped with the product titles, refused."""
    n = _SHOP.height
    df = _SHOP.with_columns(pl.Series(column, [values[i % len(values)] for i in range(n)]))
    df = _swapped(df, column, "product")
    found = {(c.column, c.content_role.value) for c in header_contradictions(df, infer_roles(df))}
    assert ("product", column) in found
