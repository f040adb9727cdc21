"""How often the personal-number check refuses text that holds none (session 22).

Order numbers of the synthetic shop quoted bare, and random 15-digit numbers (waybills,
tickets) bare, after an ordinary phrase and after a waybill label: the share of each that
``holds_personal_number`` takes for a phone, ID card or bank card number.

    .venv/bin/python bench/personal_number_rates.py
"""

from __future__ import annotations

import random

from leaktrace.attribution.erasure import holds_personal_number
from leaktrace.synth.shop import generate_orders


def main() -> None:
    ids = generate_orders(200_000, 1).get_column("order_id").to_list()
    rng = random.Random(7)
    fifteen = ["".join(rng.choice("0123456789") for _ in range(15)) for _ in range(100_000)]
    cases = {
        "bare order numbers (200,000)": ids,
        "bare 15-digit numbers (100,000)": fifteen,
        "客户反映 <15 digits> 未送达": [f"客户反映 {n} 未送达" for n in fifteen],
        "运单 <15 digits>": [f"运单 {n}" for n in fifteen],
    }
    print("| text | refused |\n| --- | --- |")
    for name, texts in cases.items():
        share = sum(holds_personal_number(t) for t in texts) / len(texts)
        print(f"| {name} | {share:.4%} |")


if __name__ == "__main__":
    main()
