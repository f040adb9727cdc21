"""Free text typed by people never goes out under a role (session 25's review).

A remark column whose header was not exactly 备注/买家留言/卖家备注 (订单备注, 买家备注,
客服备注, 客户留言) was scored by its content, taken for ``product`` and sent to customer
service with ``keep``: full phone and ID numbers the shopper had typed into it went with
it. A combined 收货信息 column (name, phone and address in one cell) was taken for the
address by its content and sent under a merchant's ``keep`` with the phones its policy
masks. Free-text headers are now no role at all, and a column placed by its content under
a text role that holds whole phone or ID numbers is refused, naming it."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest

import leaktrace
from leaktrace.errors import InputError
from leaktrace.io.columns import infer_roles, is_free_text_header, match_header
from leaktrace.roles import Role
from leaktrace.synth import generate_orders

MOBILE = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")
ID18 = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")
N = 20
NAMES = ["王小明", "李四", "张伟", "刘洋", "陈静"] * (N // 5)
PHONES = ["13812345678", "13987654321", "13700001111", "15800002222", "18600003333"] * (N // 5)
REMARKS = [
    "送货前请电话联系（13812345678），放门卫室",
    None,
    "周末送，收件人身份证110105194912310021",
    None,
    "电话13987654321，放快递柜（2件）",
] * (N // 5)


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> leaktrace.Workspace:
    w = leaktrace.init_workspace(tmp_path_factory.mktemp("w") / "ws")
    leaktrace.add_recipient(w, "cs", template="customer-service")
    leaktrace.add_recipient(w, "shop", template="merchant")
    return w


def _frame(**cols: list[str | None]) -> pl.DataFrame:
    base: dict[str, list[str | None]] = {
        "订单号": [f"2024110{i:011d}" for i in range(N)],
        "下单时间": [f"2024-11-11 10:{i:02d}:00" for i in range(N)],
        "收货人": list(NAMES),
        "手机": list(PHONES),
    }
    base.update(cols)
    return pl.DataFrame(base)


def _text_without_order_ids(out: pl.DataFrame) -> str:
    return out.drop("order_id").select(pl.all().cast(pl.String)).write_csv()


@pytest.mark.parametrize(
    "header", ["订单备注", "买家备注", "客服备注", "客户留言", "商家备注", "Buyer Note", "备注信息"]
)
def test_a_remark_column_is_no_role_and_does_not_go_out(
    ws: leaktrace.Workspace, header: str
) -> None:
    assert is_free_text_header(header) and match_header(header) is None  # 商家备注: no merchant
    df = _frame(
        收货地址=["浙江省杭州市西湖区文三路478号3单元502"] * N,
        商品信息=["兰蔻小黑瓶精华50ml"] * N,  # a header that is no synonym: product by content
        **{header: REMARKS},
    )
    roles = infer_roles(df)
    assert header in roles.unrecognised
    assert roles.assignments[Role.PRODUCT].column == "商品信息"
    out = leaktrace.release(df, recipient="cs", workspace=ws).frame
    assert out is not None and header not in out.columns
    text = _text_without_order_ids(out)
    assert not MOBILE.search(text) and not ID18.search(text)
    assert not out.get_column("product").str.contains("电话|身份证|门卫").any()


def test_a_combined_column_taken_for_the_address_by_content_is_refused(
    ws: leaktrace.Workspace,
) -> None:
    combo = [
        f"{n}，{p}，浙江省杭州市西湖区文三路478号3单元502"
        for n, p in zip(NAMES, PHONES, strict=True)
    ]
    df = _frame(收货信息=combo, 商品名称=["兰蔻小黑瓶精华50ml"] * N)
    with pytest.raises(InputError, match=r"column '收货信息' looks like address.*phone or ID") as e:
        leaktrace.release(df, recipient="shop", workspace=ws)
    assert "13812345678" not in str(e.value) and "王小明" not in str(e.value)  # no value quoted


def test_a_product_placed_by_content_without_numbers_is_still_placed() -> None:
    df = _frame(
        收货地址=["浙江省杭州市西湖区文三路478号"] * N, 宝贝=["iPhone 15 Pro 256GB 黑色"] * N
    )
    assert infer_roles(df).assignments[Role.PRODUCT].column == "宝贝"


@pytest.mark.parametrize(
    "typed",
    [
        "电话138-1234-5678",
        "电话 +86 13812345678",
        "电话0086 138 1234 5678",
        "110105-19491231-0021",
        # session 26's review: a no-break space copied from a page, spaced hyphens, dots
        "电话+86\u00a0138\u00a01234\u00a05678",
        "电话138 - 1234 - 5678",
        "电话138.1234.5678",
        "电话013812345678",
        "电话138。1234。5678",  # the dot in Chinese input mode (the second review)
    ],
)
def test_numbers_as_people_type_them_are_found(ws: leaktrace.Workspace, typed: str) -> None:
    """The final review: dashes between the digits, or a country code before them, hid
    the number from the check (a 说明 column, placed by content as the product)."""
    df = _frame(收货地址=["浙江省杭州市西湖区文三路478号"] * N, 说明=[f"放门口 {typed}"] * N)
    with pytest.raises(InputError, match=r"column '说明' looks like product"):
        leaktrace.release(df, recipient="cs", workspace=ws)


def test_a_leaked_file_with_a_combined_column_is_traced(
    ws: leaktrace.Workspace, tmp_path: Path
) -> None:
    """Fraud lists repackage a copy as 收件信息 (name phone address): the check is the
    release's, and the trace of such a file names the copy's recipient (the final review:
    trace refused it, and has no option to name columns)."""
    leaktrace.add_recipient(ws, "zto", template="courier", where="courier = '中通快递'")
    copy = tmp_path / "zto.parquet"
    leaktrace.release(generate_orders(3000, seed=7), recipient="zto", workspace=ws, out=copy)
    rows = pl.read_parquet(copy)
    leak = rows.select(
        pl.col("order_id").alias("单号"),
        pl.col("order_time").cast(pl.Utf8).alias("下单时间"),
        pl.concat_str(["name", "phone", "address"], separator=" ").alias("收件信息"),
        pl.col("product").alias("商品"),
    )
    leak.write_csv(tmp_path / "leak.csv")
    assert [c.recipient for c in leaktrace.trace(tmp_path / "leak.csv", workspace=ws).accused] == [
        "zto"
    ]


@pytest.mark.parametrize(
    "title",
    [
        "执行标准GB/T 1335-2008 160/84A",
        "货号 1908-2231-456",
        "18650 3400mAh 2节",
    ],
)
def test_titles_with_numbers_are_not_taken_for_phones(ws: leaktrace.Workspace, title: str) -> None:
    """Separators count only where a phone's or an ID's layout puts them: joining digits
    anywhere made a clothing standard and size a mobile number (the second final review)."""
    df = _frame(收货地址=["浙江省杭州市西湖区文三路478号"] * N, 宝贝=[title] * N)
    out = leaktrace.release(df, recipient="cs", workspace=ws).frame
    assert out is not None and "product" in out.columns
