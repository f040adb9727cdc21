"""Column-role inference: which input column is the phone, the address, the order time …

Two kinds of evidence, strongest first:

1. **Header synonyms** (Chinese and English, case/width/whitespace/punctuation-insensitive):
   an exact synonym wins; otherwise the longest synonym *contained* in the header
   (收货人手机 → phone) — except for a few words too generic to contain (订单, 时间 …).
   Headers known *not* to be roles (运单号, 备注 …) are kept out of content inference too,
   because a waybill number looks exactly like an order number.
2. **Content**, for every other column: a sample of ≤ 1000 non-null values is scored per
   role (fraction of values that fit, weighted by how specific the test is — a checksum-
   valid ID number is near-certain, "small integer" is weak). Roles are then assigned
   greedily by score, each role at most once, above a minimum score; a column whose two
   best roles tie is left unrecognised rather than guessed.

Leaked files are the adversary's re-export, so content evidence is what makes tracing
work on a headerless, column-shuffled sample. The :class:`RoleMap` records where each
assignment came from so the evidence report can say so.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import polars as pl

from leaktrace.errors import InputError, MissingColumnError
from leaktrace.io.datetimes import has_date_separator, parse_datetime
from leaktrace.pii.base import Detector
from leaktrace.pii.idcard import ID_NUMBER
from leaktrace.pii.name import NAME
from leaktrace.pii.phone import PHONE
from leaktrace.pii.product import product_score
from leaktrace.pii.text import canonical, fold_width, number_separator_run
from leaktrace.roles import ROLE_NAMES, Role

__all__ = [
    "CHECK_VALUES",
    "CONTRADICTION_MARGIN",
    "COURIERS",
    "HEADER_SYNONYMS",
    "MIN_SCORE",
    "SENSITIVE_ROLES",
    "STRONG_SCORE",
    "HeaderContradiction",
    "RoleAssignment",
    "RoleMap",
    "content_scores",
    "header_contradictions",
    "infer_roles",
    "match_header",
    "normalise_header",
    "refuse_header_contradictions",
    "row_looks_like_data",
]

Via = Literal["header", "content", "override"]
MIN_SCORE = 0.5
SAMPLE_VALUES = 1000
_TIE_EPS = 1e-9

HEADER_SYNONYMS: dict[Role, tuple[str, ...]] = {
    Role.ORDER_ID: (
        "订单号",
        "订单编号",
        "单号",
        "订单id",
        "主订单号",
        "子订单号",
        "交易单号",
        "交易号",
        "订单",
        "order_id",
        "orderid",
        "order no",
        "orderno",
        "order number",
        "order",
    ),
    Role.ORDER_TIME: (
        "下单时间",
        "付款时间",
        "创建时间",
        "订单时间",
        "成交时间",
        "支付时间",
        "下单日期",
        "订单创建时间",
        "时间",
        "日期",
        "order_time",
        "ordertime",
        "order date",
        "created",
        "created_at",
        "create time",
        "pay time",
        "date",
        "time",
        "datetime",
        "timestamp",
    ),
    Role.NAME: (
        "收货人",
        "姓名",
        "客户姓名",
        "收件人",
        "买家姓名",
        "收货人姓名",
        "联系人",
        "顾客姓名",
        "名字",
        "consignee",
        "name",
        "customer name",
        "receiver",
        "recipient",
        "full name",
        "buyer name",
    ),
    Role.PHONE: (
        "手机",
        "手机号",
        "手机号码",
        "电话",
        "联系电话",
        "收货人电话",
        "收货人手机",
        "联系方式",
        "电话号码",
        "mobile",
        "phone",
        "tel",
        "telephone",
        "phone number",
        "mobile phone",
        "cellphone",
        "contact",
    ),
    Role.ADDRESS: (
        "收货地址",
        "地址",
        "详细地址",
        "收件地址",
        "配送地址",
        "收货人地址",
        "address",
        "addr",
        "shipping address",
        "delivery address",
    ),
    Role.PRODUCT: (
        "商品名称",
        "商品",
        "宝贝标题",
        "商品标题",
        "宝贝名称",
        "产品名称",
        "品名",
        "产品",
        "product",
        "title",
        "product name",
        "item",
        "item name",
        "goods",
        "goods name",
    ),
    Role.SKU: (
        "sku",
        "商品编码",
        "商家编码",
        "sku编码",
        "货号",
        "sku id",
        "商品id",
        "item id",
        "product id",
    ),
    Role.QUANTITY: ("数量", "购买数量", "件数", "qty", "quantity", "count", "num"),
    Role.AMOUNT: (
        "金额",
        "实付金额",
        "订单金额",
        "支付金额",
        "实付款",
        "总金额",
        "应付金额",
        "价格",
        "amount",
        "price",
        "total",
        "payment",
        "paid",
        "total amount",
    ),
    Role.CARD_LAST4: (
        "卡号后四位",
        "银行卡后四位",
        "卡尾号",
        "尾号",
        "银行卡尾号",
        "card_last4",
        "card last4",
        "last4",
        "card tail",
    ),
    Role.ID_NUMBER: (
        "身份证号",
        "身份证",
        "身份证号码",
        "证件号",
        "证件号码",
        "id number",
        "idnumber",
        "id card",
        "id no",
        "national id",
    ),
    Role.COURIER: (
        "快递公司",
        "物流公司",
        "快递",
        "物流",
        "承运商",
        "courier",
        "carrier",
        "logistics",
        "express",
        "shipper",
    ),
    Role.MERCHANT: (
        "店铺",
        "商家",
        "店铺名称",
        "商家名称",
        "卖家",
        "商户",
        "merchant",
        "shop",
        "store",
        "seller",
        "shop name",
        "store name",
    ),
    Role.EMAIL: ("邮箱", "电子邮箱", "email", "e-mail", "mail", "邮件"),
}

# Too generic to be recognised *inside* a longer header (订单状态 is not an order id).
_EXACT_ONLY = frozenset(
    {
        "订单",
        "时间",
        "日期",
        "物流",
        "快递",
        "产品",
        "商品",
        "价格",
        "尾号",
        "单号",
        "order",
        "date",
        "time",
        "item",
        "count",
        "num",
        "total",
        "paid",
        "mail",
        "contact",
        "express",
        "shop",
        "store",
        "title",
        "tel",
        "addr",
        "price",
        "name",
    }
)
# Headers that are known not to be any role; never content-inferred.
_NOT_ROLES = frozenset(
    {
        "快递单号",
        "运单号",
        "物流单号",
        "运单编号",
        "waybill",
        "waybillno",
        "trackingno",
        "trackingnumber",
        "备注",
        "买家留言",
        "卖家备注",
        "remark",
        "remarks",
        "note",
        "notes",
        "订单状态",
        "状态",
        "status",
    }
)

COURIERS: tuple[str, ...] = (
    "顺丰",
    "中通",
    "圆通",
    "申通",
    "韵达",
    "百世",
    "汇通",
    "京东物流",
    "京东快递",
    "邮政",
    "ems",
    "极兔",
    "德邦",
    "天天快递",
    "宅急送",
    "菜鸟",
    "丰网",
    "安能",
    "跨越",
    "优速",
    "sfexpress",
    "sf express",
    "zto",
    "yto",
    "sto",
    "yunda",
    "j&t",
    "jdlogistics",
    "jd logistics",
    "deppon",
    "best express",
    "china post",
)
_MERCHANT_WORDS = r"店|旗舰|专营|专卖|官方|公司|商行|超市|工作室|商城|shop|store|mall|official"
_ADDRESS_MARKERS = r"[省市区县]|路|街|巷|号|镇|乡|村|小区|大厦|栋|单元|室"


def normalise_header(header: str) -> str:
    """NFKC, lower-case, drop whitespace/punctuation and any bracketed note (金额(元))."""
    h = unicodedata.normalize("NFKC", header).lower().strip()
    h = re.sub(r"[(\[【（].*?[)\]】）]", "", h)
    return re.sub(r"[\s_\-.:：/\\*#]+", "", h)


_EXACT: dict[str, Role] = {normalise_header(s): r for r, ss in HEADER_SYNONYMS.items() for s in ss}
_CONTAINED: list[tuple[str, Role]] = sorted(
    (
        (normalise_header(s), r)
        for r, ss in HEADER_SYNONYMS.items()
        for s in ss
        if s not in _EXACT_ONLY and len(normalise_header(s)) >= 2
    ),
    key=lambda t: -len(t[0]),
)
_NOT_ROLES_NORM = frozenset(normalise_header(h) for h in _NOT_ROLES)

_FREE_TEXT_WORDS = ("备注", "留言", "附言", "remark", "note", "comment", "memo")
"""A header holding one of these is free text a person typed (订单备注, 买家备注, 客服备注,
客户留言, 商家备注, Buyer Note): never a role, by header or by content. Shoppers type phone
and ID numbers into such text; taken for ``product`` by its content it went out to
customer service with ``keep`` (session 25's review), and 商家备注 was taken for the
merchant by the 商家 it contains."""


def is_free_text_header(header: str) -> bool:
    """Whether ``header`` names a free-text column (:data:`_FREE_TEXT_WORDS`)."""
    h = normalise_header(header)
    return any(w in h for w in _FREE_TEXT_WORDS)


_SEP = number_separator_run()
_MOBILE = rf"1[3-9][0-9]{_SEP}[0-9]{{4}}{_SEP}[0-9]{{4}}"
_EMBEDDED_NUMBER = re.compile(
    rf"(?:^|[^0-9])(?:(?:(?:\+|00)?86{_SEP})?"
    rf"(?:{_MOBILE}|[1-9][0-9]{{5}}{_SEP}(?:19|20)[0-9]{{2}}{_SEP}[0-9]{{4}}{_SEP}[0-9]{{3}}[0-9Xx])"
    rf"|0{_MOBILE})"
    r"(?:[^0-9]|$)"
)
"""A whole mobile number or 18-digit ID number inside a text (after width folding), also
as people type them: ``138-1234-5678``, ``138 1234 5678``, ``+86 138…``, ``110105
19491231 0021``. Separators only where those layouts put them: joining digits anywhere
made a clothing title's ``GB/T 1335-2008 160/84A`` a mobile number (the final review)."""

_TEXT_ROLES = (Role.NAME, Role.ADDRESS, Role.PRODUCT, Role.COURIER, Role.MERCHANT, Role.EMAIL)
"""Roles a column gets by content whose values are text a number has no place in."""


def match_header(header: str) -> tuple[Role, bool] | None:
    """``(role, exact)`` for a header naming a role, else None (ties → None)."""
    h = normalise_header(header)
    if not h or h in _NOT_ROLES_NORM or is_free_text_header(header):
        return None
    if h in _EXACT:
        return _EXACT[h], True
    hits = [(s, r) for s, r in _CONTAINED if s in h]
    if not hits:
        return None
    best_len = len(hits[0][0])
    roles = {r for s, r in hits if len(s) == best_len}
    return (roles.pop(), False) if len(roles) == 1 else None


def _detector_scorer(det: Detector) -> Callable[[pl.Expr], pl.Expr]:
    return det.value_score


def _regex_scorer(pattern: str, weight: float) -> Callable[[pl.Expr], pl.Expr]:
    def score(v: pl.Expr) -> pl.Expr:
        return pl.when(v.str.contains(pattern).fill_null(False)).then(weight).otherwise(0.0)

    return score


def _time_score(v: pl.Expr) -> pl.Expr:
    ok = parse_datetime(v).is_not_null() & has_date_separator(v)
    return pl.when(ok).then(0.9).otherwise(0.0)


def _amount_score(v: pl.Expr) -> pl.Expr:
    v = v.str.replace(r"^[¥￥$]|元$", "")
    return (
        pl.when(v.str.contains(r"^-?\d+\.\d{1,2}$"))
        .then(0.9)
        .when(v.str.contains(r"^-?\d{1,7}$"))
        .then(0.45)
        .otherwise(0.0)
    )


def _courier_score(v: pl.Expr) -> pl.Expr:
    hit = v.str.to_lowercase().str.contains_any(list(COURIERS)).fill_null(False)
    return pl.when(hit & (v.str.len_chars() <= 20)).then(0.9).otherwise(0.0)


def _merchant_score(v: pl.Expr) -> pl.Expr:
    hit = v.str.to_lowercase().str.contains(_MERCHANT_WORDS).fill_null(False)
    return pl.when(hit & (v.str.len_chars() <= 30)).then(0.75).otherwise(0.0)


def _address_score(v: pl.Expr) -> pl.Expr:
    hit = v.str.contains(_ADDRESS_MARKERS).fill_null(False) & (v.str.len_chars() >= 6)
    return pl.when(hit).then(0.85).otherwise(0.0)


def _sku_score(v: pl.Expr) -> pl.Expr:
    hit = (
        v.str.contains(r"^[A-Za-z0-9][A-Za-z0-9_\-]{3,31}$")
        & v.str.contains(r"[A-Za-z]")
        & v.str.contains(r"\d")
    ).fill_null(False)
    return pl.when(hit).then(0.55).otherwise(0.0)


_SCORERS: dict[Role, Callable[[pl.Expr], pl.Expr]] = {
    Role.ID_NUMBER: _detector_scorer(ID_NUMBER),
    Role.PHONE: _detector_scorer(PHONE),
    Role.EMAIL: _regex_scorer(r"^[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+$", 0.95),
    Role.ORDER_TIME: _time_score,
    Role.ORDER_ID: _regex_scorer(r"^[A-Za-z]{0,4}\d{12,20}$", 0.8),
    Role.CARD_LAST4: _regex_scorer(r"^(?:\*+|尾号)?\d{4}$", 0.8),
    Role.QUANTITY: _regex_scorer(r"^\d{1,3}$", 0.6),
    Role.AMOUNT: _amount_score,
    Role.COURIER: _courier_score,
    Role.MERCHANT: _merchant_score,
    Role.ADDRESS: _address_score,
    Role.NAME: _detector_scorer(NAME),
    Role.PRODUCT: product_score,
    Role.SKU: _sku_score,
}


def content_scores(
    df: pl.DataFrame,
    columns: Sequence[str],
    roles: Sequence[Role] | None = None,
    scorers: Mapping[Role, Callable[[pl.Expr], pl.Expr]] = _SCORERS,
) -> dict[tuple[str, Role], float]:
    """Mean per-value score of each role on the first ≤1000 non-null values of each column.

    The columns' samples are stacked into one column and each role's scorer runs once over
    it (a lazy query, so that the subexpressions a scorer repeats, such as the ID
    checksum's normalised text, are computed once); the means are then taken per column.
    Why: scoring each (column, role) pair as its own expression cost 0.43 s for the 14
    columns of an order export, most of it evaluating the same normalisation again and
    again, and every headerless file a trace reads pays it.
    """
    roles = list(scorers) if roles is None else list(roles)
    if not columns or not roles or df.height == 0:
        return {}
    parts = []
    for i, c in enumerate(columns):
        v = canonical(pl.col(c).cast(pl.String)).drop_nulls()
        v = v.filter(v.str.len_chars() > 0).head(SAMPLE_VALUES)
        parts.append(df.select(pl.lit(i, dtype=pl.Int32).alias("c"), v.alias("v")))
    stacked = pl.concat(parts)
    names = [f"s{j}" for j in range(len(roles))]
    per_value = (
        stacked.lazy()
        .select(*[scorers[r](pl.col("v")).alias(n) for r, n in zip(roles, names, strict=True)])
        .collect()
    )
    # each column's mean over its own slice, so that it does not depend on which other
    # columns were scored with it, rounded to 12 places: the last bits of a mean depend on
    # how it is summed (0.9 or 0.9000000000000002), and a score exactly on a threshold
    # (5 of 9 values at 0.9 is MIN_SCORE) must not fall either side by chance
    out: dict[tuple[str, Role], float] = {}
    start = 0
    for column, part in zip(columns, parts, strict=True):
        for r, n in zip(roles, names, strict=True):
            mean = per_value.get_column(n).slice(start, part.height).mean()
            out[(column, r)] = round(float(mean), 12) if isinstance(mean, int | float) else 0.0
        start += part.height
    return out


def row_looks_like_data(values: Sequence[str | None]) -> bool:
    """True when a would-be header row is really a data row.

    A header names things; a data row has a mobile number, a valid ID number, a long digit
    string, an e-mail or a timestamp. Any cell that matches a header synonym means header.
    """
    cells = [v for v in values if v is not None and v.strip()]
    if not cells:
        return False
    if any(match_header(c) is not None for c in cells):
        return False
    v = canonical(pl.col("v"))
    hit = (
        (PHONE.valid(pl.col("v")))
        | ID_NUMBER.valid(pl.col("v"))
        | v.str.contains(r"^\d{8,}$|@|^-?\d+\.\d+$")
        | (parse_datetime(v).is_not_null() & has_date_separator(v))
    ).fill_null(False)
    return bool(pl.DataFrame({"v": cells}, schema={"v": pl.String}).select(hit.any()).item())


@dataclass(frozen=True)
class RoleAssignment:
    """One role → source column decision and the evidence it rests on."""

    role: Role
    column: str
    via: Via
    score: float = 1.0


@dataclass
class RoleMap:
    """Which source column plays which :class:`Role`, and what could not be placed."""

    assignments: dict[Role, RoleAssignment] = field(default_factory=dict)
    unrecognised: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)

    def __contains__(self, role: object) -> bool:
        return role in self.assignments

    def __iter__(self) -> Iterator[Role]:
        return (r for r in Role if r in self.assignments)

    def __len__(self) -> int:
        return len(self.assignments)

    def column(self, role: Role | str) -> str | None:
        """Source column for ``role`` (None when absent)."""
        a = self.assignments.get(Role(role))
        return a.column if a else None

    def only(self, roles: Iterable[Role | str]) -> RoleMap:
        """The same map restricted to ``roles`` (those of them that are assigned)."""
        wanted = {Role(r) for r in roles if isinstance(r, Role) or r in ROLE_NAMES}
        return dataclasses.replace(
            self, assignments={r: a for r, a in self.assignments.items() if r in wanted}
        )

    def rename_map(self) -> dict[str, str]:
        """``{source column: role name}`` in :class:`Role` order."""
        return {self.assignments[r].column: r.value for r in self}

    def require(self, *roles: Role | str, source: str = "input") -> None:
        """Raise :class:`MissingColumnError` naming the first role not found in ``source``."""
        for r in roles:
            if Role(r) not in self.assignments:
                raise MissingColumnError(f"{source}: no column recognised as {Role(r).value!r}")

    def to_dict(self) -> dict[str, object]:
        """JSON-ready summary for reports (column names only, never values)."""
        return {
            "roles": {
                r.value: {"column": a.column, "via": a.via, "score": round(a.score, 3)}
                for r, a in ((r, self.assignments[r]) for r in self)
            },
            "unrecognised": list(self.unrecognised),
        }


