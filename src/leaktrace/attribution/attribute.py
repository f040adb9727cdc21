"""Attribute a scam wave to the recipient whose copy the scammers used — or to nobody.

Families of evidence for a candidate recipient R, each a p-value valid under
"R did not supply these reports":

1. **Exposure with a composite null.** Victim v (call time t_v, quoted roles q_v) is
   *consistent* with R when R received v's data, in a release that carried every role
   in q_v, before t_v (a recipient that never saw the card digits cannot have supplied
   them). k_R = number of consistent victims among the n eligible ones. A victim is one
   exposure event however many reports they file (called back, reported by phone and by
   app): reports are grouped by the victim's customer digest (every key version), merged
   (q_v = every role quoted in ANY of them, t_v = the EARLIEST call) and counted once —
   ten reports of one victim are one draw from the source's audience, not ten.
   If R is innocent, each report came from some other source S: another recipient, or
   "outside the ledger" (platform-internal, unmarked, a different leak), modelled as a
   uniformly random customer of the ledger's customer base. S is a recipient's whole
   audience or any one of its copies (a release: what leaks is a file, and one monthly
   export of S can look exactly like an innocent R). Under "v came from S", v is a random
   member of S's audience A_S(t_v) (customers S held before t_v, whatever fields: a field
   S lacked came from elsewhere), so v is consistent with R (A_R(t_v, q_v): held with
   the quoted roles) with probability
   π_{R|S,v} = |A_R ∩ A_S| / |A_S| (for "outside": |A_R| / |customer base|).
   Sources may differ between victims (a mixture), so P(v consistent with R) ≤
   p_v = max_S π_{R|S,v}, over every S that could have supplied v's report, and victims
   are independent; k_R is then stochastically dominated by Binomial(n, max_v p_v) and
   R's p-value is that exact binomial tail. Because of the max, a merchant whose orders
   mostly go through one courier, or a service firm that sees everyone, is never accused
   for the courier's leak: the courier as an alternative explains the merchant's
   concentration (π_{merchant|courier} is large), and vice versa.
   Releases with different key versions hash customers differently; where R's and S's
   audiences are in different versions π_{R|S} is bounded by 1 (conservative).
2. **Aliases.** A quoted order number equal to R's FF1 alias of one of that victim's c
   orders: under the null the number did not come from R's copy, and R's alias is a keyed
   pseudorandom d-digit number, so equality has chance ≤ c·10^-d (+2^-64 for digests);
   the count of hits over victims who quoted a number is dominated by a binomial.
3. **Formatting.** A verbatim quoted address / product title is read by the mark
   channels from the evidence ALONE (erasures decided there, DESIGN §4 trap 1), then
   compared with R's keyed symbols of one anchor per victim chosen without looking at any
   symbol (the victim's latest order R held before the call) — the trace engine's own
   scoring (``leaktrace.trace.engine._score_marks``), exact weighted binomial tail.
4. **Canary hits.** A call to one of R's canary contact points. Each release draws its
   contacts uniformly among the pool's free ones, so given every other release's
   contacts, R's K_R are a uniformly random subset of R's ∪ the F free ones (never
   issued, not reserved), whatever the callers did — also a framer who calls every pool
   number but its own. Among the n distinct hit contacts that are R's or free (other
   releases' contacts, ambiguous and customer-held ones left out: they say nothing about
   R under the null), the count h of R's is then Hypergeometric(K_R + F, K_R, n), and its
   exact tail is the p-value, per kind (phones, mailboxes: drawn from separate lists),
   Bonferroni over the kinds with such hits. Phones per ``[canary_pool]`` entry, as
   ``trace`` does: K_R, F, n and h within each entry holding any of R's numbers, the
   smallest tail times their count (a pool grown since R's release otherwise counted the
   new block's numbers in F, and a walk of the old block accused R). A hit where the
   caller used the canary persona's details counts as a plain hit. Before session 20
   this was Binomial(pool hits, K_R/|pool|), which a framer who knows the pool and its
   own numbers beat: every other recipient had all its numbers hit among P − K_B calls.

**Combination.** Conditional on the victims' identities, families 2–4 depend only on
independent keyed PRFs (alias key, R's mark key) and the dialling process, so each is
super-uniform given everything before it; family 1 is super-uniform. Such p-values can be
coupled to be ≥ independent uniforms, so P(Π p_f ≤ c) ≤ c·Σ_{j<F}(−ln c)^j/j! (Fisher's
product bound), used with F = the number of families enabled (fixed in advance). Then a
Bonferroni correction over every recipient in the ledger bounds the probability of
accusing ANY innocent recipient.

**One alpha per run.** ``attribute`` makes two kinds of accusation: the overall verdict
and the campaign flags. alpha is split (``ALPHA_SPLIT`` = 2): the overall verdict spends
alpha/2 (p-values are multiplied by 2 × recipients), and all campaign looks together
spend the other alpha/2 (each look of campaign c, one per report, is multiplied by
2 × recipients × campaigns × looks_c, so Σ over campaigns and looks ≤ alpha/2). The
reported corrected p-values include these factors and are compared with alpha itself;
by the union bound the probability of accusing any innocent recipient anywhere in one
run is ≤ alpha. Without campaigns (``with_campaigns=False``) the verdict gets all of it.

Limits: the exposure null assumes a report's identity is independent of its quoted roles
and call time given the source; a victim who wrongly says the caller knew a field can
remove the true source's consistency (less power, and see docs/attribution.md). "Outside
the ledger" is modelled as a UNIFORMLY random ledger customer: a regional or
category-specific internal leak concentrates victims where a regional courier or a
category merchant also concentrates, and can make such a recipient look like the source
by exposure alone (aliases, formatting and canaries do not depend on this model).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl

from leaktrace.attribution.erasure import erased_count
from leaktrace.attribution.evidence import Evidence, build_evidence, contact_kind, load_view
from leaktrace.attribution.hits import contact_key, stored_hits
from leaktrace.attribution.reports import load_stored_reports
from leaktrace.trace.engine import CandidateResult, _score_marks
from leaktrace.trace.pool_entries import PoolStrata, number_tail
from leaktrace.trace.stats import binomial_tail, bonferroni, check_alpha, hypergeom_tail
from leaktrace.workspace import Workspace

__all__ = [
    "ALL_FAMILIES",
    "AttributionResult",
    "Candidate",
    "attribute",
    "attribute_evidence",
    "fisher_bound",
    "holders_words",
    "score",
    "selection_caveats",
]

ALL_FAMILIES = ("exposure", "aliases", "formatting", "canaries")
ALPHA_SPLIT = 2
"""alpha/2 for the overall verdict, alpha/2 shared by every campaign look (one run)."""
DEFAULT_ALPHA = 1e-9
ALSO_HELD_SHARE = 0.9
"""A recipient that held at least this share of the victims an exposure-only accusation
rests on is named beside it (:func:`selection_caveats`)."""


def _finite(x: float) -> float:
    return -1e308 if x == -math.inf else round(x, 6)


def _p(log10: float) -> float:
    return 0.0 if log10 < -320 else 10.0**log10


def fisher_bound(log10_ps: list[float]) -> float:
    """log10 of P(Π U_i ≤ Π p_i) for len(log10_ps) independent uniforms (≥ the truth)."""
    f = len(log10_ps)
    if not f:
        return 0.0
    s = sum(log10_ps)
    if s >= 0:
        return 0.0
    if s == -math.inf:
        return -math.inf
    big_l = -s * math.log(10)  # -ln c
    # log Σ_{j<f} L^j / j!  (stable: terms are positive)
    logs = [j * math.log(big_l) - math.lgamma(j + 1) if j else 0.0 for j in range(f)]
    m = max(logs)
    log_sum = m + math.log(sum(math.exp(x - m) for x in logs))
    return min(0.0, s + log_sum / math.log(10))


@dataclass
class Candidate:
    recipient: str
    victims: int = 0
    consistent: int = 0
    pi: float = 0.0
    pi_from: str = ""
    alias_quoted: int = 0
    alias_hits: int = 0
    alias_q: float = 0.0
    marks: dict[str, dict[str, int]] = field(default_factory=dict)
    canary_hits: int = 0
    canary_pool_hits: int = 0
    canary_draws: int = 0
    """Distinct hit contacts that are this recipient's or free (the hypergeometric's draws)."""
    canary_issued: int = 0
    canary_free: int = 0
    canary_q: float = 0.0
    """canary_issued / (canary_issued + canary_free): the share of a draw's chance to be
    this recipient's under the null (every kind together; the test is per kind, and for
    phones per pool entry: ``canary_strata``)."""
    canary_strata: list[dict[str, Any]] = field(default_factory=list)
    """The phone test per ``[canary_pool] phones`` entry holding any of this recipient's
    numbers (``entry``: its index in the list): hits, free_hits, issued, free within it.
    Empty without a phone hit on its or a free number, or when ``canary_outside``."""
    canary_outside: int = 0
    """This recipient's canary numbers in no entry of today's pool (the pool was edited
    since its release): its phone hits are then not tested (p = 1)."""
    log10_p_family: dict[str, float] = field(default_factory=dict)
    log10_p: float = 0.0
    log10_p_corrected: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "recipient": self.recipient,
            "p_value": _p(self.log10_p_corrected),
            "log10_p_value": _finite(self.log10_p_corrected),
            "p_value_uncorrected": _p(self.log10_p),
            "log10_p_by_family": {k: _finite(v) for k, v in self.log10_p_family.items()},
            "evidence": {
                "exposure": {
                    "victims": self.victims,
                    "consistent": self.consistent,
                    "null_share_max": round(self.pi, 6),
                    "null_share_from": self.pi_from,
                },
                "aliases": {
                    "quoted": self.alias_quoted,
                    "matched": self.alias_hits,
                    "chance_per_quote": self.alias_q,
                },
                "formatting": self.marks,
                "canaries": {
                    "hits": self.canary_hits,
                    "pool_hits": self.canary_pool_hits,
                    "hits_own_or_free": self.canary_draws,
                    "issued": self.canary_issued,
                    "free": self.canary_free,
                    "chance_per_own_or_free_hit": self.canary_q,
                    "phone_strata": self.canary_strata,
                    "numbers_outside_pool": self.canary_outside,
                },
            },
        }


@dataclass
class AttributionResult:
    verdict: str
    alpha: float
    accused: list[Candidate]
    candidates: list[Candidate]
    tests: int
    families: tuple[str, ...]
    reports: dict[str, int]
    flagged: list[dict[str, Any]]
    outside: dict[str, Any]
    explanation: dict[str, str]
    campaigns: list[dict[str, Any]] = field(default_factory=list)
    unsealed: dict[str, int] = field(default_factory=lambda: {"reports": 0, "canary_hits": 0})
    """Rows left out because they carry no valid seal (each is also in ``flagged``)."""
    caveats: list[dict[str, Any]] = field(default_factory=list)
    """Accusations that rest on exposure alone, each with the recipients that held at
    least 90 % of its consistent victims (:func:`selection_caveats`)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "alpha": self.alpha,
            "accused": [c.as_dict() for c in self.accused],
            "candidates": [c.as_dict() for c in self.candidates],
            "tests": self.tests,
            "families": list(self.families),
            "reports": self.reports,
            "flagged": self.flagged,
            "outside": self.outside,
            "explanation": self.explanation,
            "campaigns": self.campaigns,
            "unsealed": self.unsealed,
            "caveats": self.caveats,
        }


