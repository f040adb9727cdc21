"""Signed evidence bundles that a third party can re-verify offline.

A bundle holds: the leaked file's SHA-256 (of the whole file, also when the trace read only
its first rows: ``rows.read`` is how many, ``truncated`` that the file held more), the
software version, alpha, the number of candidates tested, every candidate's per-class
counts and p-values, the ledger entries of the accused recipients' matched releases (full
signed bodies) and a chain proof — the ``(seq, prev_hash, record_hash)`` of every record
from the genesis up to the newest one involved — so the verifier can check that those
entries are linked in one unbroken, signed chain. The bundle body is signed with the
workspace's Ed25519 key.

``verify_bundle`` needs only the bundle and the public key: it checks the bundle
signature, each entry's hash and signature, the chain links, and RECOMPUTES every p-value
from the counts with the same exact statistics; a bundle whose figures do not follow from
its own counts is rejected. So is one whose list of contradicting evidence (see
:mod:`leaktrace.trace.consistency`) differs from what its counts give: a bundle cannot hide
that one family of evidence says "not this copy".
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from leaktrace import __version__
from leaktrace.errors import EvidenceError, InputError
from leaktrace.io.writers import write_bytes_atomic
from leaktrace.ledger.chain import GENESIS, canonical_json, record_hash, sign, verify_signature
from leaktrace.trace.consistency import contradictions
from leaktrace.trace.engine import _FAMILIES, TraceResult, alias_log10_p, canary_log10_p
from leaktrace.trace.stats import bonferroni, tardos_tail, weighted_tail
from leaktrace.workspace import Workspace

__all__ = [
    "build_bundle",
    "bundle_body_digest",
    "bundle_bytes",
    "recompute_log10_p",
    "verify_bundle",
    "write_bundle",
]

BUNDLE_FORMAT = "leaktrace-evidence/1"


def build_bundle(ws: Workspace, result: TraceResult) -> dict[str, Any]:
    involved = {r for c in result.accused for r in c.releases}
    entries = [e for e in result.entries if e.release_id in involved]
    head = max((e.seq for e in entries), default=0)
    chain = [
        {"seq": e.seq, "prev_hash": e.prev_hash, "record_hash": e.record_hash}
        for e in result.entries
        if e.seq <= head
    ]
    body = {
        "format": BUNDLE_FORMAT,
        "software": f"leaktrace {__version__}",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "evidence_sha256": result.evidence_sha256,
        "verdict": result.verdict,
        "alpha": result.alpha,
        "tests": result.tests,
        "rows": {
            "read": result.rows_read,
            "identified": result.rows_identified,
            "informative": result.rows_informative,
        },
        "truncated": result.truncated,
        "accused": [c.recipient for c in result.accused],
        "accused_candidates": [[c.recipient, c.key_version] for c in result.accused],
        "candidates": [c.as_dict() for c in result.candidates],
        "ledger_entries": [e.as_dict() for e in entries],
        "chain_proof": chain,
    }
    sig = sign(ws.keys.signing_key(), _digest(body))
    return {"body": body, "signature": sig}


def _digest(body: dict[str, Any]) -> str:
    import hashlib

    return hashlib.sha256(canonical_json(body)).hexdigest()


def bundle_body_digest(bundle: dict[str, Any]) -> str:
    """The SHA-256 the signature covers (of the body's canonical JSON): the same for a
    bundle saved again with other spacing or a BOM."""
    return _digest(bundle["body"])


def bundle_bytes(bundle: dict[str, Any]) -> bytes:
    """The bundle as its file holds it (UTF-8 JSON)."""
    return json.dumps(bundle, ensure_ascii=False, indent=1).encode("utf-8")


def write_bundle(bundle: dict[str, Any], path: Path) -> None:
    write_bytes_atomic(path, bundle_bytes(bundle))


def recompute_log10_p(cand: dict[str, Any], rows_read: int, tests: int) -> float:
    """The corrected log10 p-value that a candidate's own counts imply."""
    classes = [(k["observed"], k["p"], k["weight"]) for k in cand["classes"]]
    score = sum(k["weight"] * k["matched"] for k in cand["classes"])
    marks = weighted_tail(classes, score).log10
    ac = cand.get("alias_counts") or {}
    alias = (
        alias_log10_p(ac.get("independent") or [], ac.get("by_digits") or [])
        if cand["aliases"]
        else 0.0
    )
    # bundles made before the canary-number test have neither key: their one test was the
    # row test over "canaries"; those made before "canary_phone_rows" counted phone-matched
    # canaries in "canary_rows": the same formula, so they verify as they were made; those
    # made before the number test ran per pool entry have no "canary_number_strata": their
    # one test over the whole pool, as made
    canary = canary_log10_p(
        rows_read,
        cand["canary_q"],
        cand.get("canary_rows", cand["canaries"]),
        cand.get("canary_numbers"),
        cand.get("canary_number_strata"),
    )
    tardos = (
        tardos_tail([tuple(h) for h in cand["tardos_hist"]], cand["tardos_score"]).log10
        if cand.get("tardos_hist")
        else 0.0
    )
    best = min(marks, tardos, alias, canary)
    p = min(0.0, best + math.log10(_FAMILIES)) if best < 0 else 0.0
    return bonferroni(p, tests)


def verify_bundle(bundle: dict[str, Any], public_key: Ed25519PublicKey) -> dict[str, Any]:
    """Re-check a bundle; raises :class:`EvidenceError` naming the first failure."""
    try:
        body = bundle["body"]
        sig = bundle["signature"]
        if body.get("format") != BUNDLE_FORMAT:
            raise EvidenceError(f"unknown bundle format {body.get('format')!r}")
    except (KeyError, TypeError, AttributeError):
        raise EvidenceError("not a leaktrace evidence bundle (missing body/signature)") from None
    if not verify_signature(public_key, _digest(body), sig):
        raise EvidenceError(
            "bundle signature does not verify with this public key (altered or wrong key)"
        )
    part = ["the bundle"]
    try:
        return _check_body(body, public_key, part)
    except (KeyError, TypeError, ValueError, OverflowError, AttributeError):
        # a signed bundle from a faulty (or hostile) writer: say so, never a traceback
        raise EvidenceError(f"{part[0]} is malformed (missing or invalid fields)") from None


def _check_body(
    body: dict[str, Any], public_key: Ed25519PublicKey, part: list[str]
) -> dict[str, Any]:
    """The checks of a signed body (see :func:`verify_bundle`); ``part[0]`` names the part
    being checked, for the message when the body turns out malformed."""
    part[0] = "the bundle's chain proof"
    chain = body["chain_proof"]
    prev = GENESIS
    for i, link in enumerate(chain, start=1):
        if link["seq"] != i or link["prev_hash"] != prev:
            raise EvidenceError(f"chain proof broken at record {link['seq']}")
        prev = link["record_hash"]
    by_seq = {link["seq"]: link["record_hash"] for link in chain}
    part[0] = "the bundle's ledger entries"
    for e in body["ledger_entries"]:
        b = {k: v for k, v in e.items() if k not in ("record_hash", "signature")}
        if record_hash(b) != e["record_hash"]:
            raise EvidenceError(f"ledger entry {e['seq']} does not match its hash")
        if by_seq.get(e["seq"]) != e["record_hash"]:
            raise EvidenceError(f"ledger entry {e['seq']} is not in the chain proof")
        if not verify_signature(public_key, e["record_hash"], e["signature"]):
            raise EvidenceError(f"ledger entry {e['seq']} has an invalid signature")
    part[0] = "the bundle's candidates"
    if not isinstance(body.get("tests"), int) or body["tests"] < len(body["candidates"]):
        # the Bonferroni factor must cover every candidate the bundle itself lists
        raise EvidenceError(
            f"the bundle corrects for {body.get('tests')!r} tests but lists "
            f"{len(body['candidates'])} candidates"
        )
    # bundles made before --max-rows have no flag: they traced every row of the file
    truncated = body.get("truncated", False)
    if not isinstance(truncated, bool):
        raise EvidenceError(f"the bundle's truncated flag is {truncated!r}, not true or false")
    part[0] = "the bundle's accusation"
    accused = set(body["accused"])
    accused_keys = {(r, v) for r, v in body["accused_candidates"]}
    alpha = body["alpha"]
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 1:
        raise EvidenceError(f"the bundle's alpha {alpha!r} is not a probability between 0 and 1")
    log_alpha = math.log10(alpha)
    flagged: dict[str, list[dict[str, Any]]] = {}
    for c in body["candidates"]:
        try:
            found = _check_candidate(c, body, accused_keys, log_alpha)
        except (KeyError, TypeError, ValueError, OverflowError, AttributeError):
            # a signed bundle from a faulty (or hostile) writer: say so, never a traceback
            name = c.get("recipient") if isinstance(c, dict) else None
            raise EvidenceError(
                f"candidate {name!r}: its record is malformed (missing or invalid counts)"
            ) from None
        if found:
            flagged[f"{c['recipient']} v{c['key_version']}"] = found
    part[0] = "the bundle's accusation"
    for name in accused:
        if not any(
            c["recipient"] == name and c["log10_p_value"] <= log_alpha for c in body["candidates"]
        ):
            raise EvidenceError(f"{name} is accused but no candidate record supports it")
    part[0] = "the bundle's summary"
    return {
        "ok": True,
        "verdict": body["verdict"],
        "accused": sorted(accused),
        "entries": len(body["ledger_entries"]),
        "chain_length": len(chain),
        "evidence_sha256": body["evidence_sha256"],
        "rows_read": body["rows"]["read"],
        "truncated": truncated,
        "contradictions": flagged,
    }


def _check_candidate(
    c: dict[str, Any], body: dict[str, Any], accused_keys: set[tuple[Any, Any]], log_alpha: float
) -> list[dict[str, Any]]:
    """Recompute one candidate's p-value and contradictions from its counts; raise
    :class:`EvidenceError` where the bundle says otherwise. Its contradictions."""
    _check_number_counts(c)
    again = recompute_log10_p(c, body["rows"]["read"], body["tests"])
    reported = c["log10_p_value"]
    if abs(again - reported) > 1e-6 * max(1.0, abs(again)):
        raise EvidenceError(
            f"candidate {c['recipient']}: reported log10 p {reported:.4f} does not follow "
            f"from its counts ({again:.4f})"
        )
    accused = (c["recipient"], c["key_version"]) in accused_keys
    if (again <= log_alpha) != accused:
        raise EvidenceError(f"candidate {c['recipient']}: accusation does not match alpha")
    found = contradictions(c, accused)
    if "contradictions" in c and _families(c["contradictions"]) != _families(found):
        # bundles made before the check have no such key: theirs are recomputed
        raise EvidenceError(
            f"candidate {c['recipient']}: the contradicting evidence it lists does not "
            "follow from its counts"
        )
    return found


_NUMBER_COUNTS = ("hits", "free_hits", "issued", "free")


def _check_number_counts(c: dict[str, Any]) -> None:
    """The canary-number test's counts, which the verifier recomputes its tail from, must
    be counts: non-negative integers, ``hits`` ≤ ``issued`` and ``free_hits`` ≤ ``free``
    (a signed bundle from a faulty or hostile writer could otherwise feed the tail a
    population smaller than its draws). Per pool entry too (``canary_number_strata``),
    whose hits add up to the candidate's when there are any."""
    name = c["recipient"]

    def check(counts: Any, what: str) -> dict[str, int]:
        if not isinstance(counts, dict):
            raise EvidenceError(f"candidate {name}: {what} is not a record of counts")
        for k in _NUMBER_COUNTS:
            v = counts[k]
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise EvidenceError(
                    f"candidate {name}: {what} {k} is {v!r}, not a non-negative integer"
                )
        for part, whole in (("hits", "issued"), ("free_hits", "free")):
            if counts[part] > counts[whole]:
                raise EvidenceError(
                    f"candidate {name}: {what} counts {counts[part]} {part} among only "
                    f"{counts[whole]} {whole}"
                )
        return counts

    numbers = c.get("canary_numbers")
    if numbers is None:  # a bundle made before the number test
        return
    total = check(numbers, "canary_numbers")
    strata = c.get("canary_number_strata")
    if strata is None:  # a bundle made before the strata: one test over the pool
        return
    if not isinstance(strata, list):
        raise EvidenceError(f"candidate {name}: canary_number_strata is not a list")
    for i, s in enumerate(strata):
        entry = check(s, f"canary_number_strata[{i}]").get("entry", 0)
        if isinstance(entry, bool) or not isinstance(entry, int) or entry < 0:
            raise EvidenceError(f"candidate {name}: canary_number_strata[{i}] entry {entry!r}")
    if strata and sum(s["hits"] for s in strata) != total["hits"]:
        raise EvidenceError(
            f"candidate {name}: its canary numbers per pool entry do not add up to its "
            f"{total['hits']} hits"
        )


def _families(found: Any) -> list[tuple[Any, Any, Any]]:
    """What a contradiction list says, without its rounded figures."""
    if not isinstance(found, list):
        return [("not a list", None, None)]
    return [
        (f.get("family"), f.get("observed"), f.get("matched"))
        if isinstance(f, dict)
        else ("not a record", None, None)
        for f in found
    ]


def load_bundle(path: Path) -> dict[str, Any]:
    """A bundle file as written by :func:`write_bundle`, or saved again by an editor that
    adds a UTF-8 BOM (Windows Notepad does): the signature covers the body, not the bytes."""
    from leaktrace.io.jsontext import JsonTextError, loads_json

    if path.is_dir():
        raise InputError(f"bundle {path} is a folder; give the bundle file")
    try:
        data = loads_json(path.read_bytes().decode("utf-8-sig"), str(path))
    except FileNotFoundError:
        raise InputError(f"bundle {path} does not exist") from None
    except (UnicodeDecodeError, JsonTextError):
        raise EvidenceError(f"{path} is not a JSON evidence bundle") from None
    if not isinstance(data, dict):
        raise EvidenceError(f"{path} is not a JSON evidence bundle")
    return data