def _apply_overrides(
    columns: Sequence[str], overrides: Mapping[str, str], source: str
) -> dict[Role, RoleAssignment]:
    out: dict[Role, RoleAssignment] = {}
    for role_name, col in overrides.items():
        if role_name not in ROLE_NAMES:
            raise InputError(f"{source}: unknown role {role_name!r} in column overrides")
        if col not in columns:
            raise MissingColumnError(f"{source}: column {col!r} (given for {role_name}) not found")
        out[Role(role_name)] = RoleAssignment(Role(role_name), col, "override")
    return out


def infer_roles(
    df: pl.DataFrame,
    overrides: Mapping[str, str] | None = None,
    *,
    use_headers: bool = True,
    source: str = "input",
) -> RoleMap:
    """Map ``df``'s columns to roles: overrides, then headers, then content.

    ``overrides`` is ``{role name: column}`` and always wins. ``use_headers=False`` is for
    headerless input whose column names are placeholders. ``source`` names the file in
    error messages.
    """
    columns = list(df.columns)
    assigned = _apply_overrides(columns, overrides or {}, source)
    taken = {a.column for a in assigned.values()}
    blocked: set[str] = set()

    if use_headers:
        matches = {c: match_header(c) for c in columns if c not in taken}
        for exact in (True, False):
            for c in columns:
                m = matches.get(c)
                if m is None or m[1] is not exact or c in taken or m[0] in assigned:
                    continue
                assigned[m[0]] = RoleAssignment(m[0], c, "header")
                taken.add(c)
        blocked = {
            c for c in columns if normalise_header(c) in _NOT_ROLES_NORM or is_free_text_header(c)
        }

    pending = [c for c in columns if c not in taken and c not in blocked]
    free_roles = [r for r in _SCORERS if r not in assigned]
    scores = content_scores(df, pending, free_roles)
    order = {c: i for i, c in enumerate(columns)}
    candidates = sorted(
        ((s, c, r) for (c, r), s in scores.items() if s >= MIN_SCORE),
        key=lambda t: (-t[0], order[t[1]], list(Role).index(t[2])),
    )
    ambiguous: set[str] = set()
    for s, c, r in candidates:
        if c in taken or c in ambiguous or r in assigned:
            continue
        rivals = [
            r2
            for (s2, c2, r2) in candidates
            if c2 == c and r2 != r and r2 not in assigned and abs(s2 - s) < _TIE_EPS
        ]
        if rivals:
            ambiguous.add(c)
            continue
        assigned[r] = RoleAssignment(r, c, "content", s)
        taken.add(c)

    return RoleMap(
        assignments={r: assigned[r] for r in Role if r in assigned},
        unrecognised=[c for c in columns if c not in taken],
        columns=columns,
    )


