"""Victim cases: advance payment (先行垫付) to shoppers robbed with leaked order data.

A shopper calls: "customer service" knew my order and talked me into a transfer. If the
incident's evidence names the partner whose copy leaked, and a release to that partner
before the scam carried this shopper's order, the platform can pay an advance while the
police work, and recover it later. Any release to the accused partner counts, not only
the copy (key version) the trace matched: the advance is the platform's own risk, taken
for its shopper; a claim against the partner rests on the trace's evidence, not on the
cases. What decides it is what the platform already holds, not what the victim must
prove again:

- **the order and the phone**, which the platform knows for its own account holder. The
  ledger's exposure index says whether the accused recipient's releases carried that
  order with that phone (as keyed digests; no plaintext is looked up or stored);
- **when**: a release made after the scam cannot have fed it;
- **the loss and the police receipt number (报警回执)**: what was lost, and that it was
  reported.

No hand-held ID photo, no ID number, no bank card number: the shopper is identified by
the account the platform already has. The case stores a keyed digest of the order (the
phone is used for the lookup and not kept), the amounts, who decided it, and the receipt
number encrypted (AES-GCM under a workspace subkey), which the police may need to match a
recovery.

Decisions:

- ``advance``: the accused recipient's release before the scam carried this order with
  this phone. The advance is the loss, capped (``cap``, in yuan).
- ``review``: the order went out, but not with this phone (another number on the order,
  or the release had none): a person must decide; nothing is refused automatically.
- ``declined``: no accused recipient's release before the scam carried the order. The
  reasons say which, so customer service can explain it.

A case is an event of the incident's sealed chain (kinds ``case``, ``case_paid``,
``case_recovered``), so the regulator report counts the advances from the same record.
"""

from __future__ import annotations

import math
import os
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pyarrow.parquet as pq  # type: ignore[import-untyped]
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from leaktrace.errors import InputError
from leaktrace.respond.incident import Incident, IncidentEvent, add_event, load_incident
from leaktrace.respond.times import ENCRYPTED_TEXT
from leaktrace.workspace import Workspace

__all__ = [
    "DEFAULT_CAP",
    "Case",
    "case_detail",
    "case_summary",
    "cases_of",
    "open_case",
    "record_payment",
]

DEFAULT_CAP = 5000.0
MAX_LOSS = 10_000_000.0
_RECEIPT = re.compile(r"[0-9A-Za-z][0-9A-Za-z\-]{3,63}")
_ID_NUMBER = re.compile(r"(?<![0-9])[1-9][0-9]{16}[0-9Xx](?![0-9])")


@dataclass(frozen=True)
class Case:
    """A case as the incident records it (no personal data in clear)."""

    case_id: str
    decision: str
    advance: float
    loss: float
    reasons: list[str]
    exposed_in: list[str]
    paid: float
    recovered: float
    message_zh: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "decision": self.decision,
            "advance": self.advance,
            "loss": self.loss,
            "paid": self.paid,
            "recovered": self.recovered,
            "reasons": self.reasons,
            "exposed_in": self.exposed_in,
            "message_zh": self.message_zh,
        }


def _encrypt(ws: Workspace, value: str, kind: str) -> str:
    """``value`` under the ``case-pii`` subkey (AES-GCM, random nonce), bound to the event
    kind it is stored in (``case`` for a receipt, ``case_paid``/``case_recovered`` for a
    payment's note): a receipt moved into a payment's note does not decrypt there."""
    v = ws.keys.current_version
    nonce = os.urandom(12)
    box = AESGCM(ws.keys.derive("case-pii", v)).encrypt(
        nonce, value.encode(), f"incident_events|{kind}|v{v}".encode()
    )
    return f"v{v}:{(nonce + box).hex()}"


