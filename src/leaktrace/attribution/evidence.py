"""Per-victim evidence against the ledger: who held each victim's data, with the quoted
fields, before the call; the composite-null probabilities; alias and mark observations.

Everything here is computed ONCE per attribution; ``attribute.score`` then turns any
subset of victims (all reports, one campaign, a prefix in time) into p-values cheaply.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import duckdb
import numpy as np
import polars as pl

from leaktrace.attribution.hits import CanaryHit, contact_key
from leaktrace.attribution.reports import StoredReport, customer_digest
from leaktrace.identity import identity_digests
from leaktrace.ledger import Ledger, ReleaseEntry
from leaktrace.pii.text import canonical_str
from leaktrace.trace.pool_entries import PoolStrata
from leaktrace.workspace import Workspace

__all__ = ["Evidence", "LedgerView", "VictimEvidence", "build_evidence", "load_view"]

_CN = timezone(timedelta(hours=8))
DIGEST_COLLISION = 2.0**-64


@dataclass
class LedgerView:
    """The ledger's releases and their (non-canary) exposure index rows, loaded once."""

    entries: list[ReleaseEntry]
    created: dict[str, datetime]
    recipients: list[str]
    rows: pl.DataFrame  # release_id, recipient, key_version, anchor, customer, k_order, order_day
    canary_contacts: dict[str, int]
    max_day: date | None
    first_days: dict[int, tuple[np.ndarray[Any, np.dtype[np.int64]], int]] = field(
        default_factory=dict
    )  # version -> (sorted first order day ordinals, customers with unknown day)
    canary_sole: dict[tuple[str, str], int] = field(default_factory=dict)
    """(recipient, kind) → contact points held by exactly one release, that recipient's
    (kind: :func:`contact_kind`); a contact held by several releases names nobody."""
    canary_free: dict[str, int] = field(default_factory=dict)
    """kind → pool contact points no release holds, less the open reservations (phones)."""
    canary_pool_entries: list[str] = field(default_factory=list)
    """Today's ``[canary_pool] phones`` entries (a number or a range ``A-B``): the strata
    of the phone canary-hit test (``attribute._canary_log10``)."""
    canary_sole_entries: dict[str, dict[int, int]] = field(default_factory=dict)
    """recipient → pool stratum (index in ``PoolStrata(canary_pool_entries)``: the numbers
    one set of entries lists; -1: in none of today's entries) → phone numbers held by
    exactly one release, that recipient's, in the stratum."""
    canary_free_entries: list[int] = field(default_factory=list)
    """Per pool stratum: its numbers no release holds, less every open reservation (their
    strata are not known: subtracted from each, conservative)."""


def _parse_created(s: str) -> datetime:
    dt = datetime.fromisoformat(s)
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


VIEW_ROWS_SCHEMA: dict[str, type[pl.DataType]] = {
    "release_id": pl.Utf8,
    "recipient": pl.Utf8,
    "key_version": pl.Int64,
    "anchor": pl.UInt64,
    "customer": pl.UInt64,
    "k_order": pl.UInt64,
    "order_day": pl.Date,
}
"""The columns of :attr:`LedgerView.rows` (the exposure index as attribution reads it)."""