def _refuse_numbers_in_content_text(
    df: pl.DataFrame, roles: RoleMap, only: Iterable[str] | None, source: str
) -> None:
    """Refuse a column a release sends (``only``: its roles; None: all) that was placed
    by its content under a text role (address, product, name …) and whose values hold a
    whole mobile or ID number: a combined 收货信息 column (name, phone, address in one
    cell) was taken for the address and sent under a merchant's ``keep`` with the full
    phone its policy masks (session 25's review). A column placed by its header or named
    in the policy is the platform's own statement of what it holds. Releases only: a
    leaked file traced as found (its combined contact column) is evidence, not data sent.

    Numbers are found as people type them (:data:`_EMBEDDED_NUMBER`)."""
    sent = None if only is None else {str(r) for r in only}
    for role in _TEXT_ROLES:
        a = roles.assignments.get(role)
        if a is None or a.via != "content" or (sent is not None and role.value not in sent):
            continue
        folded = fold_width(pl.col(a.column).cast(pl.Utf8))
        hit = df.select(folded).to_series().str.contains(_EMBEDDED_NUMBER.pattern).arg_true()
        if hit.len():
            raise InputError(
                f"{source}: column {a.column!r} looks like {role.value} by its content but "
                f"holds phone or ID numbers in its text (row {int(hit[0]) + 1}); name what it "
                "holds in the recipient's policy (columns) or leave it out of the input"
            )