def _marks_log10(
    ev: Evidence, ws: Workspace, recipient: str, idx: list[int], cand: Candidate
) -> float:
    by_id = {e.release_id: e for e in ev.view.entries}
    groups: dict[int, list[tuple[int, int, str]]] = defaultdict(list)
    for i in idx:
        a = ev.victims[i].anchors.get(recipient)
        if a is not None:
            groups[a[2]].append((i, a[0], a[1]))
    if not groups or not ev.observed:
        return 0.0
    best = 0.0
    for version, items in groups.items():
        g = pl.DataFrame(
            {
                "row_id": [i for i, _, _ in items],
                "anchor": [a for _, a, _ in items],
                "release_id": [r for _, _, r in items],
            },
            schema={"row_id": pl.UInt32, "anchor": pl.UInt64, "release_id": pl.Utf8},
        )
        rels = [by_id[r] for r in sorted(set(g.get_column("release_id").to_list()))]
        c = CandidateResult(recipient, version, [r.release_id for r in rels])
        _score_marks(ws, c, g, rels, ev.observed, by_id, set())
        for k, v in c.evidence.items():
            m = cand.marks.setdefault(k, {"observed": 0, "matched": 0})
            m["observed"] += v["observed"]
            m["matched"] += v["matched"]
        best = min(best, c.log10_p_marks)
    return min(0.0, best + math.log10(len(groups)))