def load_view(ws: Workspace) -> LedgerView:
    ledger = Ledger(ws)
    ledger.require_valid()
    entries = ledger.entries()
    created = {e.release_id: _parse_created(e.created) for e in entries}
    recipients = sorted({e.recipient for e in entries})
    schema = VIEW_ROWS_SCHEMA
    if entries:
        files = pl.DataFrame(
            {
                "file": [str(ws.home / e.index_file) for e in entries],
                "release_id": [e.release_id for e in entries],
                "recipient": [e.recipient for e in entries],
                "key_version": [e.key_version for e in entries],
            }
        )
        con = duckdb.connect()
        try:
            con.register("files", files.to_arrow())
            con.execute(
                "create temp table r as select f.release_id, f.recipient, f.key_version::BIGINT as key_version, "
                "i.anchor, i.customer, i.k_order, i.order_day "
                "from read_parquet(?, filename=true) i join files f on i.filename = f.file "
                "where not i.is_canary",
                [files.get_column("file").to_list()],
            )
            rows = con.sql("select * from r").pl()
        finally:
            con.close()
        rows = rows.cast(schema)  # type: ignore[arg-type,unused-ignore]
    else:
        rows = pl.DataFrame(schema=schema)
    canary: dict[str, set[str]] = defaultdict(set)
    tokens = ledger.canary_tokens()
    for t in tokens:
        canary[t["recipient"]].add(t["contact"])
    canary_sole, canary_free = _canary_counts(ws, ledger, tokens)
    sole_entries, free_entries = _canary_entry_counts(ws, ledger, tokens)
    max_day = rows.get_column("order_day").max() if rows.height else None
    first_days = {}
    per = (
        rows.filter(pl.col("customer").is_not_null())
        .group_by("key_version", "customer")
        .agg(pl.col("order_day").min())
    )
    for (v,), g in per.group_by(["key_version"]):
        days = g.get_column("order_day")
        known = days.drop_nulls().cast(pl.Int64).sort().to_numpy()
        first_days[int(str(v))] = (known, int(days.null_count()))
    return LedgerView(
        entries=entries,
        created=created,
        recipients=recipients,
        rows=rows,
        canary_contacts={r: len(c) for r, c in canary.items()},
        max_day=max_day if isinstance(max_day, date) else None,
        first_days=first_days,
        canary_sole=canary_sole,
        canary_free=canary_free,
        canary_pool_entries=list(ws.config.canary_pool.phones),
        canary_sole_entries=sole_entries,
        canary_free_entries=free_entries,
    )


def contact_kind(key: str) -> str:
    """``"mailbox"`` or ``"phone"``, of a :func:`~leaktrace.attribution.hits.contact_key`."""
    return "mailbox" if "@" in key else "phone"


def _canary_counts(
    ws: Workspace, ledger: Ledger, tokens: list[dict[str, str]]
) -> tuple[dict[tuple[str, str], int], dict[str, int]]:
    """What the canary-hit test (``attribute.score``) conditions on: per recipient and
    kind the contact points that name it alone, and per kind the pool's free ones (no
    release holds them; open reservations, phones only, are not free)."""
    owners: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for t in tokens:
        owners[contact_key(t["contact"])].add((t["recipient"], t["release_id"]))
    sole: dict[tuple[str, str], int] = defaultdict(int)
    for c, held in owners.items():
        if len(held) == 1:
            sole[(next(iter(held))[0], contact_kind(c))] += 1
    pool = ws.config.canary_pool
    phones = pool.phone_numbers()
    mailboxes = {e.strip().lower() for e in pool.emails if e and e.strip()}
    taken = {"phone": 0, "mailbox": 0}
    for c in owners:
        if c in mailboxes or ("@" not in c and c in phones):
            taken[contact_kind(c)] += 1
    reserved = sum(int(r["numbers"]) for r in ledger.canary_reservations())
    free = {
        "phone": max(0, phones.distinct() - taken["phone"] - reserved),
        "mailbox": max(0, len(mailboxes) - taken["mailbox"]),
    }
    return dict(sole), free


