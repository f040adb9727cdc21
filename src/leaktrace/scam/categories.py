"""Fraud categories and how the public data set's per-file types map onto them.

``fraud_type`` uses the labels of the Ministry of Public Security's anti-fraud big-data
platform so results line up with police statistics. The public data
(golfxiao/anti_fraud_sft) is organised by *its own* types, one file each; the mapping below
is a judgement call, written down so it can be argued with:

- 冒充客服诈骗 → 冒充电商物流客服类 (the case this product exists for).
- 兼职刷单诈骗 → 刷单返利类.
- 投资诈骗, 虚拟货币诈骗 → 虚假网络投资理财类 (virtual-currency cases are fake investment
  platforms).
- 网络贷款诈骗 → 贷款、代办信用卡类.
- 虚假购物诈骗, 二手交易诈骗, 微商代理诈骗 → 虚假购物、服务类 (pay for goods, agency stock or
  a service that never arrives).
- “杀猪盘” 诈骗 → 网络婚恋、交友类 (the money usually leaves through a fake investment site,
  but the hook is the online relationship, which is how police statistics count it).
- 网络赌博诈骗, 传销诈骗, 短信诈骗 (a channel, not a type: mixed content), 诈骗(150) (general
  fraud news) → 其他类型诈骗.

Categories with **no** training data — 虚假征信类, 冒充公检法及政府机关类, 冒充领导、熟人类,
网络游戏产品虚假交易类, 冒充军警购物类诈骗 — are emitted only by the two-cue type rules in
:mod:`leaktrace.scam.rules`. 网黑案件 has no data and no rule (we found no definition precise
enough to write one): it is listed so the label set is complete, but never emitted.
"""

from __future__ import annotations

__all__ = [
    "CUSTOMER_SERVICE",
    "FILE_TYPE_MAP",
    "FRAUD_TYPES",
    "NORMAL",
    "RULE_ONLY_TYPES",
    "map_file_type",
]

NORMAL = "正常"
CUSTOMER_SERVICE = "冒充电商物流客服类"

FRAUD_TYPES: tuple[str, ...] = (
    CUSTOMER_SERVICE,
    "刷单返利类",
    "虚假网络投资理财类",
    "贷款、代办信用卡类",
    "虚假征信类",
    "虚假购物、服务类",
    "冒充公检法及政府机关类",
    "冒充领导、熟人类",
    "网络游戏产品虚假交易类",
    "网络婚恋、交友类",
    "冒充军警购物类诈骗",
    "网黑案件",
    "其他类型诈骗",
    NORMAL,
)

RULE_ONLY_TYPES: frozenset[str] = frozenset(
    {
        "虚假征信类",
        "冒充公检法及政府机关类",
        "冒充领导、熟人类",
        "网络游戏产品虚假交易类",
        "冒充军警购物类诈骗",
    }
)

#: Data-set type (file name without the "(N).csv" count) → Ministry category.
FILE_TYPE_MAP: dict[str, str] = {
    "冒充客服诈骗": CUSTOMER_SERVICE,
    "兼职刷单诈骗": "刷单返利类",
    "投资诈骗": "虚假网络投资理财类",
    "虚拟货币诈骗": "虚假网络投资理财类",
    "网络贷款诈骗": "贷款、代办信用卡类",
    "虚假购物诈骗": "虚假购物、服务类",
    "二手交易诈骗": "虚假购物、服务类",
    "微商代理诈骗": "虚假购物、服务类",
    "“杀猪盘” 诈骗": "网络婚恋、交友类",
    "网络赌博诈骗": "其他类型诈骗",
    "传销诈骗": "其他类型诈骗",
    "短信诈骗": "其他类型诈骗",
    "诈骗": "其他类型诈骗",
    "meeting_label_false": NORMAL,
}


def map_file_type(stem: str) -> str | None:
    """Map a data file stem such as ``冒充客服诈骗(200)`` to a category (``None``: unknown)."""
    base = stem.split("(", 1)[0].strip()
    return FILE_TYPE_MAP.get(base)