def one_per_victim(ev: Evidence, idx: list[int]) -> list[int]:
    """One eligible report per victim among ``idx`` (a victim is one exposure event).

    Repeats of a victim share the merged evidence (see ``build_evidence``); the report
    kept is the first in ``idx`` that quotes a verbatim address or product title (read by
    the mark channels — a choice made from the evidence alone), else the first one.
    """
    chosen: dict[int, int] = {}
    for i in idx:
        v = ev.victims[i]
        if not v.eligible:
            continue
        j = chosen.get(v.victim)
        if j is None or (not _verbatim(ev.victims[j]) and _verbatim(v)):
            chosen[v.victim] = i
    pos = {i: k for k, i in enumerate(idx)}
    return sorted(chosen.values(), key=pos.__getitem__)


def _verbatim(v: Any) -> bool:
    q = v.report.quoted
    return isinstance(q.get("address"), str) or isinstance(q.get("product"), str)


def score(
    ws: Workspace,
    ev: Evidence,
    idx: list[int] | None = None,
    *,
    hits: list[int] | None = None,
    families: tuple[str, ...] = ALL_FAMILIES,
    extra_tests: int = 1,
) -> list[Candidate]:
    """Candidates ranked by corrected p-value for the victims ``idx`` (default: all)."""
    idx = list(range(len(ev.victims))) if idx is None else idx
    elig = one_per_victim(ev, idx)
    hit_list = [ev.hits[j] for j in (range(len(ev.hits)) if hits is None else hits)]
    # an ambiguous hit (contact held by several releases) or a customer-held one names
    # nobody: shown among the pool hits, never R's nor a free one (see _canary_log10)
    pool_hits = [h for h in hit_list if h.status in ("canary", "pool", "ambiguous", "customer")]
    free_hits = {contact_key(h.contact) for h in pool_hits if h.status == "pool"}
    # A contact point counts once however often it was called: repeat calls to one number
    # are not independent draws under the null, and a hit row copied in the database (its
    # seal does not cover the row id) or recorded twice by an operator must add nothing.
    # Four records of one call to a courier's canary accused it at 1e-9 before.
    pool_contacts = {contact_key(h.contact) for h in pool_hits}
    out = []
    m = max(len(ev.view.recipients), 1) * max(extra_tests, 1)
    for r in ev.view.recipients:
        c = Candidate(r, victims=len(elig))
        fam: dict[str, float] = {}
        if "exposure" in families:
            c.consistent = sum(ev.victims[i].consistent.get(r, False) for i in elig)
            pis = [
                (ev.victims[i].p_null.get(r, 1.0), ev.victims[i].p_null_from.get(r, ""))
                for i in elig
            ]
            if pis:
                c.pi, c.pi_from = max(pis, key=lambda t: t[0])
            fam["exposure"] = (
                binomial_tail(len(elig), c.pi, c.consistent).log10 if c.consistent else 0.0
            )
        if "aliases" in families:
            al = [ev.victims[i].alias[r] for i in elig if r in ev.victims[i].alias]
            c.alias_quoted = len(al)
            c.alias_hits = sum(h for h, _ in al)
            c.alias_q = max((q for _, q in al), default=0.0)
            fam["aliases"] = (
                binomial_tail(len(al), c.alias_q, c.alias_hits).log10 if c.alias_hits else 0.0
            )
        if "formatting" in families:
            fam["formatting"] = _marks_log10(ev, ws, r, elig, c)
        if "canaries" in families:
            # A hit where the caller used the persona's details (``knew``) counts as a
            # plain hit: what reached the recipient may be a masked name and a district,
            # shared with real customers, so no chance can be claimed for the details.
            mine = {
                contact_key(h.contact)
                for h in pool_hits
                if h.status == "canary" and h.recipient == r
            }
            c.canary_hits = len(mine)
            c.canary_pool_hits = len(pool_contacts)
            fam["canaries"] = _canary_log10(ev, r, mine, free_hits, c)
        c.log10_p_family = fam
        c.log10_p = fisher_bound(list(fam.values()))
        c.log10_p_corrected = bonferroni(c.log10_p, m)
        out.append(c)
    return sorted(out, key=lambda c: (c.log10_p_corrected, c.recipient))