def _canary_entry_counts(
    ws: Workspace, ledger: Ledger, tokens: list[dict[str, str]]
) -> tuple[dict[str, dict[int, int]], list[int]]:
    """The phone counts of :func:`_canary_counts` per ``[canary_pool] phones`` entry, as
    ``trace`` stratifies its number test (``leaktrace.trace.engine._score_canary_numbers``):
    per recipient and entry the numbers that name it alone, and per entry the free ones.

    Why per entry: the pool is today's, and a pool that grew after R's release (a block
    added) made R's numbers look drawn from numbers they could never be; within one entry
    a uniform draw over the pool, conditioned on landing there, is uniform over the
    entry's free numbers, also when entries were added later. Numbers overlapping entries
    list more than once were drawn more often: a stratum per set of entries listing them
    (:class:`~leaktrace.trace.pool_entries.PoolStrata`, session 24's review)."""
    owners: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for t in tokens:
        c = contact_key(t["contact"])
        if contact_kind(c) == "phone":
            owners[c].add((t["recipient"], t["release_id"]))
    entries = list(ws.config.canary_pool.phones)
    numbers = list(owners)
    strata = PoolStrata(entries)
    entry_index = strata.of(numbers).tolist() if numbers else []
    sole: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    taken = [0] * len(strata)
    for c, j in zip(numbers, entry_index, strict=True):
        held = owners[c]
        if len(held) == 1:
            sole[next(iter(held))[0]][j] += 1
        if j >= 0:
            taken[j] += 1
    reserved = sum(int(r["numbers"]) for r in ledger.canary_reservations())
    sizes = strata.sizes
    free = [max(0, sizes[j] - taken[j] - reserved) for j in range(len(strata))]
    return {r: dict(by) for r, by in sole.items()}, free


@dataclass
class VictimEvidence:
    report: StoredReport
    status: str  # ok | malformed | unknown_customer | before_order | UNTRUSTED_STATUSES
    reason: str
    notes: list[str] = field(default_factory=list)
    consistent: dict[str, bool] = field(default_factory=dict)
    held: dict[str, bool] = field(default_factory=dict)
    """R → R held this victim in a release before the call, whatever fields it held (who
    else could have been the source: a caveat's ``also_held_by``)."""
    p_null: dict[str, float] = field(default_factory=dict)  # R → max over alternatives
    p_null_from: dict[str, str] = field(default_factory=dict)  # which alternative
    alias: dict[str, tuple[bool, float]] = field(default_factory=dict)  # R → (hit, q)
    anchors: dict[str, tuple[int, str, int]] = field(default_factory=dict)  # R → anchor, rel, v
    victim: int = -1  # one id per victim (eligible reports only): repeats share it

    @property
    def eligible(self) -> bool:
        return self.status == "ok"


@dataclass
class Evidence:
    view: LedgerView
    victims: list[VictimEvidence]
    hits: list[CanaryHit]
    observed: dict[str, np.ndarray[Any, np.dtype[np.int16]]]
    pool: int


def _local_date(t: datetime) -> date:
    return t.astimezone(_CN).date()