SENSITIVE_ROLES: tuple[Role, ...] = (
    Role.NAME,
    Role.PHONE,
    Role.ID_NUMBER,
    Role.ADDRESS,
    Role.EMAIL,
)
"""Roles whose values identify or locate a person: a column holding them under another
role's header would be sent under that role's (weaker) masking."""

CHECK_VALUES = 300
"""Rows of the sample the header check scores: a swap scores 0.8-1.0 against 0 on any
number of rows, and a release pays for every one (24 ms for 1,000, 10 ms for 300)."""

CONTRADICTION_MARGIN = 0.2
"""How much better a sensitive role must fit a column's values than its header's role."""


@dataclass(frozen=True)
class HeaderContradiction:
    """A column whose header names one role while its values fit a sensitive other one."""

    column: str
    header_role: Role
    content_role: Role
    header_score: float
    content_score: float

    def message(self, source: str) -> str:
        """One line for the user; never quotes a value (they are personal data)."""
        return (
            f"{source}: column {self.column!r} is read as {self.header_role.value} from its "
            f"header, but its values look like {self.content_role.value} (scores "
            f"{self.content_score:.2f} against {self.header_score:.2f} on the first "
            f"{CHECK_VALUES} values), and would be masked as {self.header_role.value}: "
            "the headers may be swapped or shifted. Fix the headers, or name the column's "
            "role in the policy's `columns` (docs/policy.md)"
        )