def _canary_log10(
    ev: Evidence, recipient: str, mine: set[str], free_hits: set[str], c: Candidate
) -> float:
    """log10 p of R's canary hits (family 4 of the module docstring), filling ``c``'s
    canary figures.

    Per kind (phone, mailbox): K = contacts that name R alone, F = free ones in the pool,
    h = R's hit, n = h + free hit; P(X ≥ h), X ~ Hypergeometric(K + F, K, n), exact
    (:func:`~leaktrace.trace.stats.hypergeom_tail`, as ``trace`` scores canary numbers).
    K and F are at least what was hit (a pool edited since: larger K only raises p).
    Phones are tested per pool entry (:func:`_phone_log10`); ``c``'s issued, free and
    draws are totals over the kinds, shown.
    Why not Binomial(pool hits, K/|pool|): a framer B calling every pool number but its
    own hit all K_R of R's among P − K_B calls, expected K_R (P − K_B)/P, and R was
    accused once K_B/P or K_R was large; conditioned on R's ∪ free, that pattern is
    h = K = n − F: p = 1.
    """
    best, kinds = 0.0, 0
    issued = free = draws = 0
    for kind in ("phone", "mailbox"):
        hit = sorted(x for x in mine if contact_kind(x) == kind)
        free_hit = sorted(x for x in free_hits if contact_kind(x) == kind)
        h = len(hit)
        n = h + len(free_hit)
        k = max(ev.view.canary_sole.get((recipient, kind), 0), h)
        f = max(ev.view.canary_free.get(kind, 0), n - h)
        issued, free, draws = issued + k, free + f, draws + n
        if not n:
            continue
        kinds += 1  # fixed given the other releases' contacts and the hit set
        if kind == "phone":
            best = min(best, _phone_log10(ev, recipient, hit, free_hit, c))
        else:
            best = min(best, hypergeom_tail(k + f, k, n, h).log10)
    c.canary_issued, c.canary_free, c.canary_draws = issued, free, draws
    c.canary_q = issued / (issued + free) if issued + free else 0.0
    return min(0.0, best + math.log10(kinds)) if best < 0 else 0.0