def _pi_table(
    view: LedgerView, sig: frozenset[str], before: frozenset[str], day: date | None
) -> tuple[dict[str, float], dict[str, str], dict[str, set[str]]]:
    """For one (valid releases, releases before the call, call day): max over alternatives
    S ≠ R of π_{R|S}.

    π_{R|S} is the chance that a victim of S's copy is in R's audience (R's releases in
    ``sig``: those that held the quoted fields before the call), under either way a
    scammer may work through a copy: calling its *customers* (each once) or its *rows*
    (orders: a customer with thirty orders is thirty times as likely to be called). The
    larger of the two is taken. Why both: a regular customer has shipped through every
    courier, so a copy sampled by rows (the SMS vendor's, the platform's own table) puts
    its victims in every courier's audience far more often than its share of customers
    says — counted by customers only, a leak of the SMS vendor's copy accused an innocent
    courier (session 13's audit). "Outside the ledger" is a random eligible customer, or a
    random released order, of the whole base.

    The alternatives S are each recipient's whole audience *and each of its copies on its
    own* (one release): what leaks is a file, and an innocent R whose audience is one of
    S's monthly exports was consistent with every victim of that file while its modelled
    chance was only that export's share of S's whole audience (session 24's review: an SMS
    vendor onboarded for the latest export was accused for a leak of its predecessor's
    copy of it, at 10^-13). An alternative's audience is every release made ``before`` the
    call, whatever fields it held: under "S leaked", a field S never received (an order
    date the scam script states) came from elsewhere (an SMS vendor knows the dates from
    its send log), so it cannot rule S out (the same review: the store was accused for its
    SMS vendor's leak because the vendor had no order time).
    """
    recips = view.recipients
    known = view.rows.filter(pl.col("customer").is_not_null())
    if day is not None:
        firsts = (
            known.group_by("key_version", "customer")
            .agg(pl.col("order_day").min().alias("first"))
            .filter(pl.col("first").is_null() | (pl.col("first") <= day))
        )
        known = known.join(firsts.select("key_version", "customer"), on=["key_version", "customer"])
    mine = known.filter(pl.col("release_id").is_in(list(sig)))
    alt = known.filter(pl.col("release_id").is_in(list(before | sig)))
    cr = mine.select("key_version", "customer", "recipient").unique()
    # the alternatives ("source"), each with its owner: a recipient's copies that held the
    # quoted fields (as before session 24), all its copies before the call, each copy
    src_cols = ("key_version", "anchor", "customer")
    alt_o = pl.concat(
        [
            mine.select(*src_cols, pl.col("recipient").alias("owner"))
            .with_columns(source=pl.lit(_WITH_FIELDS))
            .unique(),
            alt.select(*src_cols, pl.col("recipient").alias("owner"))
            .with_columns(source=pl.lit(_ALL))
            .unique(),
            alt.select(
                *src_cols, pl.col("recipient").alias("owner"), pl.col("release_id").alias("source")
            ).unique(),
        ]
    )
    alt_c = alt_o.select("key_version", "customer", "owner", "source").unique()
    base = known.select("key_version", "anchor", "customer").unique()
    versions: dict[str, set[str]] = defaultdict(set)
    for r, v in cr.select("recipient", "key_version").unique().iter_rows():
        versions[str(r)].add(str(v))
    con = duckdb.connect()
    try:
        con.register("cr", cr.to_arrow())
        con.register("alt_c", alt_c.to_arrow())
        con.register("alt_o", alt_o.to_arrow())
        con.register("base", base.to_arrow())
        shared = pl.from_arrow(
            con.sql(
                "with c as (select a.recipient r, b.owner, b.source, count(*) n "
                "  from cr a join alt_c b on a.key_version = b.key_version "
                "  and a.customer = b.customer group by 1, 2, 3), "
                "o as (select a.recipient r, b.owner, b.source, count(*) n "
                "  from cr a join alt_o b on a.key_version = b.key_version "
                "  and a.customer = b.customer group by 1, 2, 3) "
                "select c.r, c.owner, c.source, c.n n_c, coalesce(o.n, 0) n_o from c "
                "left join o on c.r = o.r and c.owner = o.owner and c.source = o.source"
            ).to_arrow_table()
        )
        sources = pl.from_arrow(
            con.sql(
                "with c as (select owner, source, count(*) a, min(key_version) v0, "
                "  max(key_version) v1 from alt_c group by 1, 2), "
                "o as (select owner, source, count(*) o from alt_o group by 1, 2) "
                "select c.owner, c.source, c.a, o.o, c.v0, c.v1 from c "
                "join o on c.owner = o.owner and c.source = o.source"
            ).to_arrow_table()
        )
        base_hits = con.sql(
            "select a.recipient r, count(*) n from cr a join base b "
            "on a.key_version = b.key_version and a.customer = b.customer group by 1"
        ).fetchall()
        base_sizes = con.sql("select key_version, count(*) from base group by 1").fetchall()
    finally:
        con.close()
    assert isinstance(shared, pl.DataFrame) and isinstance(sources, pl.DataFrame)
    a_size = {str(r): int(c) for r, c in cr.group_by("recipient").len().iter_rows()}
    in_base = {str(r): int(c) for r, c in base_hits}
    # outside the ledger: a random eligible customer of the whole base (the largest key
    # version's: a customer has one digest per version), or a random released order of it
    e_max = 0
    for v, (firsts_known, unknown) in view.first_days.items():
        del v
        size = (
            int(
                np.searchsorted(
                    firsts_known, day.toordinal() - date(1970, 1, 1).toordinal(), "right"
                )
            )
            if day is not None
            else len(firsts_known)
        ) + unknown
        e_max = max(e_max, size)
    o_max = max((int(c) for _v, c in base_sizes), default=0)
    best: dict[str, float] = {}
    arg: dict[str, str] = {}
    for r in recips:
        a_r = a_size.get(r, 0)
        best[r] = min(
            1.0,
            max(
                a_r / e_max if e_max else 1.0,
                in_base.get(r, 0) / o_max if o_max else 1.0,
            ),
        )
        arg[r] = "outside the ledger"
    # an alternative in another key version than R's (or R's in several): π bounded by 1
    # (customers are digested per version), whatever the overlap
    # (every R, also one without customers in ``sig``, as before: an empty version set
    # joined with a source's two was "not the same")
    single = {r: next(iter(v)) for r, v in versions.items() if len(v) == 1}
    kinds = list(sources.group_by("v0", "v1").agg(pl.col("owner"), pl.col("source")).iter_rows())
    for r in recips:
        mismatched = [
            (str(owner), str(name))
            for v0, v1, owners, names in kinds
            if not (v0 == v1 and single.get(r) == str(v0)) and (r in versions or v0 != v1)
            for owner, name in zip(owners, names, strict=True)
            if owner != r
        ]
        if mismatched and best[r] < 1.0:
            # the label: the first alternative by owner and kind (reproducible)
            best[r], arg[r] = 1.0, _source_label(*min(mismatched, key=_label_order))
    # the same version: the share of the alternative's customers (or orders) R holds
    # on a tie the label is the alternative's kind in this order: its copies with the
    # fields (the one there was before session 24), all its copies, one copy
    rank = (
        pl.when(pl.col("source") == _WITH_FIELDS)
        .then(0)
        .when(pl.col("source") == _ALL)
        .then(1)
        .otherwise(2)
    )
    pis = (
        shared.join(sources, on=["owner", "source"])
        .filter(pl.col("r") != pl.col("owner"))
        .with_columns(
            pi=pl.max_horizontal(pl.col("n_c") / pl.col("a"), pl.col("n_o") / pl.col("o")),
            rank=rank,
        )
        .sort(
            ["r", "pi", "owner", "rank", "source"],
            descending=[False, True, False, False, False],
        )
        .group_by("r", maintain_order=True)
        .first()
    )
    for r, owner, source, pi in pis.select("r", "owner", "source", "pi").iter_rows():
        r = str(r)
        if single.get(r) is not None and float(pi) > best[r]:
            best[r], arg[r] = min(1.0, float(pi)), _source_label(str(owner), str(source))
    return best, arg, versions