_OTHER_FORMS: dict[Role, str] = {
    # names in Latin letters (John Smith, Wong Ka Ming: whitespace is gone in the matching
    # form) and Han names joined by a middle dot (阿卜杜拉·买买提)
    Role.NAME: r"^(?:[A-Z][a-z]+(?:[·.\-]?[A-Z][a-z]+){1,3}|\p{Han}{1,8}(?:·\p{Han}{1,8})+)$",
    # a mobile with an extension, a landline written with its area code and a dash (a
    # 12-digit UPC starting with 0 is no landline)
    Role.PHONE: r"^(?:\+?86)?(?:1[3-9]\d{9}[-转#*~]\d{1,6}|0\d{2,3}-\d{7,8}(?:[-转#]\d{1,6})?)$",
    # a 15-digit ID number of before 1999 (region, YYMMDD, sequence)
    Role.ID_NUMBER: r"^\d{8}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}$",
}
"""Personal data the role detectors do not take for theirs (they serve inference, where a
false role costs a trace), which a release must still not send under another header."""


def _check_scorer(role: Role) -> Callable[[pl.Expr], pl.Expr]:
    detector, other = _SCORERS[role], _OTHER_FORMS.get(role)
    if other is None:
        return detector

    def score(v: pl.Expr) -> pl.Expr:
        extra = pl.when(v.str.contains(other).fill_null(False)).then(0.85).otherwise(0.0)
        return pl.max_horizontal(detector(v), extra)

    return score


