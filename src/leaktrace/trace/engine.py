"""Trace a leaked file to the recipient copy (or copies) it came from.

Order of operations matters for honesty (DESIGN §4):

1. The ledger must verify; otherwise nothing is compared.
2. Every channel reads its symbols from the evidence ALONE (erasures decided there).
3. Each leaked row is matched to an order (anchor) through identity digests of
   mark-invariant canonical values; ambiguous rows are dropped, duplicate anchors counted
   once (first occurrence). None of this looks at any recipient's marks.
4. Only then, per candidate (recipient, key version), expected symbols are recomputed
   from the key and compared; matches, aliases and canaries are turned into exact tail
   probabilities and corrected for every candidate considered.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import duckdb
import numpy as np
import polars as pl

from leaktrace import rewrite
from leaktrace.canary import RANDOM_ID_DIGITS
from leaktrace.channels import CHANNELS, ERASED, channel_symbols, get_channel, tardos_thresholds
from leaktrace.channels.base import erase_constant_positions
from leaktrace.errors import InputError
from leaktrace.identity import IDENTITY_KEYS, canonical_columns, identity_digests
from leaktrace.ledger import Ledger, ReleaseEntry
from leaktrace.masking.base import parse_spec
from leaktrace.prf import match_probability
from leaktrace.release import bias_key_for, mark_key_for
from leaktrace.trace.consistency import contradictions, describe
from leaktrace.trace.pool_entries import PoolStrata, number_tail
from leaktrace.trace.stats import (
    Tail,
    binomial_tail,
    bonferroni,
    check_alpha,
    tardos_scores,
    tardos_tail,
    weight_for,
    weighted_tail,
)
from leaktrace.workspace import Workspace

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CandidateResult", "TraceResult", "trace_frame"]

DEFAULT_ALPHA = 1e-9
_DIGEST_COLLISION = 2.0**-64
_FAMILIES = 4  # marks, Tardos marks, aliases, canaries: min-p over four, Bonferroni-corrected


@dataclass
class CandidateResult:
    recipient: str
    key_version: int
    releases: list[str]
    rows: int = 0
    evidence: dict[str, dict[str, int]] = field(default_factory=dict)
    score: int = 0
    aliases: int = 0
    alias_rows: int = 0
    canaries: int = 0
    """Distinct canaries the leak holds, found by either canary test (``canary_rows``,
    ``canary_numbers``)."""
    canary_rows: int = 0
    """Canary rows matched through their own order number (the row test, ``canary_q``)."""
    canary_phone_rows: int = 0
    """Canary rows matched through the phone-bearing keys alone (phone + name, phone +
    address as released) and carrying the canary's pool number: shown, not counted by the
    row test (they count only through ``canary_numbers``; see :func:`_score_canaries`).
    A bundle made before session 20's split lacks it: its ``canary_rows`` counted them."""
    canary_numbers: dict[str, int] = field(
        default_factory=lambda: {"hits": 0, "free_hits": 0, "issued": 0, "free": 0}
    )
    """The canary-number test (:func:`_score_canary_numbers`): distinct leaked phones that
    are this candidate's own canary numbers (``hits``) or pool numbers never issued
    (``free_hits``), among its ``issued`` numbers and the pool's ``free`` ones: totals over
    the whole pool, shown; the test itself runs per pool entry (``canary_number_strata``).
    A bundle made before the strata has only these, and verifies by the one-pool formula."""
    canary_number_strata: list[dict[str, Any]] = field(default_factory=list)
    """The number test per ``[canary_pool] phones`` entry holding any of the candidate's
    numbers (``entry``: its index in the list): the same four counts within the entry.
    Empty when the candidate has no hit, or when a number of its is in no entry of today's
    pool (the pool was edited since: no test, p = 1)."""
    classes: list[tuple[int, float, int, int]] = field(default_factory=list)
    tardos_hist: list[tuple[int, int, int]] = field(default_factory=list)
    tardos_score: float = 0.0
    log10_p_tardos: float = 0.0
    alias_q: float = 0.0
    canary_q: float = 0.0
    alias_counts: dict[str, Any] = field(default_factory=dict)
    log10_p_marks: float = 0.0
    log10_p_alias: float = 0.0
    log10_p_canary: float = 0.0
    log10_p: float = 0.0
    log10_p_corrected: float = 0.0
    method: str = "trivial"
    contradictions: list[dict[str, Any]] = field(default_factory=list)
    """Evidence families that say "not this copy" while it is accused (see
    :mod:`leaktrace.trace.consistency`); a flag for the analyst, not part of the p-value."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "recipient": self.recipient,
            "key_version": self.key_version,
            "releases": self.releases,
            "rows": self.rows,
            "p_value": _p(self.log10_p_corrected),
            "log10_p_value": _finite(self.log10_p_corrected),
            "p_value_uncorrected": _p(self.log10_p),
            "evidence": self.evidence,
            "score": self.score,
            "aliases": self.aliases,
            "canaries": self.canaries,
            "canary_rows": self.canary_rows,
            "canary_phone_rows": self.canary_phone_rows,
            "canary_numbers": self.canary_numbers,
            "canary_number_strata": self.canary_number_strata,
            "log10_p_by_family": {
                "marks": _finite(self.log10_p_marks),
                "aliases": _finite(self.log10_p_alias),
                "canaries": _finite(self.log10_p_canary),
                "tardos": _finite(self.log10_p_tardos),
            },
            "method": self.method,
            "classes": [
                {"observed": n, "p": p, "weight": w, "matched": k} for n, p, w, k in self.classes
            ],
            "tardos_score": self.tardos_score,
            "tardos_hist": [list(h) for h in self.tardos_hist],
            "alias_rows": self.alias_rows,
            "alias_q": self.alias_q,
            "alias_counts": self.alias_counts,
            "canary_q": self.canary_q,
            "contradictions": self.contradictions,
        }


def _p(log10: float) -> float:
    return 0.0 if log10 < -320 else 10.0**log10


def _finite(x: float) -> float:
    return -1e308 if x == -math.inf else round(x, 6)


@dataclass
class TraceResult:
    verdict: str
    alpha: float
    rows_read: int
    rows_identified: int
    rows_informative: int
    candidates: list[CandidateResult]
    accused: list[CandidateResult]
    evidence_sha256: str
    columns: dict[str, str]
    entries: list[ReleaseEntry]
    tests: int
    truncated: bool = False
    """The file held more rows than the ``rows_read`` traced (``max_rows``): the figures
    are about its first rows only, while ``evidence_sha256`` identifies the whole file."""
    warnings: list[str] = field(default_factory=list)
    """Hints about the input that change no figure: a file read in an encoding it does
    not look like (:mod:`leaktrace.trace.encoding_hint`)."""

    def summary(self) -> dict[str, Any]:
        """What ``leaktrace trace --json`` prints (and the service answers): the verdict and
        the candidates, without the evidence digest and column mapping of the bundle.
        ``warnings``: the input hints, then each contradiction of an accusation as the
        CLI prints it (the service's ``warnings`` holds those too)."""
        d = self.as_dict()
        out = {k: d[k] for k in ("verdict", "alpha", "rows", "truncated", "accused", "candidates")}
        out["warnings"] = [
            *self.warnings,
            *(describe(c.recipient, f) for c in self.accused for f in c.contradictions),
        ]
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "alpha": self.alpha,
            "rows": {
                "read": self.rows_read,
                "identified": self.rows_identified,
                "informative": self.rows_informative,
            },
            "truncated": self.truncated,
            "accused": [c.as_dict() for c in self.accused],
            "candidates": [c.as_dict() for c in self.candidates],
            "tests": self.tests,
            "evidence_sha256": self.evidence_sha256,
            "columns": self.columns,
        }