def _phone_log10(
    ev: Evidence, recipient: str, hit: list[str], free_hit: list[str], c: Candidate
) -> float:
    """log10 p of R's hits on phone numbers, one tail per ``[canary_pool] phones`` entry,
    as ``trace`` scores canary numbers (``leaktrace.trace.engine._score_canary_numbers``),
    filling ``c.canary_strata`` / ``c.canary_outside``.

    The pool is today's: a pool that grew after R's release (a block added, as a release
    short of numbers tells users to do) made R's numbers look drawn from numbers they
    could never be, and a caller dialling every number of the old block accused R (session
    20's review, a 2,000-number block added to a 2,000-number pool: every recipient, the
    SMS vendor at 10^-240 corrected; tests/attribution/test_review_s20_hits_pool_growth.py).
    Within one entry a uniform draw over the pool,
    conditioned on landing in it, is uniform over the entry's free numbers, also when
    entries were added later: per entry holding any of R's numbers (a number two entries
    hold in the first listing it), Hypergeometric(K_j + F_j, K_j, h_j + free hits_j) ≥ h_j;
    the smallest tail times the number of such entries (Bonferroni). A number of R's in no
    entry of today's pool (the pool shrank or a range changed): no test (p = 1). Not
    detectable: a range widened in place (docs/policy.md: add an entry instead).
    """
    strata = PoolStrata(ev.view.canary_pool_entries)
    sole = ev.view.canary_sole_entries.get(recipient, {})
    h_in = Counter(strata.of(hit).tolist() if hit else [])
    f_in = Counter(strata.of(free_hit).tolist() if free_hit else [])
    c.canary_outside = max(sole.get(-1, 0), h_in[-1])
    if c.canary_outside:
        c.canary_strata = []
        return 0.0
    free = ev.view.canary_free_entries
    c.canary_strata = [
        {
            "entry": strata.first_entry(j),
            **({"listed_in": list(strata.signatures[j])} if len(strata.signatures[j]) > 1 else {}),
            "hits": h_in[j],
            "free_hits": f_in[j],
            "issued": max(sole.get(j, 0), h_in[j]),
            "free": max(free[j], f_in[j]),
        }
        for j in sorted({j for j, k in sole.items() if k} | set(h_in))
    ]
    tails = [number_tail(s) for s in c.canary_strata]
    return min(0.0, min(tails) + math.log10(len(tails))) if tails else 0.0


