"""Order numbers that are not all digits (``SO71258797381713``), sent as they are.

Session 21's third review: every canary of such a copy got the numeric fallback
``1000…`` (18 digits) among the shop's ``SO…`` numbers; "does not look like the others"
found 50 of 50 canaries and none of 5,000 real rows. A canary now keeps its donor's form
and draws the donor's trailing digits afresh. The tracer's row test counts digits, so
such a canary's number (not all digits) counts only through its pool number.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from leaktrace.release import release
from leaktrace.synth import generate_orders
from leaktrace.trace import trace
from leaktrace.workspace import Workspace, add_recipient


def _shop() -> pl.DataFrame:
    shop = generate_orders(6000, seed=4)
    digits = np.random.default_rng(4).integers(10**13, 10**14, size=shop.height)
    return shop.with_columns(order_id=pl.lit("SO") + pl.Series(digits).cast(pl.Utf8))


def _plain_courier(ws: Workspace) -> None:
    add_recipient(ws, "h", template="courier")
    ws.config.policies["h"] = ws.config.policy_for("h").model_copy(deep=True)
    ws.config.recipients["h"].policy = "h"
    ws.config.policies["h"].fields["order_id"] = "keep"
    ws.config.policies["h"].canary_rate = 0.05
    ws.save()


def test_canaries_take_the_form_of_the_shops_order_numbers(workspace: Workspace) -> None:
    shop = _shop()
    _plain_courier(workspace)
    res = release(shop, recipient="h", workspace=workspace)
    assert res.frame is not None and res.canaries >= 100
    pool = workspace.config.canary_pool.phone_numbers()
    is_canary = res.frame.get_column("phone").is_in(pool)
    ids = res.frame.get_column("order_id")
    assert ids.str.contains(r"^SO[0-9]{14}$").all(), ids.filter(is_canary).head(3).to_list()
    canary_ids = ids.filter(is_canary)
    assert not canary_ids.is_in(shop.get_column("order_id").implode()).any()
    assert canary_ids.n_unique() == canary_ids.len()


def test_such_a_canarys_number_counts_only_through_its_pool_number(
    workspace: Workspace,
) -> None:
    """The row test's chance counts digits; a number with letters would get none of it
    (a digest collision's 2^-64), so those matches are left to the number test."""
    shop = _shop()
    _plain_courier(workspace)
    res = release(shop, recipient="h", workspace=workspace)
    assert res.frame is not None
    t = trace(res.frame.select("order_id"), workspace=workspace)
    h = next(c for c in t.candidates if c.recipient == "h")
    assert h.canary_rows == 0


def test_spaced_order_numbers_listed_without_a_copy_accuse_nobody(
    workspace: Workspace,
) -> None:
    """The fourth review: ``20241130 000123`` kept its form, 6 fresh digits, but the tracer
    folds the space away and counted 14 digits, 12 of them fresh: a list of 100,000
    ``20241130xxxxxx`` numbers, made without any copy, accused the recipient at 10^-190.
    Such a donor now gives the 18-digit fallback."""
    shop = generate_orders(6000, seed=4)
    seq = np.random.default_rng(4).choice(10**6, size=shop.height, replace=False)
    shop = shop.with_columns(
        order_id=pl.lit("20241130 ") + pl.Series(seq).cast(pl.Utf8).str.zfill(6)
    )
    _plain_courier(workspace)
    res = release(shop, recipient="h", workspace=workspace)
    assert res.canaries >= 100
    tails = np.random.default_rng(1).choice(10**6, size=100_000, replace=False)
    listed = pl.DataFrame({"order_id": pl.Series(tails).cast(pl.Utf8).str.zfill(6)}).select(
        order_id=pl.lit("20241130") + pl.col("order_id")
    )
    t = trace(listed, workspace=workspace)
    assert t.accused == [], [(c.recipient, c.log10_p_corrected) for c in t.accused]


def test_a_shop_numbered_one_two_three_is_released(workspace: Workspace) -> None:
    """The fourth review: a batch holding every number of its donors' length (a shop
    numbered 1 … 3000: every 3-digit one) redrew its canaries' numbers for ever."""
    import signal

    shop = generate_orders(3000, seed=4).with_columns(
        order_id=pl.int_range(1, 3001, eager=True).cast(pl.Utf8)
    )

    def too_long(*_: object) -> None:
        raise TimeoutError("release did not finish in 120 s")

    _plain_courier(workspace)  # an alias needs 6 digits: such a shop sends them plain
    old = signal.signal(signal.SIGALRM, too_long)
    signal.alarm(120)
    try:
        res = release(shop, recipient="h", workspace=workspace)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert res.canaries >= 3 and res.frame is not None
    ids = res.frame.get_column("order_id")
    assert ids.n_unique() == ids.len()