def _observed(df: pl.DataFrame) -> dict[str, np.ndarray[Any, np.dtype[np.int16]]]:
    """Step 2: every channel reads the evidence alone."""
    out = {}
    for name in sorted(CHANNELS):
        ch = get_channel(name)
        if ch.role in df.columns:
            out[name] = erase_constant_positions(ch.read(df.get_column(ch.role)), ch.alphabets)
    return out


@dataclass
class _Resolution:
    """What step 3 found, per key version (concatenated over versions).

    ``matches``: (row_id, anchor, release_id, is_canary, order_match, key_version) — each
    row's unique best anchor over ALL identity keys (used for marks and canaries).
    ``independent``: the same, but resolved WITHOUT the order-number key, so an alias test
    on these rows cannot have chosen its own anchor.
    ``alias_hits``: (row_id, release_id) — leaked order numbers equal to an order number
    released in an alias release, whatever the row's other fields say.
    ``shared_numbers``: leaked rows whose order number some index lists as a real
    (non-canary) order, or as canaries of more than one release, in any key version: such
    a number is not unique to one canary, so it is no canary evidence.
    """

    matches: pl.DataFrame
    independent: pl.DataFrame
    alias_hits: pl.DataFrame
    shared_numbers: set[int] = field(default_factory=set)


_MATCH_SCHEMA = {
    "row_id": pl.UInt32,
    "anchor": pl.UInt64,
    "release_id": pl.Utf8,
    "is_canary": pl.Boolean,
    "order_match": pl.Boolean,
    "key_version": pl.Int32,
}


def _resolve_anchors(ws: Workspace, df: pl.DataFrame, entries: list[ReleaseEntry]) -> _Resolution:
    """Step 3: match leaked rows to released orders through identity digests only.

    A row is kept only if ONE anchor matches the largest number of identity keys; an order
    matched by several leaked rows is counted once (its first row).
    """
    parts: list[pl.DataFrame] = []
    ind_parts: list[pl.DataFrame] = []
    hit_parts: list[pl.DataFrame] = []
    shared: set[int] = set()
    by_version: dict[int, list[ReleaseEntry]] = defaultdict(list)
    for e in entries:
        by_version[e.key_version].append(e)
    for version, ents in sorted(by_version.items()):
        keys = identity_digests(df, ws.keys.derive("index", version)).with_row_index("row_id")
        files = {str(ws.home / e.index_file): e.release_id for e in ents}
        alias_ids = [e.release_id for e in ents if e.alias] or [""]
        con = duckdb.connect()
        try:
            con.register("leaked", keys.to_arrow())
            con.register(
                "files",
                pl.DataFrame({"file": list(files), "release_id": list(files.values())}).to_arrow(),
            )
            con.execute(
                "create temp table idx as select i.*, f.release_id from read_parquet(?, filename=true) i "
                "join files f on i.filename = f.file",
                [list(files)],
            )
            unions = " union all ".join(
                f"select l.row_id, i.anchor, '{k}' as key from leaked l join idx i on l.{k} = i.{k}"
                for k in IDENTITY_KEYS
            )
            con.execute(f"create temp table m as {unions}")

            def chosen(where: str, con: duckdb.DuckDBPyConnection = con) -> pl.DataFrame:
                frame: pl.DataFrame = con.sql(
                    f"""
                    with per as (select row_id, anchor, count(distinct key) as nkeys
                                 from m {where} group by row_id, anchor),
                     best as (select row_id, max(nkeys) as mx from per group by row_id),
                     chosen as (select p.row_id, p.anchor from per p join best b
                                on p.row_id = b.row_id and p.nkeys = b.mx
                                qualify count(*) over (partition by p.row_id) = 1)
                    select c.row_id, c.anchor, i.release_id, i.is_canary,
                           coalesce(i.k_order is not null and i.k_order = l.k_order, false)
                             as order_match
                    from chosen c join idx i on i.anchor = c.anchor
                    join leaked l on l.row_id = c.row_id
                    """
                ).pl()
                return frame

            matched = chosen("")
            independent = chosen("where key <> 'k_order'")
            quoted = ", ".join(f"'{r}'" for r in alias_ids)
            hits = con.sql(
                f"select distinct l.row_id, i.release_id from leaked l join idx i "
                f"on l.k_order = i.k_order where i.release_id in ({quoted})"
            ).pl()
            # A canary id is random in its last 12 digits only and is checked against its
            # own batch, not the platform: it can equal a real order in another copy.
            shared.update(
                con.sql(
                    "select l.row_id from leaked l join idx i on l.k_order = i.k_order "
                    "group by l.row_id having bool_or(not i.is_canary) "
                    "or count(distinct i.release_id) filter (where i.is_canary) > 1"
                )
                .pl()
                .get_column("row_id")
                .to_list()
            )
        finally:
            con.close()
        lit = pl.lit(version, dtype=pl.Int32).alias("key_version")
        parts.append(matched.with_columns(lit))
        ind_parts.append(independent.with_columns(lit))
        hit_parts.append(hits.with_columns(lit))

    def cat(frames: list[pl.DataFrame], schema: dict[str, Any]) -> pl.DataFrame:
        frames = [f.cast({k: v for k, v in schema.items() if k in f.columns}) for f in frames]
        return pl.concat(frames) if frames else pl.DataFrame(schema=schema)

    def first_row_per_anchor(out: pl.DataFrame) -> pl.DataFrame:
        first = out.group_by("anchor").agg(pl.col("row_id").min())
        result: pl.DataFrame = out.join(first, on=["anchor", "row_id"], how="semi")
        return result

    return _Resolution(
        matches=first_row_per_anchor(cat(parts, _MATCH_SCHEMA)),
        independent=first_row_per_anchor(cat(ind_parts, _MATCH_SCHEMA)),
        alias_hits=cat(
            hit_parts, {"row_id": pl.UInt32, "release_id": pl.Utf8, "key_version": pl.Int32}
        ),
        shared_numbers=shared,
    )