def _explain(
    result_accused: list[Candidate], cands: list[Candidate], n: int, outside_n: int, alpha: float
) -> dict[str, str]:
    """The verdict in words, Chinese and English, saying the same figures.

    The concentration sentence quotes the exposure family's own p-value, corrected as the
    verdict is (the same Bonferroni factor); the combined figure (every family, Fisher's
    bound, corrected), which decides the verdict, is credited to the combination. Why:
    the combined figure was said of "a concentration like this" although quoted aliases
    can carry nearly all of it (exposure 10^-11.5, combined 10^-172, session 20), and an
    HTML report would have told a partner or a regulator that exposure shows what it
    does not.
    """
    if result_accused:
        a = result_accused[0]
        # the verdict's correction factor, read off the accused candidate (corrected ≤
        # log10 alpha < 0, so the min(0, ·) of the correction did not cut it)
        factor = a.log10_p_corrected - a.log10_p
        exposure = a.log10_p_family.get("exposure")
        others = [f for f in a.log10_p_family if f != "exposure" and f in _FAMILY_WORDS]
        combined_zh = "、".join(["数据暴露", *(_FAMILY_WORDS[f][0] for f in others)])
        combined_en = ", ".join(["exposure", *(_FAMILY_WORDS[f][1] for f in others)])
        if exposure is None:
            combined_zh = "、".join(_FAMILY_WORDS[f][0] for f in others)
            combined_en = ", ".join(_FAMILY_WORDS[f][1] for f in others)
        concentration_zh = concentration_en = ""
        if exposure is not None:
            alone = _p(min(0.0, exposure + factor))
            concentration_zh = (
                f"；即使假设报告来自任何其他接收方或账本之外的来源，"
                f"单看数据暴露，出现这种集中程度的概率不超过 {alone:.2g}（已校正）"
            )
            concentration_en = (
                ". Even assuming the reports came from any other recipient or from outside "
                f"the ledger, a concentration like this has probability at most {alone:.2g} "
                "on its own (corrected)"
            )
        zh = (
            f"在 {n} 名受害人（有效报告，同一受害人只计一次）中，{a.consistent} 人的信息（含骗子说出的字段）在来电前"
            f"已发给「{a.recipient}」"
            + concentration_zh
            + (f"；另有 {a.alias_hits} 个被引用的订单号是其专属别名" if a.alias_hits else "")
            + (f"；{a.canary_hits} 次金丝雀联系方式被呼叫" if a.canary_hits else "")
            + f"。全部证据合并（{combined_zh}，Fisher 方法合并并已校正）的概率不超过 "
            f"{_p(a.log10_p_corrected):.2g}"
            + f"。判定阈值 alpha = {alpha:g}（已对所有接收方及活动检测做多重检验校正）。"
        )
        en = (
            f"Of {n} victims (usable reports, one per victim), {a.consistent} victims' data (with every field the "
            f"caller quoted) had been sent to {a.recipient} before the call"
            + concentration_en
            + (f"; {a.alias_hits} quoted order numbers are its own aliases" if a.alias_hits else "")
            + (f"; {a.canary_hits} canary contact hits" if a.canary_hits else "")
            + f". All the evidence combined ({combined_en}: Fisher's method, corrected) has "
            f"probability at most {_p(a.log10_p_corrected):.2g}"
            + f". Threshold alpha = {alpha:g}, corrected for every recipient and the campaign looks."
        )
        if len(result_accused) > 1:
            others_named = ", ".join(c.recipient for c in result_accused[1:])
            zh += f" 同时被指认：{others_named}（可能有多个来源）。"
            en += f" Also named: {others_named} (there may be more than one source)."
        return {"zh": zh, "en": en}
    top = cands[0] if cands else None
    zh = (
        f"在 {n} 名受害人（同一受害人只计一次）中，没有任何接收方的证据达到阈值 alpha = {alpha:g}；"
        f"这些报告与「账本之外的来源」（平台内部、未加标记的数据或其他泄露）同样相符，"
        f"因此不指认任何接收方。"
    )
    en = (
        f"Of {n} victims (usable reports, one per victim), no recipient's evidence passes alpha = {alpha:g}; the reports "
        "are as consistent with a source outside the ledger (platform-internal, unmarked data, "
        "or another leak), so nobody is accused."
    )
    if top is not None and n:
        zh += f" 最接近的是「{top.recipient}」（校正后 p = {_p(top.log10_p_corrected):.2g}）。"
        en += f" Closest: {top.recipient} (corrected p = {_p(top.log10_p_corrected):.2g})."
    if outside_n:
        zh += f" 有 {outside_n} 名受害人的信息在来电前没有（带所述字段）发给任何接收方。"
        en += (
            f" {outside_n} victims' data (with the quoted fields) was with no recipient "
            "before the call."
        )
    return {"zh": zh, "en": en}


def _explain_unsealed(result: AttributionResult) -> None:
    """Say in the explanation how many rows were left out for want of a valid seal.

    Why in the explanation and not only in ``flagged``: a verdict reached without some
    reports is a different statement, and whoever reads only the summary must see that
    rows were altered (or stored before seals) and that the verdict does not rest on them.
    """
    n_rep, n_hit = result.unsealed["reports"], result.unsealed["canary_hits"]
    if not n_rep and not n_hit:
        return
    counted = [
        (n_rep, "份受害人报告", "victim report(s)"),
        (n_hit, "次金丝雀呼叫", "canary hit(s)"),
    ]
    zh = "、".join(f"{n} {word}" for n, word, _ in counted if n)
    en = " and ".join(f"{n} {word}" for n, _, word in counted if n)
    _say(
        result,
        f" 另有 {zh}没有本工作区的有效封印（在数据库中被改动、在 leaktrace 之外写入，"
        "或在启用封印之前存储），未计入上述结果（见 flagged）。",
        f" {en} without a valid seal of this workspace (altered in the database, written "
        "outside leaktrace, or stored before rows were sealed) were left out of the above "
        "(see flagged).",
    )


def _say(result: AttributionResult, zh: str, en: str) -> None:
    """Add one sentence, in both languages, to the result's explanation."""
    result.explanation["zh"] += zh
    result.explanation["en"] += en


