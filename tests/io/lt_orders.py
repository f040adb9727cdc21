"""Deterministic synthetic order tables for the data-layer tests (no Faker: fast, stable)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import polars as pl

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英"
CITIES = [
    ("浙江省", "杭州市", "西湖区"),
    ("广东省", "深圳市", "南山区"),
    ("北京市", "", "朝阳区"),
    ("江苏省", "南京市", "鼓楼区"),
    ("四川省", "成都市", "武侯区"),
]
STREETS = ["文三路", "科技园路", "建国路", "中山北路", "人民南路"]
PRODUCTS = [
    "【官方正品】农夫山泉 550ml×24瓶",
    "儿童口罩 一次性 30只装 [3D立体]",
    "小米手机 14 Pro 12GB+256GB 黑色",
    "三只松鼠坚果大礼包 1500g",
    "维达抽纸 3层120抽×24包",
]
COURIERS = ["顺丰速运", "中通快递", "圆通速递", "韵达快递", "极兔速递"]
SHOPS = ["小米官方旗舰店", "三只松鼠旗舰店", "农夫山泉专营店", "维达官方旗舰店"]
_W = [pow(2, 17 - i, 11) for i in range(17)]


def id_number(rnd: random.Random) -> str:
    born = datetime(1950, 1, 1) + timedelta(days=rnd.randrange(365 * 50))
    body = "330106" + born.strftime("%Y%m%d") + f"{rnd.randrange(1000):03d}"
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, _W, strict=True)) % 11]


def make_orders(n: int = 200, seed: int = 1) -> pl.DataFrame:
    rnd = random.Random(seed)
    start = datetime(2024, 9, 1)
    rows = []
    for _ in range(n):
        prov, city, dist = rnd.choice(CITIES)
        rows.append(
            {
                "订单号": str(rnd.randrange(10**17, 10**18)),
                "下单时间": (start + timedelta(seconds=rnd.randrange(86400 * 30))).strftime(
                    "%Y-%m-%d %H:%M:%S"
                ),
                "收货人": rnd.choice(SURNAMES)
                + "".join(rnd.choice(GIVEN) for _ in range(rnd.randint(1, 2))),
                "手机": "1"
                + rnd.choice("3589")
                + "".join(str(rnd.randrange(10)) for _ in range(9)),
                "收货地址": f"{prov}{city}{dist}{rnd.choice(STREETS)}{rnd.randint(1, 300)}号"
                f"{rnd.randint(1, 20)}栋{rnd.randint(1, 6)}单元{rnd.randint(101, 2804)}室",
                "商品名称": rnd.choice(PRODUCTS),
                "数量": str(rnd.randint(1, 5)),
                "实付金额": f"{rnd.uniform(5, 500):.2f}",
                "卡号后四位": f"{rnd.randrange(10000):04d}",
                "身份证号": id_number(rnd),
                "快递公司": rnd.choice(COURIERS),
                "店铺": rnd.choice(SHOPS),
                "邮箱": f"user{rnd.randrange(10**6)}@example.com",
            }
        )
    return pl.DataFrame(rows)


ROLE_OF = {
    "订单号": "order_id",
    "下单时间": "order_time",
    "收货人": "name",
    "手机": "phone",
    "收货地址": "address",
    "商品名称": "product",
    "数量": "quantity",
    "实付金额": "amount",
    "卡号后四位": "card_last4",
    "身份证号": "id_number",
    "快递公司": "courier",
    "店铺": "merchant",
    "邮箱": "email",
}