def trace_frame(
    ws: Workspace,
    df: pl.DataFrame,
    *,
    alpha: float = DEFAULT_ALPHA,
    evidence_sha256: str = "",
    columns: dict[str, str] | None = None,
) -> TraceResult:
    """Trace a role-normalised frame of leaked rows (see :func:`leaktrace.trace.trace`)."""
    check_alpha(alpha)
    ledger = Ledger(ws)
    ledger.require_valid()  # step 1
    entries = ledger.entries()
    if not entries:
        raise InputError("the ledger has no releases: there is nothing to trace against")
    usable = [
        c
        for c in df.columns
        if c in {"order_id", "phone", "name", "address", "order_time", "product"}
    ]
    if not usable:
        raise InputError(
            "the leaked file has no usable columns (need at least one of order id, phone, "
            "name, address, order time, product)"
        )
    if df.height == 0:
        raise InputError("the leaked file has no data rows: there is nothing to trace")
    observed = _observed(df)  # step 2, before any candidate is considered
    resolution = _resolve_anchors(ws, df, entries)  # step 3
    matches = resolution.matches
    canon = canonical_columns(df)
    # digits of each leaked order number as the identity key sees it (whitespace folded);
    # 0 where it is empty or not all digits (then it can equal no alias)
    order_digits = (
        canon.select(
            pl.when(pl.col("order_id").str.contains(r"^[0-9]+$"))
            .then(pl.col("order_id").str.len_chars())
            .otherwise(0)
            .fill_null(0)
        )
        .to_series()
        .to_numpy()
    )
    order_numbers = canon.get_column("order_id").to_list()
    leaked_phone = canon.get_column("phone").to_list()
    by_id = {e.release_id: e for e in entries}
    tokens = ledger.canary_tokens()
    contacts = {int(t["anchor"], 16): t["contact"] for t in tokens}

    cands: dict[tuple[str, int], CandidateResult] = {}
    for e in entries:
        c = cands.setdefault(
            (e.recipient, e.key_version), CandidateResult(e.recipient, e.key_version, [])
        )
        c.releases.append(e.release_id)
    alias_rows: dict[tuple[str, int], int] = defaultdict(int)
    canaries_total: dict[tuple[str, int], int] = defaultdict(int)
    largest: dict[tuple[str, int], int] = defaultdict(int)  # rows of its largest release
    for e in entries:
        if e.alias:
            alias_rows[(e.recipient, e.key_version)] += e.rows
        canaries_total[(e.recipient, e.key_version)] += e.canaries
        largest[(e.recipient, e.key_version)] = max(largest[(e.recipient, e.key_version)], e.rows)

    informative_rows: set[int] = set()
    canary_anchors: dict[tuple[str, int], set[int]] = defaultdict(set)
    if matches.height:
        matches = matches.with_columns(
            pl.col("release_id")
            .replace_strict({k: v.recipient for k, v in by_id.items()})
            .alias("recipient")
        )
        for (recipient, version), grp in matches.group_by(
            ["recipient", "key_version"], maintain_order=True
        ):
            key = (str(recipient), int(str(version)))
            c = cands[key]
            # dedupe: a recipient that got the same order in two releases has ONE symbol set
            g = grp.unique(subset=["anchor"], keep="first", maintain_order=True)
            rels = [by_id[r] for r in sorted(g.get_column("release_id").unique().to_list())]
            c.rows = g.height
            _score_marks(ws, c, g, rels, observed, by_id, informative_rows)
            canary_anchors[key] |= _score_canaries(
                c,
                grp,
                canaries_total[key],
                largest[key],
                contacts,
                leaked_phone,
                order_digits,
                resolution.shared_numbers,
                informative_rows,
                {
                    str(r): _canary_number_kind(ws, by_id[r])
                    for r in grp.get_column("release_id").unique().to_list()
                },
            )
    # Split the alias evidence by candidate once: filtering the (rows x releases) frames
    # per candidate cost 20 s of a 300k-row trace against 1,000 recipients.
    ind_by = _by_candidate(resolution.independent, by_id)
    hits_by = _by_candidate(resolution.alias_hits, by_id)
    # test (b) counts distinct leaked numbers: one number on several rows (an order of
    # several items, a repeated row, its full-width spelling) is one chance to match
    distinct = {
        order_numbers[r]: int(order_digits[r]) for r in np.flatnonzero(order_digits > 0).tolist()
    }
    groups, sizes = np.unique(np.array(list(distinct.values()), dtype=np.int64), return_counts=True)
    digit_groups = list(zip(groups.tolist(), sizes.tolist(), strict=True))
    for key, c in cands.items():
        _score_aliases(
            c,
            ind_by.get(key, resolution.independent.clear()),
            hits_by.get(key, resolution.alias_hits.clear()),
            alias_rows[key],
            order_digits,
            order_numbers,
            digit_groups,
            informative_rows,
        )
    warnings: list[str] = []
    for key, found in _score_canary_numbers(
        ws, ledger, tokens, leaked_phone, by_id, cands, informative_rows, warnings
    ).items():
        canary_anchors[key] |= found
    for key, c in cands.items():
        c.canaries = len(canary_anchors[key])
        c.log10_p_canary = canary_log10_p(
            df.height, c.canary_q, c.canary_rows, c.canary_numbers, c.canary_number_strata
        )
    m = len(cands)
    for c in cands.values():
        best = min(c.log10_p_marks, c.log10_p_tardos, c.log10_p_alias, c.log10_p_canary)
        c.log10_p = min(0.0, best + math.log10(_FAMILIES)) if best < 0 else 0.0
        c.log10_p_corrected = bonferroni(c.log10_p, m)
    ranked = sorted(cands.values(), key=lambda c: (c.log10_p_corrected, c.recipient))
    accused = [c for c in ranked if c.log10_p_corrected <= math.log10(alpha)]
    for c in accused:
        c.contradictions = contradictions(c.as_dict(), accused=True)
    identified = matches.get_column("row_id").n_unique() if matches.height else 0
    return TraceResult(
        verdict="source identified" if accused else "no recipient identified",
        alpha=alpha,
        rows_read=df.height,
        rows_identified=identified,
        rows_informative=len(informative_rows),
        candidates=ranked,
        accused=accused,
        evidence_sha256=evidence_sha256,
        columns=columns or {},
        entries=entries,
        tests=m,
        warnings=warnings,
    )