def selection_caveats(
    ev: Evidence,
    accused: list[Candidate],
    *,
    alpha: float,
    tests: int,
    idx: list[int] | None = None,
) -> list[dict[str, Any]]:
    """For each accused recipient whose accusation needs its exposure p-value: who else
    held (nearly) every one of its consistent victims.

    Why: the exposure null takes a source's victims to be a random part of its audience.
    A scammer who filters a copy of S down to R's customers (by product, merchant or
    region) makes victims who all sit in R's audience, and exposure then accuses R for
    S's leak; no exposure model can tell the two apart (docs/attribution.md, "Selection
    inside a copy"). The verdict stands, but it must say "R, or a filtered copy of one of
    these", so that nobody acts on it as if it named R alone. An accusation whose other
    families (aliases, formatting, canaries: keyed evidence that filtering cannot forge)
    pass alpha without exposure carries no caveat.

    ``tests`` is the Bonferroni factor the candidates were corrected with; ``idx`` the
    victims they were scored on (default: all). Work is O(accused × recipients × victims).
    """
    elig = one_per_victim(ev, list(range(len(ev.victims))) if idx is None else idx)
    out: list[dict[str, Any]] = []
    for c in accused:
        if "exposure" not in c.log10_p_family or not c.consistent:
            continue
        others = [v for k, v in c.log10_p_family.items() if k != "exposure"]
        without = bonferroni(fisher_bound(others), tests)
        if without <= math.log10(alpha):
            continue
        # who else held them before the call, whatever fields it held: the real source may
        # lack a field the victims quote (an SMS vendor's copy has no order time, the
        # script states the date), and counting only consistent holders hid it
        mine = [ev.victims[i].held for i in elig if ev.victims[i].consistent.get(c.recipient)]
        counts = {
            r: sum(held.get(r, False) for held in mine)
            for r in ev.view.recipients
            if r != c.recipient
        }
        # "most" and not "all": a report that has nothing to do with the leak (another
        # scam, a misremembered field) may be consistent with R and not with S
        ranked = sorted(counts.items(), key=lambda t: (-t[1], t[0]))
        held = [(r, n) for r, n in ranked if n >= ALSO_HELD_SHARE * len(mine)]
        out.append(
            {
                "recipient": c.recipient,
                "rests_on": "exposure",
                "families": sorted(c.log10_p_family),
                "consistent": len(mine),
                "log10_p_without_exposure": _finite(without),
                "also_held_by": [{"recipient": r, "victims": n} for r, n in held],
                # below the share too: reports from elsewhere mixed into a filtered copy's
                # wave can push its real source under 90 %, and the analyst should see it
                "top_holders": [{"recipient": r, "victims": n} for r, n in ranked[:3] if n],
            }
        )
    return out


_FAMILY_WORDS = {
    "aliases": ("订单号别名", "order aliases"),
    "formatting": ("格式标记", "formatting marks"),
    "canaries": ("金丝雀", "canaries"),
}


def holders_words(held: list[dict[str, Any]]) -> tuple[str, str]:
    """Up to five recipients with their victim counts, in Chinese and in English (a
    caveat's ``also_held_by`` or ``top_holders``; the erasure impact's warnings too)."""
    zh = "、".join(f"「{h['recipient']}」（{h['victims']} 人）" for h in held[:5])
    en = ", ".join(f"{h['recipient']} ({h['victims']})" for h in held[:5])
    if len(held) > 5:
        zh += f" 等 {len(held)} 个接收方"
        en += f" and {len(held) - 5} more"
    return zh, en


def _explain_caveats(result: AttributionResult) -> None:
    """One sentence per caveat, in both languages, after the verdict's explanation.

    It says first that the bound above assumes each victim is a random member of its
    source's audience: read alone, "even assuming the reports came from any other
    recipient" would claim more than exposure can show against a filtered copy."""
    for cav in result.caveats:
        r, k, held = cav["recipient"], cav["consistent"], cav["also_held_by"]
        others = [f for f in cav["families"] if f in _FAMILY_WORDS]
        zh_fam = "、".join(_FAMILY_WORDS[f][0] for f in others)
        en_fam = ", ".join(_FAMILY_WORDS[f][1] for f in others)
        zh_why = f"（{zh_fam}本身未达到阈值）" if others else "（本次只检验了数据暴露）"
        en_why = (
            f" (its {en_fam} do not pass alpha without it)"
            if others
            else " (it was the only family run)"
        )
        zh_head = (
            f" 注意：对「{r}」的判定只依靠数据暴露的集中程度{zh_why}，上面的概率假设每名"
            "受害人是其来源所持客户中的随机一人。"
        )
        en_head = (
            f" Caution: the accusation of {r} rests on exposure alone{en_why}, and the bound "
            "above assumes each victim is a random member of its source's audience."
        )
        if held:
            zh_list, en_list = holders_words(held)
            _say(
                result,
                zh_head + f"与「{r}」相符的 {k} 名受害人中，至少 {ALSO_HELD_SHARE:.0%} 的信息也分别"
                f"发给了以下每一个接收方：{zh_list}。其中任何一方的副本按商品、商家或地区"
                f"筛选到「{r}」的客户，看起来都会一样。应理解为「{r}，或上述之一」；"
                "专属订单号别名、格式标记或金丝雀呼叫可以区分它们。",
                en_head + f" Of the {k} victims consistent with {r}, the data of at least "
                f"{ALSO_HELD_SHARE:.0%} had also been sent to each of {en_list}: a copy of "
                f"any of theirs filtered down to {r}'s customers (by product, merchant or "
                f'region) would look the same. Read it as "{r}, or one of these"; an order '
                "alias, a formatting mark or a canary hit tells them apart.",
            )
        else:
            zh_list, en_list = holders_words(cav["top_holders"])
            zh_top = f"持有最多的是 {zh_list}；" if cav["top_holders"] else ""
            en_top = f" (most: {en_list})" if cav["top_holders"] else ""
            _say(
                result,
                zh_head
                + f"没有其他接收方持有这 {k} 名相符受害人中至少 {ALSO_HELD_SHARE:.0%} 的信息"
                f"（{zh_top}混入的无关报告可能使真正来源低于此比例），账本之外同范围的来源"
                "（见文档）也无法排除。",
                en_head + f" No other recipient held the data of {ALSO_HELD_SHARE:.0%} of the {k} "
                f"victims consistent with it{en_top}; unrelated reports mixed into a wave "
                "can push its real source below that share, and an unrecorded source of "
                "the same scope cannot be excluded (docs/attribution.md).",
            )