_WITH_FIELDS, _ALL = "with the fields", "all"
"""The two kinds of a recipient's alternatives besides its copies (named by release id)."""


def _label_order(alt: tuple[str, str]) -> tuple[str, int, str]:
    owner, source = alt
    return owner, {_WITH_FIELDS: 0, _ALL: 1}.get(source, 2), source


def _source_label(owner: str, source: str) -> str:
    """How an alternative is named in ``null_share_from``: the recipient (its copies that
    held the quoted fields: the alternative before session 24), or one of its copies, or
    all it held before the call."""
    if source == _WITH_FIELDS:
        return owner
    if source == _ALL:
        return f"{owner} (all its copies)"
    return f"{owner}'s copy {source}"


def build_evidence(
    ws: Workspace,
    reports: list[StoredReport],
    hits: list[CanaryHit],
    view: LedgerView | None = None,
) -> Evidence:
    from leaktrace.attribution.hits import pool_size
    from leaktrace.trace.engine import _observed

    view = view or load_view(ws)
    by_id = {e.release_id: e for e in view.entries}
    versions = sorted({e.key_version for e in view.entries})
    victims: list[VictimEvidence] = []
    vid_rows = []
    for i, r in enumerate(reports):
        ve = VictimEvidence(r, "ok", "")
        if not r.trusted:  # unsealed, unreadable or a copied row: flagged, never counted
            ve.status, ve.reason = r.status, r.reason
        elif r.status != "ok" or r.phone is None or r.reported_at is None:
            ve.status, ve.reason = "malformed", r.reason or "no usable phone or time"
        else:
            for v in versions:
                vid_rows.append((i, v, customer_digest(ws, r.phone, v)))
        victims.append(ve)
    vframe = pl.DataFrame(
        vid_rows,
        schema={"vid": pl.Int64, "key_version": pl.Int64, "customer": pl.UInt64},
        orient="row",
    )
    joined = vframe.join(view.rows, on=["key_version", "customer"], how="inner")
    per_victim: dict[int, pl.DataFrame] = {
        int(str(k[0])): g for k, g in joined.partition_by("vid", as_dict=True).items()
    }
    sig_cache: dict[
        tuple[frozenset[str], frozenset[str], date | None], tuple[dict[str, float], dict[str, str]]
    ] = {}
    index_keys = {v: ws.keys.derive("index", v) for v in versions}
    # pass 1: per report, is it usable at all?
    victim_key: dict[int, tuple[int, ...]] = defaultdict(tuple)
    for i, v, d in vid_rows:
        victim_key[i] = (*victim_key[i], v, d)
    for i, ve in enumerate(victims):
        if ve.status != "ok":
            continue
        r = ve.report
        assert r.reported_at is not None
        rows = per_victim.get(i)
        if rows is None or rows.height == 0:
            ve.status, ve.reason = "unknown_customer", "the victim is not a customer in any release"
            continue
        first = rows.get_column("order_day").min()
        if isinstance(first, date) and first > _local_date(r.reported_at):
            ve.status, ve.reason = "before_order", "the call came before the victim's first order"
            continue
    # pass 2: ONE exposure event per victim (customer digest in every key version). A
    # victim who called twice or reported through two channels is one draw from the
    # source's audience, not several: the victim's reports are merged (a field quoted in
    # any of them counts; the earliest call is the before-the-call cutoff).
    groups: dict[tuple[int, ...], list[int]] = defaultdict(list)
    for i, ve in enumerate(victims):
        if ve.status == "ok":
            groups[victim_key[i]].append(i)
    for gid, members in enumerate(groups.values()):
        reps = [victims[i].report for i in members]
        at = min(r.reported_at for r in reps if r.reported_at is not None)
        roles = {role for r in reps for role in r.roles}
        if len(members) > 1:
            ids = ", ".join(f"#{r.id}" for r in reps)
            for i in members:
                victims[i].notes.append(
                    f"one victim, {len(members)} reports ({ids}): counted once, with the "
                    "fields quoted in any of them and the earliest call time"
                )
        for i in members:
            victims[i].victim = gid
        ve = victims[members[0]]
        rows = per_victim[members[0]]
        day = _local_date(at)
        sig = frozenset(
            e.release_id
            for e in view.entries
            if view.created[e.release_id] < at and roles <= set(e.fields)
        )
        if not sig:
            ve.notes.append("no release held these fields before the call")
        earlier = frozenset(e.release_id for e in view.entries if view.created[e.release_id] < at)
        before = rows.filter(pl.col("release_id").is_in(list(earlier)))
        valid = before.filter(pl.col("release_id").is_in(list(sig)))
        held = set(valid.get_column("recipient").to_list())
        held_any = set(before.get_column("recipient").to_list())
        for rec in view.recipients:
            ve.consistent[rec] = rec in held
            ve.held[rec] = rec in held_any
        if not held and sig:
            ve.notes.append("no recipient held this victim's data with the quoted fields")
        dkey = day if (view.max_day is not None and day < view.max_day) else None
        ck = (sig, earlier, dkey)
        if ck not in sig_cache:
            best, arg, _ = _pi_table(view, sig, earlier, dkey)
            sig_cache[ck] = (best, arg)
        ve.p_null, ve.p_null_from = sig_cache[ck]
        # marks: one anchor per recipient, chosen without looking at any symbol
        for (rec,), g in before.group_by(["recipient"]):
            g = g.sort(["order_day", "anchor"], descending=[True, False], nulls_last=True)
            ve.anchors[str(rec)] = (
                int(g.item(0, "anchor")),
                str(g.item(0, "release_id")),
                int(g.item(0, "key_version")),
            )
        # aliases: every quoted order number vs each recipient's alias of this victim's
        # orders; several quotes of one victim → hit if any matches, chance ≤ the sum
        al = before.filter(pl.col("release_id").is_in([rid for rid in by_id if by_id[rid].alias]))
        nums = []
        for r in reps:
            q = r.quoted.get("order_id", r.quoted.get("order_no"))
            if isinstance(q, str) and canonical_str(q).isdigit():
                nums.append(canonical_str(q))
        for num in dict.fromkeys(nums):
            digests = {
                v: int(identity_digests(pl.DataFrame({"order_id": [num]}), key)["k_order"][0])
                for v, key in index_keys.items()
            }
            for (rec,), g in al.group_by(["recipient"]):
                g = g.unique(subset=["key_version", "anchor"])
                hit = any(
                    k is not None and k == digests[int(v)]
                    for v, k in g.select("key_version", "k_order").iter_rows()
                )
                qv = g.height * 10.0 ** -len(num) + DIGEST_COLLISION
                h0, q0 = ve.alias.get(str(rec), (False, 0.0))
                ve.alias[str(rec)] = (h0 or hit, min(1.0, q0 + qv))
        for i in members[1:]:
            victims[i].consistent = ve.consistent
            victims[i].held = ve.held
            victims[i].p_null, victims[i].p_null_from = ve.p_null, ve.p_null_from
            victims[i].anchors = ve.anchors
            victims[i].alias = ve.alias
    quoted = pl.DataFrame(
        {
            "address": [
                v.report.quoted.get("address")
                if isinstance(v.report.quoted.get("address"), str)
                else None
                for v in victims
            ],
            "product": [
                v.report.quoted.get("product")
                if isinstance(v.report.quoted.get("product"), str)
                else None
                for v in victims
            ],
        },
        schema={"address": pl.Utf8, "product": pl.Utf8},
    )
    observed = _observed(quoted) if victims else {}
    return Evidence(view, victims, _customers_phones(ws, view, hits), observed, pool_size(ws))