def _score_marks(
    ws: Workspace,
    c: CandidateResult,
    g: pl.DataFrame,
    rels: list[ReleaseEntry],
    observed: dict[str, np.ndarray[Any, np.dtype[np.int16]]],
    by_id: dict[str, ReleaseEntry],
    informative_rows: set[int],
) -> None:
    key = mark_key_for(ws, c.recipient, c.key_version)
    bias_key = bias_key_for(ws, c.key_version)
    tardos_releases = [r.release_id for r in rels if r.code == "tardos"]
    classes: dict[float, list[int]] = {}
    score = 0
    t_keys: list[np.ndarray[Any, np.dtype[np.int64]]] = []
    t_score = 0.0
    for name, obs_all in observed.items():
        ch = get_channel(name)
        # rows of this candidate whose release had this channel on
        on = g.filter(
            pl.col("release_id").is_in([r.release_id for r in rels if name in r.channels])
        ).unique(subset=["anchor"], keep="first", maintain_order=True)
        if not on.height:
            continue
        row_ids = on.get_column("row_id").to_numpy()
        anchors = on.get_column("anchor").to_numpy().astype(np.uint64)
        obs = obs_all[row_ids]
        is_t = on.get_column("release_id").is_in(tardos_releases).to_numpy()
        exp = channel_symbols(ch, key, anchors)
        thresholds = None
        if is_t.any():
            thresholds = tardos_thresholds(ch, bias_key, anchors)
            exp_t = channel_symbols(ch, key, anchors, code="tardos", bias_key=bias_key)
            exp = np.where(is_t[:, None], exp_t, exp).astype(np.int16)
        readable = obs != ERASED
        hit = readable & (obs == exp)
        informative_rows.update(row_ids[readable.any(axis=1)].tolist())
        n_obs, n_hit = int(readable.sum()), int(hit.sum())
        c.evidence[name] = {"observed": n_obs, "matched": n_hit}
        for j, k in enumerate(ch.alphabets):
            if k == 2 and thresholds is not None:
                # Tardos rows of binary positions: Škorić score, own family
                sel = readable[:, j] & is_t
                t_score += float(tardos_scores(thresholds[sel, j], obs[sel, j], exp[sel, j]).sum())
                t_keys.append(
                    thresholds[sel, j].astype(np.int64) * 2 + obs[sel, j].astype(np.int64)
                )
                fair = readable[:, j] & ~is_t
            else:
                fair = readable[:, j]
            p = match_probability(k)
            w = weight_for(p)
            cls = classes.setdefault(p, [0, 0, w])  # observed, matched, weight
            cls[0] += int(fair.sum())
            cls[1] += int((hit[:, j] & fair).sum())
            score += w * int((hit[:, j] & fair).sum())
    c.score = score
    if t_keys:
        keys, counts = np.unique(np.concatenate(t_keys), return_counts=True)
        c.tardos_hist = [
            (int(k // 2), int(k % 2), int(n)) for k, n in zip(keys, counts, strict=True)
        ]
        c.tardos_score = t_score
        c.log10_p_tardos = tardos_tail(c.tardos_hist, t_score).log10
    c.classes = [(n, p, w, k) for p, (n, k, w) in classes.items()]
    tail: Tail = weighted_tail([(n, p, w) for p, (n, _, w) in classes.items()], score)
    c.log10_p_marks = tail.log10
    c.method = tail.method


def _by_candidate(
    frame: pl.DataFrame, by_id: dict[str, ReleaseEntry]
) -> dict[tuple[str, int], pl.DataFrame]:
    """Rows of ``frame`` from alias releases, split by (recipient, key version)."""
    alias_ids = [r for r, e in by_id.items() if e.alias]
    if not frame.height or not alias_ids:
        return {}
    tagged = frame.filter(pl.col("release_id").is_in(alias_ids)).with_columns(
        pl.col("release_id")
        .replace_strict({r: by_id[r].recipient for r in alias_ids})
        .alias("_recipient")
    )
    return {
        (str(r), int(str(v))): grp.drop("_recipient")
        for (r, v), grp in tagged.group_by(["_recipient", "key_version"], maintain_order=True)
    }


def _score_aliases(
    c: CandidateResult,
    independent: pl.DataFrame,
    alias_hits: pl.DataFrame,
    alias_rows: int,
    order_digits: np.ndarray[Any, np.dtype[np.int64]],
    order_numbers: list[str | None],
    digit_groups: list[tuple[int, int]],
    informative_rows: set[int],
) -> None:
    """Aliases: two tests, combined by Bonferroni (×2).

    ``independent`` and ``alias_hits`` are this candidate's rows of the resolution's frames
    (alias releases of its key version only); ``digit_groups`` is (digit count, distinct
    leaked numbers with that many digits) over the whole leak; ``order_numbers`` is each
    row's canonical order number.

    (a) Rows whose order was found WITHOUT the order-number key and that this candidate
        received in an alias release: the leaked number equals its FF1 alias of THAT order
        with chance ≤ 10^-d per row (d digits) if the number did not come from its copy.
    (b) Every distinct leaked number (grouped by digit count d): equals ANY of this
        candidate's N aliases with chance ≤ N·10^-d; groups combined by Bonferroni.
    """
    if not alias_rows:
        return
    ind = independent.unique(subset=["anchor"], keep="first", maintain_order=True)
    ind = ind.filter(pl.Series(order_digits[ind.get_column("row_id").to_numpy()] > 0))
    tests: list[float] = []
    counts_a: list[float] = []
    counts_b: list[list[float]] = []
    hit_rows: set[int] = set()
    counts_real: list[float] = []
    if ind.height:
        d_a = int(order_digits[ind.get_column("row_id").to_numpy()].min())
        q_a = min(1.0, 10.0**-d_a + _DIGEST_COLLISION)
        hits_a = ind.filter(pl.col("order_match"))
        hit_rows.update(hits_a.get_column("row_id").to_list())
        tests.append(binomial_tail(ind.height, q_a, hits_a.height).log10)
        counts_a = [ind.height, q_a, hits_a.height]
        # the same over rows that are no canaries: what the contradiction check reads (a
        # planted canary row carries this candidate's alias of its own order number)
        real = ind.filter(~pl.col("is_canary"))
        counts_real = [real.height, q_a, int(real.get_column("order_match").sum())]
        c.alias_q = q_a
        c.alias_rows = ind.height
    hit_b_rows = set(alias_hits.get_column("row_id").to_list())
    hit_rows.update(hit_b_rows)
    if digit_groups:
        hit_numbers = {order_numbers[r]: int(order_digits[r]) for r in hit_b_rows}
        hit_digits = np.array(list(hit_numbers.values()), dtype=np.int64)
        group_tests = []
        for d, n_d in digit_groups:
            k_d = int((hit_digits == d).sum())
            q_d = min(1.0, alias_rows * (10.0**-d + _DIGEST_COLLISION))
            group_tests.append(binomial_tail(n_d, q_d, k_d).log10)
            counts_b.append([n_d, q_d, k_d])
        tests.append(min(0.0, min(group_tests) + math.log10(len(digit_groups))))
    c.aliases = len(hit_rows)
    # kept with no hit too: "none of n rows carries its alias" is what the contradiction
    # check must see (the p-value is recomputed from them only when there are hits)
    c.alias_counts = {
        "independent": counts_a,
        "by_digits": counts_b,
        "independent_real": counts_real,
    }
    if hit_rows:
        informative_rows.update(hit_rows)
        c.log10_p_alias = alias_log10_p(counts_a, counts_b)


def alias_log10_p(counts_a: list[float], counts_b: list[list[float]]) -> float:
    """The alias family's log10 p from its counts (also used to re-verify bundles)."""
    tests = []
    if counts_a:
        tests.append(binomial_tail(int(counts_a[0]), counts_a[1], int(counts_a[2])).log10)
    if counts_b:
        group = [binomial_tail(int(n), q, int(k)).log10 for n, q, k in counts_b]
        tests.append(min(0.0, min(group) + math.log10(len(group))))
    if not tests:
        return 0.0
    return min(0.0, min(tests) + math.log10(2))


def _score_canaries(
    c: CandidateResult,
    grp: pl.DataFrame,
    canaries_total: int,
    largest_release: int,
    contacts: dict[int, str],
    leaked_phone: list[str | None],
    order_digits: np.ndarray[Any, np.dtype[np.int64]],
    shared_numbers: set[int],
    informative_rows: set[int],
    kinds: Mapping[str, CanaryNumberKind],
) -> set[int]:
    """Canaries, the row test: a leaked row counts only if it carries the canary's own order
    number, a value nobody outside the copy can know. Returns the anchors of the canaries
    it counted; sets ``canary_rows``, ``canary_q`` and ``canary_phone_rows`` (the family's
    p-value is :func:`canary_log10_p`).

    Canary rows go through the recipient's masking, so a masked name + district can match
    many real customers: name + address never suffices. Nor does the canary's phone with
    what the copy shows next to it (``k_phone_name``, ``k_phone_addr``): the phone is a
    pool number anyone who knows the pool can list, and a masked name (王*, one surname
    among a few hundred) or a district is easily guessed, so a file that walks the pool
    block with common surnames attached, leaving out its maker's own canaries, matches a
    few of every other recipient's canaries. Scored as a digest collision (2^-64 per key)
    it accused all of them at 10^-12 and beyond (session 20's review). Such rows
    (``canary_phone_rows``) count only through the number test
    (:func:`_score_canary_numbers`), whose chance holds against a generated list. The
    order number (a real-looking random number, or the recipient's keyed FF1 alias of it)
    cannot be listed that way, unless a plain number was drawn among those a filter on
    the order number passes or a masking operator shows it in part: ``kinds`` says, per
    release, which (:func:`_canary_number_kind`); a ``listable`` release's canaries count
    only through their pool numbers, and a ``plain`` one's only on an all-digit number
    (the chance below counts digits). It counts when no index lists it as a real order or
    as another release's canary (``shared_numbers``). Chance under the null: the order
    number equals a leaked number of d digits with chance ≤ (10/9)·10^-min(d, 12)
    (its last 12 digits are fresh, a leading one is never 0) — and, because a canary's
    number is drawn again when it equals a real order of its batch, with chance ≤
    1 / (S − E), S the 0.9·10^d (or, past 12 digits, 10^12) numbers it is drawn from and E
    at most the rows of the recipient's largest release: for short order numbers in a
    dense shop (6 digits, 200,000 orders in a batch) the second bound is the larger, by
    about 30 %, and it is the one used. An alias is uniform under the recipient's key, which is
    within both bounds.
    """
    can = grp.filter(pl.col("is_canary")).unique(subset=["anchor"], keep="first")
    if not can.height:
        return set()
    rows = can.get_column("row_id").to_list()
    ok = [
        bool(om)
        and row not in shared_numbers
        and kinds.get(rel, "listable") != "listable"
        and (kinds.get(rel) == "keyed" or order_digits[row] > 0)
        for row, om, rel in zip(
            rows,
            can.get_column("order_match").to_list(),
            can.get_column("release_id").to_list(),
            strict=True,
        )
    ]
    c.canary_phone_rows = sum(
        not good and leaked_phone[row] is not None and leaked_phone[row] == contacts.get(int(a))
        for good, row, a in zip(ok, rows, can.get_column("anchor").to_list(), strict=True)
    )
    can = can.filter(pl.Series(ok))
    if not can.height:
        return set()
    c.canary_rows = can.height
    informative_rows.update(can.get_column("row_id").to_list())
    nz = order_digits[order_digits > 0]
    d_min = int(nz.min()) if len(nz) else 0
    by_chance = 0.0
    if d_min:
        drawn_from = 0.9 * 10.0**d_min if d_min <= RANDOM_ID_DIGITS else 10.0**RANDOM_ID_DIGITS
        by_chance = max(
            10.0 / 9.0 * 10.0 ** -min(d_min, RANDOM_ID_DIGITS),
            1.0 / (drawn_from - largest_release) if drawn_from > largest_release else 1.0,
        )
    per_row = len(IDENTITY_KEYS) * _DIGEST_COLLISION + by_chance
    q = min(1.0, canaries_total * per_row)
    c.canary_q = q
    return {int(a) for a in can.get_column("anchor").to_list()}


_PHONE_WORD = re.compile(r"\bphone\b", re.IGNORECASE)


def _policy_hash(policy: dict[str, Any], where: str | None) -> str:
    """``ReleasePlan.policy_hash``: what a release record's ``policy_hash`` covers."""
    body = {"policy": policy, "where": where}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _not_a_pool_draw(ws: Workspace, e: ReleaseEntry) -> str | None:
    """Why release ``e``'s canary numbers are not a uniform draw among the pool's free
    numbers (then the number test leaves them out), or None.

    A Spark release (``output_format`` ``parquet-dir`` / ``csv-dir``) draws each
    partition's numbers from a strided slice of the pool (``pool[p::P]``). A release whose
    recipient's ``where`` filter names the phone kept only the canaries whose number passes
    it (the others are drawn again). The record does not hold the filter, only
    ``policy_hash`` over the policy and the filter: the filter is known when today's
    policy with today's filter (or none) gives that hash; otherwise the policy or the
    filter changed since, and the filter could have named the phone.
    """
    if e.output_format.endswith("-dir"):
        return "made on Spark (each partition draws from a slice of the pool)"
    known, where = _filter_of(ws, e)
    if not known:
        return "its policy or where filter changed since (the filter could name the phone)"
    if where and _PHONE_WORD.search(where):
        return f"its recipient's where filter names the phone ({where})"
    return None


def _filter_of(ws: Workspace, e: ReleaseEntry) -> tuple[bool, str | None]:
    """``(True, where)``: release ``e`` was made under today's policy with ``where`` (None
    or ``""``: no filter). ``(False, None)``: the policy or the filter changed since — the
    record keeps only ``policy_hash`` over them, so the filter it was made with is unknown.
    """
    policy = ws.config.policies.get(e.policy_name)
    recipient = ws.config.recipients.get(e.recipient)
    if policy is not None:
        dump = policy.model_dump(mode="json")
        for where in dict.fromkeys([recipient.where if recipient else None, None, ""]):
            if _policy_hash(dump, where) == e.policy_hash:
                return True, where
    return False, None


_ORDER_ID_WORD = re.compile(r"\border_id\b", re.IGNORECASE)


CanaryNumberKind = Literal["keyed", "plain", "listable"]
"""How a release's copy shows its canaries' order numbers, for the row test: ``keyed``
(the recipient's FF1 alias or keyed digest), ``plain`` (the number itself, drawn freely),
``listable`` (a list made without any copy can hold it)."""


def _canary_number_kind(ws: Workspace, e: ReleaseEntry) -> CanaryNumberKind:
    """How release ``e``'s copy shows its canaries' order numbers (:data:`CanaryNumberKind`).

    The row test's chance takes a canary's shown number as unguessable: its keyed FF1
    alias (``e.alias``), its keyed digest, or the plain number with up to 12 fresh digits.
    Three ways it is not, each found by session 21's reviews: a filter on the order
    number's digits (``… % 250 = 78``) keeps only canaries whose numbers pass it, so they
    come from a 250th of that range, and a list of every passing number held them all
    (an innocent recipient accused at 10^-29); a masking operator that shows the number in
    part (``mask_card``, ``mask_id``: ``**************2974``) leaves ten thousand forms per
    length, all listable (10^-380); and a plain number that is not all digits (``SO7125…``)
    has a random part the digit-counting chance does not see (``plain``: such matches do
    not count). The operator and the filter are known only when today's policy and filter
    give the record's ``policy_hash`` (:func:`_filter_of`); otherwise either could have
    been one of these.
    """
    if e.alias:
        return "keyed"
    known, where = _filter_of(ws, e)
    policy = ws.config.policies.get(e.policy_name)
    if not known or policy is None:
        return "listable"
    spec = policy.fields.get("order_id")
    if spec is None:  # not sent: nothing of it can match
        return "listable"
    op = parse_spec(spec).name
    if op == "digest":
        return "keyed"
    if op != "keep" or (where and _ORDER_ID_WORD.search(where)):
        return "listable"
    return "plain"


def _score_canary_numbers(
    ws: Workspace,
    ledger: Ledger,
    tokens: list[dict[str, str]],
    leaked_phone: list[str | None],
    by_id: dict[str, ReleaseEntry],
    cands: dict[tuple[str, int], CandidateResult],
    informative_rows: set[int],
    warnings: list[str] | None = None,
) -> dict[tuple[str, int], set[int]]:
    """Canaries, the number test: a leaked phone that is a canary's own pool number counts
    for that canary's recipient on its own, without any other field of the row (a scam
    list of phone numbers, 号码包, keeps nothing else). Returns, per candidate with a
    hit, the anchors of the canaries whose numbers the leak holds.

    Why not the row test's chance (a digest collision, 2^-64): a phone number alone can be
    generated. Lists of numbers made by walking a number block and keeping the live ones
    (空号检测) hold EVERY live pool number, every recipient's canaries among them, and
    would accuse every recipient at 10^-50. So the chance comes from how canary numbers
    are issued: each release draws its numbers uniformly among the pool numbers no
    release has used or reserved (``Ledger.reserve_canary_contacts``). Given every other
    release's numbers, R's are then a uniformly random set among R's and the free ones,
    whatever a leak not made from R's copy holds — also one made by another recipient
    who knows its own canaries and leaves them out. So, among the leaked numbers that are
    R's or never issued (``hits + free_hits``), the count of R's is Hypergeometric(
    ``issued + free``, ``issued``, ``hits + free_hits``), and its exact tail is the
    p-value (:func:`canary_log10_p`). A generated list holds the free numbers in
    proportion and accuses nobody; a list of R's copy holds R's numbers and few free ones.

    Per pool entry (session 20's review). The pool is today's ``[canary_pool]``, and a
    pool that grew since R's release (a block added, as a release short of numbers tells
    users to do) made R's numbers look drawn from numbers they could never be: a walk of
    the old block holds all of R's numbers and only the old block's free ones, and accused
    R at 10^-59. Within one entry (one number or one range) a uniform draw over the pool,
    conditioned on landing in that entry, is uniform over the entry's free numbers, also
    when entries were added later: so the counts are taken per entry, one tail per entry
    holding any of R's numbers (``canary_number_strata``), and R's number test is the
    smallest times their count (Bonferroni). Numbers that overlapping entries list more
    than once were drawn more often (the draw walks listed positions): they are a stratum
    of their own per set of entries listing them (:class:`PoolStrata`, ``listed_in``;
    session 24's review: a list of a doubly listed block accused at 10^-45). Not detectable: a range extended in place (docs/policy.md:
    add a new entry instead). A number of R's in no entry of today's pool (the pool
    shrank or a range changed): no test for R (p = 1), said in ``warnings``.

    Numbers that are no uniform draw from the free ones are out of the test, as another
    recipient's are (neither R's nor free): those of Spark releases and of releases whose
    ``where`` names the phone (or may: :func:`_not_a_pool_draw`).

    Numbers that name nobody count for nobody: one held by several releases (older
    ledgers), one some release carries as a real customer's phone (a pool typed wrong: a
    leak of that customer from anyone's copy would carry it), one never issued. A
    customer-held number of R's own is dropped from R's ``issued`` only when the leak
    holds it (the rest stay: more of R's numbers only raises R's p-value). Open
    reservations (releases running or crashed) are not free: subtracted from every
    entry's ``free`` (their entries are not known; that only lowers ``free``,
    conservative).
    """
    phone_tokens = [t for t in tokens if t.get("kind") == "phone"]
    leaked = pl.Series("phone", leaked_phone, dtype=pl.Utf8).drop_nulls().unique()
    if not phone_tokens or not len(leaked):
        return {}
    numbers = rewrite.canonical_phone(
        pl.Series("contact", [t["contact"] for t in phone_tokens], dtype=pl.Utf8)
    ).to_list()
    owners: dict[str, set[str]] = defaultdict(set)
    anchor_of: dict[str, int] = {}
    for t, number in zip(phone_tokens, numbers, strict=True):
        if number:
            owners[number].add(t["release_id"])
            anchor_of[number] = int(t["anchor"], 16)
    why_out: dict[str, str | None] = {}

    def counted(number: str) -> bool:
        """Held by one release of the ledger, which drew it uniformly from the pool."""
        rels = owners[number]
        if len(rels) != 1 or next(iter(rels)) not in by_id:
            return False
        rid = next(iter(rels))
        if rid not in why_out:
            why_out[rid] = _not_a_pool_draw(ws, by_id[rid])
        return why_out[rid] is None

    held = leaked.filter(leaked.is_in(list(owners))).to_list()
    sole = [p for p in held if counted(p)]
    if not sole:
        _warn_left_out(held, owners, by_id, why_out, warnings)
        return {}
    from leaktrace.attribution.hits import customers_among  # attribution imports this module

    customer = customers_among(ws, sole)

    def owner(number: str) -> tuple[str, int]:
        e = by_id[next(iter(owners[number]))]
        return e.recipient, e.key_version

    pool = ws.config.canary_pool
    strata = PoolStrata(list(pool.phones))
    entry = dict(zip(list(owners), strata.of(list(owners)).tolist(), strict=True))
    hits: dict[tuple[str, int], list[str]] = defaultdict(list)
    dropped: dict[tuple[tuple[str, int], int], int] = defaultdict(int)
    for p in sole:
        if p in customer:
            dropped[(owner(p), entry[p])] += 1
        else:
            hits[owner(p)].append(p)
    _warn_left_out(held, owners, by_id, why_out, warnings)
    if not hits:
        return {}
    issued: dict[tuple[tuple[str, int], int], int] = defaultdict(int)
    for number in owners:
        if counted(number):
            issued[(owner(number), entry[number])] += 1
    n_entries = len(strata)
    taken = np.bincount([j for j in entry.values() if j >= 0], minlength=n_entries)
    unissued = leaked.filter(~leaked.is_in(list(owners))).to_list()
    un_entry = strata.of(unissued)
    free_hits = np.bincount(un_entry[un_entry >= 0], minlength=n_entries).tolist()
    reserved = sum(int(r["numbers"]) for r in ledger.canary_reservations())
    sizes = strata.sizes
    free = [max(sizes[j] - int(taken[j]) - reserved, free_hits[j]) for j in range(n_entries)]
    found: dict[tuple[str, int], set[int]] = {}
    for key, phones in hits.items():
        mine = {j: n - dropped[(key, j)] for (k, j), n in issued.items() if k == key and n > 0}
        per_entry = defaultdict(int, {j: 0 for j in mine})
        for p in phones:
            per_entry[entry[p]] += 1
        cands[key].canary_numbers = {
            "hits": len(phones),
            "free_hits": int(sum(free_hits)),
            "issued": sum(mine.values()),
            "free": int(sum(free)),
        }
        outside = mine.get(-1, 0)
        if outside:
            cands[key].canary_number_strata = []
            if warnings is not None:
                warnings.append(
                    f"{key[0]} (key v{key[1]}): {outside} of its canary numbers are in no entry "
                    "of today's [canary_pool] phones (the pool was edited since its release): "
                    "its leaked canary numbers are not tested (p = 1)"
                )
        else:
            cands[key].canary_number_strata = [
                {
                    "entry": strata.first_entry(j),
                    **(
                        {"listed_in": list(strata.signatures[j])}
                        if len(strata.signatures[j]) > 1
                        else {}
                    ),
                    "hits": per_entry[j],
                    "free_hits": free_hits[j],
                    "issued": n,
                    "free": free[j],
                }
                for j, n in sorted(mine.items())
                if n > 0
            ]
        found[key] = {anchor_of[p] for p in phones}
    every = [p for phones in hits.values() for p in phones]
    rows = pl.Series("phone", leaked_phone, dtype=pl.Utf8).is_in(every).fill_null(False)
    informative_rows.update(np.flatnonzero(rows.to_numpy()).tolist())
    return found


def _warn_left_out(
    held: list[str],
    owners: dict[str, set[str]],
    by_id: dict[str, ReleaseEntry],
    why_out: dict[str, str | None],
    warnings: list[str] | None,
) -> None:
    """One warning per recipient whose leaked canary numbers the number test left out
    (:func:`_not_a_pool_draw`)."""
    if warnings is None:
        return
    out: dict[str, list[str]] = defaultdict(list)
    for p in held:
        rels = owners[p]
        rid = next(iter(rels))
        if len(rels) == 1 and why_out.get(rid):
            out[rid].append(p)
    by_recipient: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for rid, phones in out.items():
        by_recipient[by_id[rid].recipient].append((rid, len(phones)))
    for name, left in sorted(by_recipient.items()):
        n = sum(k for _, k in left)
        reasons = "; ".join(sorted({f"{rid}: {why_out[rid]}" for rid, _ in left}))
        warnings.append(
            f"{name}: {n} leaked canary numbers of its are not tested, their release's "
            f"numbers being no uniform draw from the pool ({reasons})"
        )


def canary_log10_p(
    rows_read: int,
    canary_q: float,
    canary_rows: int,
    numbers: dict[str, int] | None,
    strata: list[dict[str, int]] | None = None,
) -> float:
    """The canary family's log10 p from its counts (also used to re-verify bundles): the
    smaller of the row test (Binomial(rows read, ``canary_q``) ≥ ``canary_rows``) and the
    number test (:func:`_score_canary_numbers`), times 2 (Bonferroni over the two).

    The number test: with ``strata`` (since session 20's review), one hypergeometric tail
    per pool entry, the smallest times their count (none: p = 1); without (a bundle made
    before), one over the whole pool from ``numbers``. ``numbers`` is None for a bundle
    made before the number test: its one test, as then (whatever ``strata`` says). A
    bundle made before ``canary_phone_rows`` counted in ``canary_rows`` the canaries
    matched through a phone-bearing key too: the formula is the same, so it verifies as
    made (what its figure rests on is what changed, see :func:`_score_canaries`).
    """
    row = binomial_tail(rows_read, canary_q, canary_rows).log10 if canary_rows else 0.0
    if numbers is None:
        return row
    if strata is not None:
        tails = [number_tail(s) for s in strata]
        num = min(0.0, min(tails) + math.log10(len(tails))) if tails else 0.0
    else:
        num = number_tail(numbers)
    best = min(row, num)
    return min(0.0, best + math.log10(2)) if best < 0 else 0.0


def frame_digest(df: pl.DataFrame | pd.DataFrame) -> str:
    import io

    buf = io.BytesIO()
    (df if isinstance(df, pl.DataFrame) else pl.from_pandas(df)).write_ipc(buf)
    return hashlib.sha256(buf.getvalue()).hexdigest()