def attribute_evidence(
    ws: Workspace,
    ev: Evidence,
    *,
    alpha: float = DEFAULT_ALPHA,
    families: tuple[str, ...] = ALL_FAMILIES,
    with_campaigns: bool = True,
) -> AttributionResult:
    check_alpha(alpha)
    # alpha is spent in two halves: the overall verdict (×2 below) and all campaign looks
    # together (find_campaigns multiplies by 2 as well), so P(any innocent accused) ≤ alpha
    split = ALPHA_SPLIT if with_campaigns else 1
    cands = score(ws, ev, families=families, extra_tests=split)
    accused = [c for c in cands if c.log10_p_corrected <= math.log10(alpha)]
    status: dict[str, int] = defaultdict(int)
    flagged = []
    for v in ev.victims:
        status[v.status] += 1
        if v.status != "ok" or v.notes:
            flagged.append(
                {
                    "report": v.report.id,
                    "source": v.report.source,
                    "status": v.status,
                    "reason": v.reason or "; ".join(v.notes),
                }
            )
    for h in ev.hits:
        if h.status in ("ambiguous", "unsealed", "customer"):
            flagged.append(
                {
                    "report": f"canary hit {h.id}",
                    "source": h.channel,
                    "status": f"{h.status} canary hit",
                    "reason": h.reason,
                }
            )
    elig = [ev.victims[i] for i in one_per_victim(ev, list(range(len(ev.victims))))]
    outside_n = sum(1 for v in elig if not any(v.consistent.values()))
    result = AttributionResult(
        verdict="source identified" if accused else "no recipient identified",
        alpha=alpha,
        accused=accused,
        candidates=cands,
        tests=len(ev.view.recipients),
        families=families,
        reports={"total": len(ev.victims), **dict(status), "victims": len(elig)},
        flagged=flagged,
        outside={
            "victims_with_no_recipient": outside_n,
            "hypothesis": "source outside the ledger (internal, unmarked or another leak)",
            "rejected": bool(accused),
        },
        explanation=_explain(accused, cands, len(elig), outside_n, alpha),
    )
    result.unsealed = {
        "reports": status.get("unsealed", 0),
        "canary_hits": sum(h.status == "unsealed" for h in ev.hits),
    }
    result.caveats = selection_caveats(
        ev, accused, alpha=alpha, tests=max(len(ev.view.recipients), 1) * split
    )
    _explain_caveats(result)
    _explain_unsealed(result)
    n_amb = sum(h.status == "ambiguous" for h in ev.hits)
    if n_amb:
        _say(
            result,
            f" 有 {n_amb} 次金丝雀呼叫的联系方式同时属于多个发布版本，"
            "因此不归于其中任何一个（见 flagged）。",
            f" {n_amb} canary hit(s) on a contact held by several releases were attributed "
            "to none of them (see flagged).",
        )
    if with_campaigns:
        from leaktrace.attribution.campaigns import find_campaigns

        result.campaigns = [
            c.as_dict()
            for c in find_campaigns(ws, ev, alpha=alpha, families=families, split=ALPHA_SPLIT)
        ]
    return result


def attribute(
    ws: Workspace,
    since: datetime | None = None,
    alpha: float = DEFAULT_ALPHA,
    *,
    families: tuple[str, ...] = ALL_FAMILIES,
) -> AttributionResult:
    """Attribute every stored report (and canary hit) since ``since``.

    Rows without a valid seal are not counted: they are listed in ``flagged`` and counted
    in ``unsealed`` (a report row whose seal fails is listed whatever ``since`` says).
    Raises :class:`LedgerIntegrityError` when the ledger does not verify.
    """
    check_alpha(alpha)
    view = load_view(ws)
    reports = load_stored_reports(ws, since)
    hits = stored_hits(ws, since)
    ev = build_evidence(ws, reports, hits, view)
    result = attribute_evidence(ws, ev, alpha=alpha, families=families)
    # reports erased at the victims' request are no evidence, but the count says that the
    # evidence shrank (whatever their call time: erasing cleared it)
    result.reports["erased"] = erased_count(ws)
    return result