def _customers_phones(ws: Workspace, view: LedgerView, hits: list[CanaryHit]) -> list[CanaryHit]:
    """Hits on a pool number that a real row of some release carries as its customer's
    phone become ``customer`` hits: counted in the pool's total, never as the canary's
    recipient's. A pool holding numbers that are not the platform's own (a range typed
    wrong, a customer who typed a canary number) would otherwise let a scam call to that
    customer, from anyone's leak, accuse the recipient the number was issued to."""
    from dataclasses import replace

    from leaktrace.attribution.hits import CUSTOMER_HIT, POOL_STATUSES
    from leaktrace.attribution.reports import normalise_phone_str

    phones = {
        i: p
        for i, h in enumerate(hits)
        if h.status in POOL_STATUSES and (p := normalise_phone_str(h.contact)) is not None
    }
    versions = sorted({e.key_version for e in view.entries})
    if not phones or not versions or not view.rows.height:
        return hits
    asked = pl.DataFrame(
        [(i, v, customer_digest(ws, p, v)) for i, p in phones.items() for v in versions],
        schema={"hit": pl.Int64, "key_version": pl.Int64, "customer": pl.UInt64},
        orient="row",
    )
    real = asked.join(
        view.rows.select("key_version", "customer").unique(),
        on=["key_version", "customer"],
        how="semi",
    )
    out = list(hits)
    for i in set(real.get_column("hit").to_list()):
        status, recipient, release_id, reason = CUSTOMER_HIT
        out[i] = replace(
            hits[i], status=status, recipient=recipient, release_id=release_id, reason=reason
        )
    return out