def _decrypt(ws: Workspace, value: str, kind: str) -> str:
    """What :func:`_encrypt` stored; a note from before notes were encrypted comes back as
    it is. Raises :class:`InputError` when the workspace's keys cannot open it."""
    from cryptography.exceptions import InvalidTag

    from leaktrace.errors import KeyFileError

    m = ENCRYPTED_TEXT.fullmatch(value)
    if m is None:
        return value
    raw = bytes.fromhex(m.group(2))
    try:
        key = ws.keys.derive("case-pii", int(m.group(1)))
        aad = f"incident_events|{kind}|v{m.group(1)}".encode()
        return AESGCM(key).decrypt(raw[:12], raw[12:], aad).decode()
    except (InvalidTag, KeyFileError, UnicodeDecodeError):
        raise InputError(
            f"an encrypted field of a {kind} event cannot be opened with this workspace's keys"
        ) from None


def _order_exposure(
    ws: Workspace, order_id: str, phone: str | None, inc: Incident
) -> list[dict[str, Any]]:
    """Each accused recipient's release that carried ``order_id``, with whether it carried
    it with ``phone``. Digests only: the same keyed anchors and customer digests the
    release wrote into its exposure index."""
    from leaktrace import rewrite
    from leaktrace.digest import keyed_digests
    from leaktrace.ledger import Ledger
    from leaktrace.respond.exposure import order_spellings

    ledger = Ledger(ws)
    ledger.require_valid()  # a payment decided on records that do not hold is no decision
    chosen = [e for e in ledger.entries() if e.recipient in inc.accused]
    ids = pl.Series("order_id", [order_id])
    phones = rewrite.canonical_phone(pl.Series("phone", [phone], dtype=pl.Utf8))
    found: list[dict[str, Any]] = []
    for version in sorted({e.key_version for e in chosen}):
        anchor_key = ws.keys.derive("anchor", version)
        anchors = {
            int(keyed_digests({"a": (s, anchor_key)}).get_column("a")[0])
            for s in order_spellings(ids)
        }
        customer = keyed_digests({"c": (phones, ws.keys.derive("customer", version))})
        wanted = customer.get_column("c")[0]
        for e in (e for e in chosen if e.key_version == version):
            index = pl.from_arrow(
                pq.read_table(ws.home / e.index_file, columns=["anchor", "customer", "is_canary"])
            )
            assert isinstance(index, pl.DataFrame)
            rows = index.filter(~pl.col("is_canary") & pl.col("anchor").is_in(list(anchors)))
            if rows.height:
                carried = rows.get_column("customer").to_list()
                found.append(
                    {
                        "release_id": e.release_id,
                        "recipient": e.recipient,
                        "created": e.created,
                        # the index keys every row by the source's phone, sent or not: a
                        # release whose policy sent no phone did not carry it ("review")
                        "phone_matches": "phone" in e.fields
                        and wanted is not None
                        and wanted in carried,
                    }
                )
    return found


def _all_cases(ws: Workspace) -> list[tuple[str, IncidentEvent]]:
    """(incident id, case event) of every incident's cases."""
    from leaktrace.respond.incident import incident_ids

    return [(iid, e) for iid in incident_ids(ws) for e in load_incident(ws, iid).all("case")]


def _same_receipt(ws: Workspace, case: IncidentEvent, receipt: str) -> bool:
    """Whether an earlier case cites the same police receipt (compared as typed, case
    and dashes aside)."""

    def norm(r: str) -> str:
        return unicodedata.normalize("NFKC", r).replace("-", "").strip().casefold()

    stored = case.body.get("receipt")
    return isinstance(stored, str) and norm(_decrypt(ws, stored, "case")) == norm(receipt)


def _decide(
    found: list[dict[str, Any]], occurred: datetime, loss: float, cap: float
) -> tuple[str, float, list[str]]:
    before = [f for f in found if datetime.fromisoformat(f["created"]) <= occurred]
    if not found:
        return "declined", 0.0, ["no release to the accused recipient(s) carried this order"]
    if not before:
        return (
            "declined",
            0.0,
            ["the order went to the accused recipient(s) only after the scam took place"],
        )
    if any(f["phone_matches"] for f in before):
        who = sorted({f["recipient"] for f in before if f["phone_matches"]})
        reason = f"{', '.join(who)} received this order with this phone before the scam"
        return "advance", round(min(loss, cap), 2), [reason]
    return (
        "review",
        0.0,
        [
            "the order went to the accused recipient(s) before the scam, but not with this "
            "phone: a person must check that the caller is the order's owner"
        ],
    )


