"""Canaries whose plain order numbers were drawn among the few a ``where`` filter passes.

Session 21's review: the row test's chance assumes a canary's order number is fresh over
all numbers of its length (about 10^-d). A recipient whose filter selects orders by digits
of the order number (``… % 250 = 78``) gets canaries drawn among the numbers that pass, a
250th of them; when its copy shows the order numbers in plain (``keep``), a list of every
passing number — made without any copy — held all its canaries and accused it (10^-39 in
the review's run). Such canaries now count only through their pool numbers; an aliased
copy's canaries keep the row test (the alias is keyed: passing numbers' aliases cannot be
listed).
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from leaktrace.release import release
from leaktrace.synth import generate_orders
from leaktrace.trace import trace
from leaktrace.workspace import Workspace, add_recipient

WHERE = "cast(substr(order_id, 5, 3) as int) % 250 = 78"
"""On 7-digit order numbers: the last three digits are 078, 328, 578 or 828."""


@pytest.fixture
def short_ids_shop() -> pl.DataFrame:
    shop = generate_orders(20_000, seed=3)
    ids = np.random.default_rng(0).choice(np.arange(10**6, 10**7), size=shop.height, replace=False)
    return shop.with_columns(order_id=pl.Series(ids).cast(pl.Utf8))


def _passing_numbers() -> pl.DataFrame:
    n = np.arange(10**6, 10**7)
    return pl.DataFrame({"order_id": pl.Series(n[np.isin(n % 1000, [78, 328, 578, 828])])})


def _recipient(ws: Workspace, name: str, order_id: str) -> None:
    add_recipient(ws, name, template="customer-service", where=WHERE)
    ws.config.policies[name] = ws.config.policy_for(name).model_copy(deep=True)
    ws.config.recipients[name].policy = name
    ws.config.policies[name].fields["order_id"] = order_id
    ws.config.policies[name].canary_rate = 0.2
    ws.save()


def test_a_list_of_passing_numbers_accuses_nobody(
    workspace: Workspace, short_ids_shop: pl.DataFrame
) -> None:
    _recipient(workspace, "h", "keep")
    res = release(short_ids_shop, recipient="h", workspace=workspace)
    release(short_ids_shop, recipient="cs-firm", workspace=workspace)
    assert res.canaries >= 10
    leak = _passing_numbers().with_columns(pl.col("order_id").cast(pl.Utf8))
    t = trace(leak, workspace=workspace)
    assert t.accused == [], [(c.recipient, c.log10_p_corrected) for c in t.accused]
    h = next(c for c in t.candidates if c.recipient == "h")
    assert h.canary_rows == 0


def test_an_aliased_copys_canaries_still_count_on_their_order_numbers(
    workspace: Workspace, short_ids_shop: pl.DataFrame
) -> None:
    """The control: the same filter with aliased order numbers. The leak is the copy's
    order-number column alone; its canaries' aliases count on the row test as before."""
    _recipient(workspace, "h2", "alias")
    res = release(short_ids_shop, recipient="h2", workspace=workspace)
    assert res.frame is not None and res.canaries >= 10
    t = trace(res.frame.select("order_id"), workspace=workspace)
    h2 = next(c for c in t.candidates if c.recipient == "h2")
    assert h2.canary_rows == res.canaries
    assert [c.recipient for c in t.accused] == ["h2"]


@pytest.mark.parametrize("op", ["mask_card", "mask_id"])
def test_masked_order_numbers_listed_without_a_copy_accuse_nobody(
    workspace: Workspace, op: str
) -> None:
    """The second review of session 21: an order number masked to its last four digits
    (``**************2974``) matched a canary through its masked form, scored as a digest
    collision; a list of every masked form of each length, made without any copy, accused
    the recipient (10^-380 in the review's run). Only an alias, a keyed digest or a plain
    number drawn freely counts on the row test now."""
    shop = generate_orders(3000, seed=11)
    add_recipient(workspace, "h", template="customer-service")
    workspace.config.policies["h"] = workspace.config.policy_for("h").model_copy(deep=True)
    workspace.config.recipients["h"].policy = "h"
    workspace.config.policies["h"].fields["order_id"] = op
    workspace.save()
    res = release(shop, recipient="h", workspace=workspace)
    release(shop, recipient="cs-firm", workspace=workspace)
    assert res.canaries >= 10
    lengths = shop.get_column("order_id").str.len_chars().unique().to_list()
    listed = ["*" * (n - 4) + f"{d:04d}" for n in lengths for d in range(10_000)]
    t = trace(pl.DataFrame({"order_id": listed}), workspace=workspace)
    assert t.accused == [], [(c.recipient, c.log10_p_corrected) for c in t.accused]