_CHECK_SCORERS = {r: _check_scorer(r) for r in _SCORERS}


def header_contradictions(
    df: pl.DataFrame, roles: RoleMap, only: Iterable[str] | None = None
) -> list[HeaderContradiction]:
    """Columns placed by their header (among roles ``only``, all when None) whose values
    fit a *sensitive* other role clearly better: by at least :data:`CONTRADICTION_MARGIN`
    and at least :data:`MIN_SCORE`.

    Why: a release masks a column by its role, so a frame whose 姓名 and 手机 headers were
    swapped upstream would send the names under the phone's ``keep`` (a courier's) in
    clear; one whose 商品 header sits over the addresses would send every street and room.
    Headers win over content in :func:`infer_roles` (they are the stronger evidence when
    true), so this is a check after the fact, for releases; a trace reads adversarial
    files and does not ask. Roles named in a policy (``via == "override"``) and placed by
    content are not checked. ``df`` is the sample ``roles`` was inferred from.
    """
    df = df.head(CHECK_VALUES)
    wanted = None if only is None else {str(r) for r in only}
    placed = [
        a
        for a in roles.assignments.values()
        if a.via == "header" and (wanted is None or a.role.value in wanted)
    ]
    if not placed:
        return []
    # the sensitive roles for every column first, the column's own role only where one
    # of them fits (rarely): scoring a release's columns costs it about 20 ms per file
    rivals = content_scores(df, [a.column for a in placed], SENSITIVE_ROLES, _CHECK_SCORERS)
    out = []
    for a in placed:
        best, role = max(
            ((rivals.get((a.column, r), 0.0), r) for r in SENSITIVE_ROLES if r is not a.role),
            key=lambda t: t[0],
        )
        if best < MIN_SCORE or _holds_its_own(df, roles, role, rivals, best):
            continue
        own = (
            rivals.get((a.column, a.role), 0.0)
            if a.role in SENSITIVE_ROLES
            else content_scores(df, [a.column], [a.role], _CHECK_SCORERS).get(
                (a.column, a.role), 0.0
            )
        )
        if best >= own + CONTRADICTION_MARGIN + _SCORE_NOISE:
            out.append(HeaderContradiction(a.column, a.role, role, own, best))
    return out