_MESSAGES = {
    "advance": "经核实，您的订单信息曾由平台提供给涉事合作方，平台将先行垫付 {advance:,.2f} 元。"
    "垫付不影响您向公安机关追偿；如追回款项，请联系平台办理。平台不会要求您提供手持身份证照片、"
    "银行卡密码或验证码。",
    "review": "您的申请已受理，需人工进一步核实订单归属，客服将通过 App 内官方渠道与您联系。"
    "平台不会要求您提供手持身份证照片、银行卡密码或验证码。",
    "declined": "经核实，本次事件涉事合作方在您被骗之前未收到您的该笔订单信息，本事件暂不适用先行垫付。"
    "如有其他订单或线索，请通过 App 内官方渠道联系客服。",
}


def open_case(
    ws: Workspace,
    incident_id: str,
    *,
    order_id: str,
    phone: str,
    occurred: datetime | str,
    loss: float,
    police_receipt: str,
    cap: float = DEFAULT_CAP,
    actor: str = "",
) -> Case:
    """Decide and record a victim's case (see the module docstring). ``occurred``: when
    the scam took place (a naive time is the platform's, UTC+8). Raises
    :class:`InputError` for what a caller must fix: an incident without evidence, a loss
    that is not a positive amount, a receipt number that is not one, a second case for
    the same order. ``actor``: who decided it (a token's or a system user's name), kept
    with the case for accountability."""
    from leaktrace.attribution.reports import normalise_phone_str, parse_datetime
    from leaktrace.digest import keyed_digest_hex_one
    from leaktrace.respond.incident import clean_text

    inc = load_incident(ws, incident_id)
    if inc.status == "closed":
        raise InputError(f"incident {incident_id} is closed")
    if not inc.accused:
        raise InputError(
            f"{incident_id} has no evidence naming the source; a case is decided against the "
            "accused recipient's releases (record a bundle with incident evidence)"
        )
    if not (0 < loss <= MAX_LOSS) or round(loss, 2) < 0.01:
        # amounts are kept to the fen: 0.004 would be decided an advance of 0.00 yuan, and
        # use up the order's one case with a payment nobody can ever record
        raise InputError(
            f"the loss must be an amount of yuan from 0.01 up to {MAX_LOSS:,.0f} (kept to the fen)"
        )
    if not (0.01 <= round(cap, 2) <= MAX_LOSS):
        # a cap of 0 would decide an advance of 0.00 yuan that no payment can ever match
        raise InputError(f"the cap must be an amount of yuan from 0.01 up to {MAX_LOSS:,.0f}")
    loss, cap = round(loss, 2), round(cap, 2)  # kept to the fen: no advance above either
    receipt = police_receipt.strip()
    if not _RECEIPT.fullmatch(receipt):
        raise InputError(
            "the police receipt number (报警回执编号) must be 4–64 letters, digits and -"
        )
    if any(_ID_NUMBER.search(r) for r in (receipt, receipt.replace("-", ""))):
        # as written, and with dashes dropped: 110101-19900307-451X too
        raise InputError(
            "that looks like an ID card number, not a police receipt number; an ID number is "
            "not needed and must not be stored"
        )
    order = " ".join(order_id.split())
    if not order or len(order) > 64:
        raise InputError("give the order number (at most 64 characters)")
    norm = normalise_phone_str(phone)
    if norm is None:
        raise InputError("give the mobile number of the order's account (11 digits)")
    when = parse_datetime(occurred)
    if when is None:
        raise InputError("the time of the scam must be a date/time")
    if when > datetime.now(UTC) + timedelta(minutes=5):
        # every release would count as "before the scam"
        raise InputError("the time of the scam is in the future")
    v = ws.keys.current_version

    # one order in every spelling the lookup accepts (full-width digits, "….0"), so a
    # second case cannot reach the same order by retyping it
    canonical = re.sub(r"^([0-9]+)\.0+$", r"\1", unicodedata.normalize("NFKC", order).strip())

    def order_key(version: int) -> str:
        return keyed_digest_hex_one(canonical, ws.keys.derive("case-order", version))

    def no_case_yet(now: Incident) -> None:
        # each earlier case under the key version it was made with (a rotation in between
        # must not let the same order be paid twice); run under the workspace lock, on the
        # incidents as they stand when the case is written
        for e in now.all("case"):
            if e.body["order_key"] == order_key(int(e.body["key_version"])):
                raise InputError(f"{incident_id} already has a case for this order")

    def advanced_before() -> str | None:
        # An advance is paid once per loss. Another incident's advance for this order (a
        # second incident accusing the same partner), or any advance citing this police
        # receipt (one report is one loss, though the victim may name a second order),
        # makes this case one for a person: a second scam is possible, a second payment
        # for the same one must not be automatic.
        for other, e in _all_cases(ws):
            if e.body["decision"] != "advance":
                continue
            same_order = other != incident_id and e.body["order_key"] == order_key(
                int(e.body["key_version"])
            )
            if same_order or _same_receipt(ws, e, receipt):
                what = "this order" if same_order else "this police receipt"
                return (
                    f"{what} already has an advance of {float(e.body['advance']):,.2f} yuan "
                    f"({e.body['case_id']}, {other}): a person must check that this is "
                    "another loss"
                )
        return None

    no_case_yet(inc)  # fail before the index lookup; checked again under the lock
    found = _order_exposure(ws, order, norm, inc)
    decision, advance, reasons = _decide(found, when, loss, cap)

    def under_lock(now: Incident) -> dict[str, Any] | None:
        # both rules on the incidents as they stand when the case is written: a clerk in
        # another incident advancing the same order or receipt a moment ago counts
        no_case_yet(now)
        if decision == "advance" and (earlier := advanced_before()) is not None:
            return {"decision": "review", "advance": 0.0, "reasons": [earlier]}
        return None

    case_id = f"CASE-{secrets.token_hex(4)}"
    add_event(
        ws,
        incident_id,
        "case",
        {
            "case_id": case_id,
            "order_key": order_key(v),
            "key_version": v,
            "occurred_at": when.isoformat(timespec="seconds"),
            "loss": round(loss, 2),
            "cap": cap,
            "decision": decision,
            "advance": advance,
            "reasons": reasons,
            "exposed_in": [f["release_id"] for f in found],
            "receipt": _encrypt(ws, receipt, "case"),
            "by": clean_text(actor, "the actor", required=False),
        },
        check=under_lock,
    )
    return _case_of(load_incident(ws, incident_id), case_id)


