"""Canaries in copies whose ``where`` filter synthetic rows rarely pass.

A filter on digits of the order number (how a platform splits its customers between
outsourced service firms) passed about one canary draw in a hundred; eight redraws left
such a copy with a tenth of its canaries (the attack suite's recipients held 0.06 % canary
rows where the policy asks for 1 %), too few to trace a name + phone leak of 500 rows.
"""

from __future__ import annotations

import polars as pl
import pytest

from leaktrace.ledger import Ledger
from leaktrace.release import release
from leaktrace.synth import generate_orders
from leaktrace.workspace import Workspace, add_recipient


@pytest.fixture(scope="module")
def big_shop() -> pl.DataFrame:
    return generate_orders(100_000, seed=5)


@pytest.mark.parametrize("modulus", [100, 250])
def test_order_digit_filters_get_the_policys_canary_rate(
    workspace: Workspace, big_shop: pl.DataFrame, modulus: int
) -> None:
    where = f"cast(substr(order_id, 12, 3) as int) % {modulus} = 78"
    add_recipient(workspace, "h", template="customer-service", where=where)
    res = release(big_shop, recipient="h", workspace=workspace)
    real = big_shop.filter(pl.sql_expr(where))
    policy = workspace.config.policy_for("h")
    target = max(policy.canary_min, int(policy.canary_rate * real.height))
    # a redraw may repeat a kept canary's order number, which is then left out: allow one
    assert res.canaries >= target - 1 >= 2
    assert res.rows == real.height + res.canaries
    ledger = Ledger(workspace)
    entry = ledger.entries()[-1]
    assert entry.canaries == res.canaries
    assert ledger.verify().ok


def test_canaries_still_pass_and_are_new_order_numbers(
    workspace: Workspace, big_shop: pl.DataFrame
) -> None:
    """The canaries pass the filter (before aliasing) and never reuse a real number."""
    where = "cast(substr(order_id, 12, 3) as int) % 100 = 78"
    add_recipient(workspace, "h", template="courier", where=where)
    workspace.config.policy_for("h").fields["order_id"] = "keep"  # read the numbers as drawn
    res = release(big_shop, recipient="h", workspace=workspace)
    assert res.frame is not None
    pool = workspace.config.canary_pool.phone_numbers()
    canaries = res.frame.filter(pl.col("phone").is_in(pool))
    assert canaries.height == res.canaries >= 5
    ids = canaries.get_column("order_id").cast(pl.Utf8)
    assert (ids.str.slice(11, 3).cast(pl.Int64) % 100 == 78).all()
    assert not ids.is_in(big_shop.get_column("order_id").cast(pl.Utf8).implode()).any()
    assert ids.n_unique() == ids.len()


def test_a_filter_synthetic_rows_almost_never_pass_costs_a_bounded_draw(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real rows pass it (their order numbers share a segment), random canaries pass it one
    time in a million: the bulk draw asked for 3.9 million candidate rows per batch at once
    (session 21's review: a 1M-row release took 129 s and 5 GB). Each draw is now at most
    ``OVERSAMPLE_ROUND`` rows and a batch stops after ``OVERSAMPLE_GIVE_UP`` without one
    passing."""
    import leaktrace.release as rel

    shop = generate_orders(20_000, seed=2).with_columns(
        order_id=pl.col("order_id").str.slice(0, 6) + "000000" + pl.col("order_id").str.slice(12)
    )
    add_recipient(
        workspace, "h", template="customer-service", where="substr(order_id, 7, 6) = '000000'"
    )
    sizes: list[int] = []
    real_generate = rel.generate_canaries

    def counting(sample: pl.DataFrame, n: int, **kw: object) -> pl.DataFrame:
        sizes.append(n)
        return real_generate(sample, n, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(rel, "generate_canaries", counting)
    res = release(shop, recipient="h", workspace=workspace)
    assert res.rows == shop.height + res.canaries
    assert max(sizes) <= rel.OVERSAMPLE_ROUND
    # sizes[0]: the first draw, one per canary due; then the bulk draws (and, for the
    # survivors' e-mails, one of their count): a batch stops at OVERSAMPLE_GIVE_UP when
    # none passed, at OVERSAMPLE_BATCH_MAX when one did (keys are fresh each run)
    bulk = sum(sizes[1:])
    assert bulk <= rel.OVERSAMPLE_BATCH_MAX + res.canaries
    if res.canaries == 0:  # the draw that crossed it is the last
        assert bulk <= rel.OVERSAMPLE_GIVE_UP + rel.OVERSAMPLE_ROUND