def refuse_header_contradictions(
    df: pl.DataFrame, roles: RoleMap, only: Iterable[str] | None, source: str
) -> None:
    """Raise :class:`InputError` for the first of :func:`header_contradictions`, its
    message naming ``source``: what a release does with them (file, frame or Spark)."""
    found = header_contradictions(df, roles, only)
    if found:
        raise InputError(found[0].message(source))
    _refuse_numbers_in_content_text(df, roles, only, source)


_SCORE_NOISE = 1e-9
"""Scores are means of fixed weights: a difference this small is rounding, never evidence."""

STRONG_SCORE = 0.75
"""How well values must fit a sensitive role to be refused when the input has no column of
that role: short produce names (黄瓜, 白菜) and brand shops (周大福) score 0.6-0.65 as names,
the synthetic shop's names 0.78, and every other detector 0.85 and more on its own kind."""


def _holds_its_own(
    df: pl.DataFrame,
    roles: RoleMap,
    role: Role,
    scores: dict[tuple[str, Role], float],
    best: float,
) -> bool:
    """Whether ``role``'s data is where it belongs, so that another column resembling it is
    a coincidence, not a swap: the input has a column of ``role`` whose values fit it.

    Why: product titles hold address words (南孚5号电池, 小米路由器), produce names start with
    surnames (黄瓜), companies receive parcels (深圳市…有限公司 under 收货人); a shop's own
    export with its addresses under 收货地址 is not refused for them. A real swap or shift
    moves the values out of their own column too, which then no longer fits. Without a
    column of ``role`` the resemblance must be strong (:data:`STRONG_SCORE`)."""
    home = roles.assignments.get(role)
    if home is None:
        return best < STRONG_SCORE
    fit = scores.get((home.column, role))
    if fit is None:
        fit = content_scores(df, [home.column], [role], _CHECK_SCORERS).get(
            (home.column, role), 0.0
        )
    return fit >= MIN_SCORE