def record_payment(
    ws: Workspace,
    incident_id: str,
    case_id: str,
    kind: str,
    amount: float,
    note: str = "",
    actor: str = "",
) -> IncidentEvent:
    """Record an advance paid (``case_paid``: at most the decided advance, in total) or an
    amount recovered (``case_recovered``: from the police or the partner; at most what was
    paid)."""
    from leaktrace.respond.incident import clean_text

    if not (math.isfinite(amount) and round(amount, 2) > 0):
        raise InputError("the amount must be a positive number of yuan (at least 0.01)")
    if kind not in ("case_paid", "case_recovered"):
        raise InputError(f"unknown payment event {kind!r}")
    text = clean_text(note, "the note", required=False)
    body = {
        "case_id": case_id,
        "amount": round(amount, 2),
        # a transfer's reference or a name: encrypted like the receipt (empty stays empty)
        "note": _encrypt(ws, text, kind) if text else "",
        "by": clean_text(actor, "the actor", required=False),
    }

    def within_limits(now: Incident) -> None:
        _check_payment(_case_of(now, case_id), kind, round(amount, 2))

    within_limits(load_incident(ws, incident_id))  # a clear error before taking the lock
    return add_event(ws, incident_id, kind, body, check=within_limits)


def _check_payment(case: Case, kind: str, amount: float) -> None:
    """Paid in total at most the advance; recovered at most what was paid. Checked under
    the incident lock on the incident as it stands (two clerks paying at once)."""
    case_id = case.case_id
    if kind == "case_paid":
        if case.decision != "advance":
            raise InputError(f"{case_id} was decided '{case.decision}': no advance to pay")
        if case.paid + amount > case.advance + 1e-9:
            raise InputError(
                f"{case_id}: {case.paid + amount:,.2f} would exceed the advance of "
                f"{case.advance:,.2f}"
            )
    elif case.recovered + amount > case.paid + 1e-9:  # case_recovered
        raise InputError(
            f"{case_id}: {case.recovered + amount:,.2f} recovered would exceed the "
            f"{case.paid:,.2f} paid"
        )


def _case_of(inc: Incident, case_id: str) -> Case:
    for c in cases_of(inc):
        if c.case_id == case_id:
            return c
    raise InputError(f"no case {case_id[:40]!r} in incident {inc.id}")


def cases_of(inc: Incident) -> list[Case]:
    """The incident's cases with what was paid and recovered on each."""
    paid: dict[str, float] = {}
    recovered: dict[str, float] = {}
    for e in inc.all("case_paid"):
        paid[e.body["case_id"]] = paid.get(e.body["case_id"], 0.0) + float(e.body["amount"])
    for e in inc.all("case_recovered"):
        cid = e.body["case_id"]
        recovered[cid] = recovered.get(cid, 0.0) + float(e.body["amount"])
    out = []
    for e in inc.all("case"):
        b = e.body
        out.append(
            Case(
                case_id=b["case_id"],
                decision=b["decision"],
                advance=float(b["advance"]),
                loss=float(b["loss"]),
                reasons=list(b["reasons"]),
                exposed_in=list(b["exposed_in"]),
                paid=round(paid.get(b["case_id"], 0.0), 2),
                recovered=round(recovered.get(b["case_id"], 0.0), 2),
                message_zh=_MESSAGES[b["decision"]].format(advance=float(b["advance"])),
            )
        )
    return out


def case_detail(ws: Workspace, inc: Incident, case_id: str) -> dict[str, Any]:
    """One case with what is stored encrypted opened: the police receipt number and each
    payment's note (for the analyst who matches a recovery with the police; never in a
    list, a report or the service's answers)."""
    case = _case_of(inc, case_id)
    opened = next(e for e in inc.all("case") if e.body["case_id"] == case_id)
    payments = [
        {
            "seq": e.seq,
            "at": e.at,
            "kind": e.kind,
            "amount": float(e.body["amount"]),
            "note": _decrypt(ws, str(e.body.get("note", "")), e.kind),
            "by": e.body.get("by", ""),
        }
        for e in inc.events
        if e.kind in ("case_paid", "case_recovered") and e.body["case_id"] == case_id
    ]
    return {
        **case.as_dict(),
        "opened_at": opened.at,
        "occurred_at": opened.body["occurred_at"],
        "by": opened.body.get("by", ""),
        "police_receipt": _decrypt(ws, str(opened.body["receipt"]), "case"),
        "payments": payments,
    }


def case_summary(inc: Incident) -> dict[str, Any]:
    """Counts and sums for the regulator report and ``case list``."""
    cases = cases_of(inc)
    return {
        "cases": len(cases),
        "by_decision": {
            d: sum(c.decision == d for c in cases) for d in ("advance", "review", "declined")
        },
        "advance_decided": round(sum(c.advance for c in cases), 2),
        "paid": round(sum(c.paid for c in cases), 2),
        "recovered": round(sum(c.recovered for c in cases), 2),
        "loss_reported": round(sum(c.loss for c in cases), 2),
    }
