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

After the decision, a person may act on a case (:func:`review_case`,
:func:`withdraw_case`):

- a ``review`` case is **approved** (it becomes ``advance``: the loss up to the case's
  cap, as an automatic advance) or **rejected** (closed, nothing paid) once someone has
  checked that the caller owns the order;
- a case opened by mistake (a mistyped phone, loss or scam time) is **withdrawn** while
  nothing was paid on it.

A rejected or withdrawn case no longer holds its order: "one case per order" exists so
that one loss is not paid twice, and neither pays anything. Without that, one mistyped
phone (or a caller who is not the owner) would lock the owner out for good. A paid case is
never withdrawn: the money went out, and what comes back is recorded as recovered.

States and transitions (anything else is refused, nothing recorded)::

    opened -> advance | review | declined        (decided by open_case)
    review   -> advance (approved) | rejected | withdrawn
    advance  -> withdrawn   (only while nothing is paid)
    declined -> withdrawn
    rejected, withdrawn: final

A case is a sequence of events of the incident's sealed chain: kind ``case`` for its
decisions (the first, with no ``action``, opens it; each later one names the case and its
``action``: ``approved``, ``rejected`` or ``withdrawn``, with who, the decision before
and after, and the reason encrypted), ``case_paid`` and ``case_recovered`` for money. The
later decisions are ``case`` events because the incident's chain accepts a fixed set of
kinds (:data:`leaktrace.respond.incident.KINDS`): they are sealed, verified and shown by
``incident show`` as every event is. The regulator report counts the cases from the same
record.
"""

from __future__ import annotations

import math
import os
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
import pyarrow.parquet as pq  # type: ignore[import-untyped]
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from leaktrace.errors import InputError, NotFoundError
from leaktrace.respond.incident import Incident, IncidentEvent, add_event, load_incident
from leaktrace.respond.times import ENCRYPTED_TEXT
from leaktrace.workspace import Workspace

__all__ = [
    "DEFAULT_CAP",
    "Case",
    "CaseStep",
    "acting_person",
    "case_detail",
    "case_summary",
    "cases_of",
    "open_case",
    "record_payment",
    "review_case",
    "withdraw_case",
]

DEFAULT_CAP = 5000.0
MAX_LOSS = 10_000_000.0
_RECEIPT = re.compile(r"[0-9A-Za-z][0-9A-Za-z\-]{3,63}")
_CASE_ID = re.compile(r"CASE-[0-9a-f]{8}")
"""A case id as ``open_case`` makes it."""
_ID_NUMBER = re.compile(r"(?<![0-9])[1-9][0-9]{16}[0-9Xx](?![0-9])")


_REASON = "case_reason"
"""What a later decision's reason is encrypted for (the AES-GCM associated data): a
reason's ciphertext does not open as a receipt or a payment's note, nor they as a reason."""

_STEP_REASONS = {
    "approved": "approved on review: a person checked that the caller owns the order; the "
    "advance is the loss up to the case's cap",
    "rejected": "rejected on review: a person did not accept the claim (the reason: case show)",
    "withdrawn": "withdrawn: opened by mistake (the reason: case show); the order may have a "
    "new case",
}


@dataclass(frozen=True)
class CaseStep:
    """A person's decision on a case after it was opened: a review's outcome or the
    case's withdrawal (a sealed ``case`` event naming the case). The reason is stored
    encrypted; :func:`case_detail` opens it."""

    seq: int
    at: str
    action: str
    """``approved``, ``rejected`` or ``withdrawn``."""
    before: str
    """The decision it changed."""
    decision: str
    """The decision after it."""
    advance: float
    by: str
    another_loss: bool = False
    """An approval the reviewer said is another loss, though the order or the police
    receipt already had an advance."""


@dataclass(frozen=True)
class Case:
    """A case as the incident records it (no personal data in clear). ``decision`` and
    ``advance`` are the case's current ones: after a review or a withdrawal, what that
    person decided (``history`` says who and when; the first decision is the
    opening's)."""

    case_id: str
    decision: str
    advance: float
    loss: float
    reasons: list[str]
    exposed_in: list[str]
    paid: float
    recovered: float
    message_zh: str
    history: tuple[CaseStep, ...] = ()

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
    payment's note, :data:`_REASON` for a review's or a withdrawal's reason): a receipt
    moved into a payment's note does not decrypt there."""
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
            f"an encrypted field of a case ({kind}) cannot be opened with this workspace's keys"
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


def _openings(inc: Incident) -> list[IncidentEvent]:
    """The events that opened the incident's cases (a later decision on a case is a
    ``case`` event too, naming it with an ``action``)."""
    return [e for e in inc.all("case") if "action" not in e.body]


def _all_cases(ws: Workspace) -> list[tuple[str, Case, IncidentEvent]]:
    """(incident id, case as it stands, the event that opened it) of every incident's
    cases."""
    from leaktrace.respond.incident import incident_ids

    out = []
    for iid in incident_ids(ws):
        inc = load_incident(ws, iid)
        opened = {e.body["case_id"]: e for e in _openings(inc)}
        out += [(iid, c, opened[c.case_id]) for c in cases_of(inc)]
    return out


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


_ANOTHER_LOSS = "a person must check that this is another loss"
"""The end of the reason of a case sent to review because its order or police receipt
already has an advance: the victim is told that, not that the order's owner is checked."""

_MESSAGES = {
    "advance": "经核实，您的订单信息曾由平台提供给涉事合作方，平台将先行垫付 {advance:,.2f} 元。"
    "垫付不影响您向公安机关追偿；如追回款项，请联系平台办理。平台不会要求您提供手持身份证照片、"
    "银行卡密码或验证码。",
    "review": "您的申请已受理，需人工进一步核实订单归属，客服将通过 App 内官方渠道与您联系。"
    "平台不会要求您提供手持身份证照片、银行卡密码或验证码。",
    "declined": "经核实，本次事件涉事合作方在您被骗之前未收到您的该笔订单信息，本事件暂不适用先行垫付。"
    "如有其他订单或线索，请通过 App 内官方渠道联系客服。",
    "review_another_loss": "您的申请已受理。该订单或报案回执此前已有一笔先行垫付，需人工核实本次是否为"
    "另一笔损失，客服将通过 App 内官方渠道与您联系。平台不会要求您提供手持身份证照片、银行卡密码或验证码。",
    "rejected": "经人工核实，您的本次申请暂不适用先行垫付。如有疑问或新的线索，请通过 App 内官方渠道"
    "联系客服。平台不会要求您提供手持身份证照片、银行卡密码或验证码。",
    "withdrawn": "您的本次申请因登记信息有误已撤回，客服将按核对后的信息重新受理。"
    "平台不会要求您提供手持身份证照片、银行卡密码或验证码。",
}


def _message_key(decision: str, history: tuple[CaseStep, ...], reasons: list[str]) -> str:
    """Which message the victim is read: a case in review because of an earlier advance
    says so (it said the order's ownership was being checked, which was not the reason)."""
    if decision == "review" and not history and any(r.endswith(_ANOTHER_LOSS) for r in reasons):
        return "review_another_loss"
    return decision


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
    person: str | None = None,
) -> Case:
    """Decide and record a victim's case (see the module docstring). ``occurred``: when
    the scam took place (a naive time is the platform's, UTC+8). Raises
    :class:`InputError` for what a caller must fix: an incident without evidence, a loss
    that is not a positive amount, a receipt number that is not one, a second case for
    the same order (unless the first was rejected or withdrawn: they pay nothing). ``actor``: who decided it (a token's or a system user's name), kept
    with the case for accountability; ``person``: the login name of who holds that token
    (:func:`acting_person`), which the four-eyes rule compares."""
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
    if isinstance(occurred, str) and _date_only(occurred):
        # a date alone would be read as midnight: a release made later that day would
        # count as after the scam and the victim be declined with a statement that may be
        # untrue (session 25's review)
        raise InputError(
            "the time of the scam needs a time of day (e.g. 2026-11-29 17:00; no zone = "
            "UTC+8): with a date alone, releases made later that day would count as after it"
        )
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
        # incidents as they stand when the case is written. A rejected or withdrawn case
        # pays nothing: it does not hold the order (one typo must not lock the owner out)
        now_cases = {c.case_id: c for c in cases_of(now)}
        for e in _openings(now):
            c = now_cases[e.body["case_id"]]
            if c.decision in ("rejected", "withdrawn"):
                continue
            if e.body["order_key"] == order_key(int(e.body["key_version"])):
                raise InputError(
                    f"{incident_id} already has a case for this order "
                    f"({c.case_id}, decided '{c.decision}'){_what_next(c)}"
                )

    def advanced_before() -> str | None:
        # An advance is paid once per loss. Another incident's advance for this order (a
        # second incident accusing the same partner), or any advance citing this police
        # receipt (one report is one loss, though the victim may name a second order),
        # makes this case one for a person: a second scam is possible, a second payment
        # for the same one must not be automatic.
        # As the cases stand: an approved review counts, a withdrawn advance does not.
        for other, c, e in _all_cases(ws):
            if c.decision != "advance":
                continue
            same_order = other != incident_id and e.body["order_key"] == order_key(
                int(e.body["key_version"])
            )
            if same_order or _same_receipt(ws, e, receipt):
                what = "this order" if same_order else "this police receipt"
                return (
                    f"{what} already has an advance of {c.advance:,.2f} yuan "
                    f"({c.case_id}, {other}): {_ANOTHER_LOSS}"
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
            # the order under every key version there is: an approval, which has no order
            # number to digest again, can still find an advance made before a rotation
            "order_keys": {str(k): order_key(k) for k in ws.keys.versions if k <= v},
            "occurred_at": when.isoformat(timespec="seconds"),
            "loss": round(loss, 2),
            "cap": cap,
            "decision": decision,
            "advance": advance,
            "reasons": reasons,
            "exposed_in": [f["release_id"] for f in found],
            "receipt": _encrypt(ws, receipt, "case"),
            "by": clean_text(actor, "the actor", required=False),
            "person": acting_person(actor, person),
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
    text = clean_text(note, "the note", required=False, personal_ok=True)  # encrypted
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
        if case.decision in ("rejected", "withdrawn"):
            how = "rejected on review" if case.decision == "rejected" else "withdrawn"
            raise InputError(f"{case_id} was {how}: nothing to pay")
        if case.decision == "review":
            raise InputError(
                f"{case_id} was decided 'review': no advance to pay until a person approves "
                "it (case approve)"
            )
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


def _what_next(case: Case) -> str:
    """What may be done with a case that holds its order (for the error that refuses a
    second case): nothing once money was paid on it."""
    if case.decision == "review":
        return (
            ": a person approves or rejects it (case approve / case reject), or withdraw it "
            "if it was opened by mistake (case withdraw)"
        )
    if case.paid:
        return f": {case.paid:,.2f} yuan was paid on it"
    return ": withdraw it first if it was opened by mistake (case withdraw)"


def _check_step(case: Case, action: str) -> None:
    """Whether ``action`` is a transition the case has (see the module docstring);
    :class:`InputError` saying why not. Checked under the incident lock on the case as it
    stands (a reviewer and a clerk acting at once)."""
    case_id = case.case_id
    last = case.history[-1].action if case.history else ""
    if action in ("approved", "rejected"):
        if case.decision == "withdrawn":
            raise InputError(f"{case_id} was withdrawn: there is nothing to review")
        if last in ("approved", "rejected"):
            raise InputError(
                f"{case_id} was already {last} on review: a review's outcome is final"
                + (" (withdraw it while nothing is paid)" if last == "approved" else "")
            )
        if case.decision != "review":
            raise InputError(
                f"{case_id} was decided '{case.decision}': only a case decided 'review' "
                "awaits a person's review"
            )
    elif case.decision == "withdrawn":  # action == "withdrawn"
        raise InputError(f"{case_id} was already withdrawn")
    elif case.decision == "rejected":
        raise InputError(
            f"{case_id} was rejected on review: a rejection is final, and it already lets "
            "the order have a new case"
        )
    elif case.paid > 0:
        # the money went out: withdrawing would free the order for a second advance and
        # drop a paid advance from the regulator's figures
        raise InputError(
            f"{case_id}: {case.paid:,.2f} yuan was paid on it: a paid case cannot be "
            "withdrawn (money that comes back is recorded with case recovered)"
        )


def _clean_reason(reason: str) -> str:
    """The reason for a review's outcome or a withdrawal, as it will be stored (encrypted):
    required, one line, no control characters; a mobile, ID card or bank card number in it is
    refused (a phone is used for the lookup and never stored, an ID number is never
    needed), however it is spelled (Chinese numerals too), with the rule the erasure
    requests' reasons use (:func:`~leaktrace.attribution.erasure.holds_personal_number`)."""
    from leaktrace.attribution.erasure import holds_personal_number
    from leaktrace.respond.incident import clean_text

    text = clean_text(reason, "the reason")
    if holds_personal_number(text):
        raise InputError(
            "the reason holds what looks like a phone or ID card number (or a bank card "
            "number): leave it out (a phone is used for the lookup and never stored; an ID "
            "or card number is never needed)"
        )
    return text


def _order_digests(opened: IncidentEvent) -> set[tuple[int, str]]:
    """(key version, digest) of a case's order: under every version there was when it was
    opened (``order_keys``, since session 19), else under its own version only."""
    keys = opened.body.get("order_keys")
    if isinstance(keys, dict) and keys:
        return {(int(k), str(d)) for k, d in keys.items()}
    return {(int(opened.body["key_version"]), str(opened.body["order_key"]))}


def _another_advance(ws: Workspace, incident_id: str, opened: IncidentEvent) -> str | None:
    """An advance, other than this case, for the same order or for the same police
    receipt: one loss is advanced once, unless a person says this is another loss.

    The order is compared by its key digests (:func:`_order_digests`): a case opened after
    a key rotation carries the order's digest under the older versions too, so an advance
    made before the rotation is found (a review found it; its approval must too). Two cases
    both opened before session 19 compare under one version only."""
    receipt = _decrypt(ws, str(opened.body["receipt"]), "case")
    mine = _order_digests(opened)
    for other, c, e in _all_cases(ws):
        if c.decision != "advance" or (other, c.case_id) == (incident_id, opened.body["case_id"]):
            continue
        same_order = bool(mine & _order_digests(e))
        if same_order or _same_receipt(ws, e, receipt):
            what = "this order" if same_order else "this police receipt"
            return (
                f"{what} already has an advance of {c.advance:,.2f} yuan ({c.case_id}, "
                f"{other}): approve {opened.body['case_id']} only if a person checked that "
                "this is another loss, and say so (--another-loss)"
            )
    return None


def _date_only(value: str) -> bool:
    """Whether ``value`` is a calendar date without a time of day (``2026-11-29``,
    ``20261129``, ``2026/11/29``), as :func:`~leaktrace.attribution.reports.parse_datetime`
    reads it."""
    try:
        date.fromisoformat(value.strip().replace("/", "-"))
    except ValueError:
        return False
    return True


def same_person(a: str, b: str) -> bool:
    """Whether two person names are one person's, as the four-eyes rule compares them:
    after NFKC (full-width ``ａｌｉｃｅ`` is ``alice``), without case, around spaces."""

    def key(name: str) -> str:
        return unicodedata.normalize("NFKC", name).strip().casefold()

    return bool(a and b) and key(a) == key(b)


def acting_person(actor: str, person: str | None) -> str:
    """The person behind ``actor``, as the four-eyes rule compares them: ``person`` when
    the caller names one (a token's ``--person``), else the user of a command-line actor
    (``cli:alice`` → ``alice``), else the name of a token made without a person
    (``token:alice`` → ``alice``: the person its name names, so that the tokens made
    before persons existed are covered too), else "". Names are compared by
    :func:`same_person` (``Alice`` and ``ａｌｉｃｅ`` are ``alice``).

    Why persons and not actors: an actor is a channel's name for whoever acted, and one
    person has several (two tokens, a token and a shell login). Compared by actor alone,
    whoever opened a case with a token could approve it at the shell and be paid."""
    from leaktrace.respond.incident import clean_text

    if person:
        return clean_text(person, "the person", required=False)
    for channel in ("cli:", "token:"):
        if actor.startswith(channel):
            return clean_text(actor[len(channel) :], "the person", required=False)
    return ""


def _record_step(
    ws: Workspace,
    incident_id: str,
    case_id: str,
    action: str,
    reason: str,
    actor: str,
    person: str | None,
    another_loss: bool,
) -> Case:
    """Record a person's decision on a case as a sealed ``case`` event naming it, the
    transition and the amount worked out and checked under the incident lock on the
    incident as it stands; the case as that event left it."""
    from leaktrace.respond.incident import clean_text

    text = _clean_reason(reason)
    by = clean_text(actor, "the actor", required=False)
    who = acting_person(actor, person)

    def decide(now: Incident) -> dict[str, Any]:
        case = _case_of(now, case_id)
        _check_step(case, action)
        opened = next(e for e in _openings(now) if e.body["case_id"] == case_id)
        advance = 0.0
        if action == "approved":
            opener = str(opened.body.get("by", ""))
            # an opening recorded before persons were: its command-line user still counts
            opener_person = opened.body.get("person", acting_person(opener, None))
            if (by and opener == by) or same_person(who, opener_person):
                # four eyes: the person who took a claim does not also decide that it is
                # paid (a rejection pays nothing and may be theirs), whichever token or
                # channel each step came through
                held = f" (held by {opener_person})" if opener_person and opener != by else ""
                raise InputError(
                    f"{case_id} was opened by {opener}{held}: another person approves it "
                    "(whoever took the claim does not also decide that money is paid)"
                )
            if not another_loss and (earlier := _another_advance(ws, incident_id, opened)):
                raise InputError(earlier)
            # the rule an automatic advance follows: the loss up to the case's cap
            advance = round(min(float(opened.body["loss"]), float(opened.body["cap"])), 2)
        decision = "advance" if action == "approved" else action
        return {"from": case.decision, "decision": decision, "advance": advance}

    decide(load_incident(ws, incident_id))  # a clear error before taking the lock
    body: dict[str, Any] = {
        "case_id": case_id,
        "action": action,
        "from": "",
        "decision": "",
        "advance": 0.0,
        "reason": _encrypt(ws, text, _REASON),
        "by": by,
        "person": who,
    }
    if action == "approved":
        body["another_loss"] = another_loss
    ev = add_event(ws, incident_id, "case", body, check=decide)
    inc = load_incident(ws, incident_id)
    # the case as this event left it, whoever acts on it next
    return _case_of(Incident(inc.id, [e for e in inc.events if e.seq <= ev.seq]), case_id)


def review_case(
    ws: Workspace,
    incident_id: str,
    case_id: str,
    outcome: str,
    reason: str,
    *,
    actor: str = "",
    person: str | None = None,
    another_loss: bool = False,
) -> Case:
    """Record the outcome of a person's review of a ``review`` case: ``approved`` (it
    becomes an advance of the loss up to the case's cap, payable with
    :func:`record_payment`) or ``rejected`` (closed, nothing paid; the order may have
    another case, the owner's). ``reason``: why (stored encrypted; no phone or ID
    number). ``actor``: who decided. An approval is refused while another advance exists
    for the same order or police receipt, unless ``another_loss``: the reviewer checked
    that this is a second loss, not the same one paid twice; and it is refused when
    ``actor`` is the one who opened the case (four eyes: a token's name on the service,
    the shell's user on the command line), or the same person (:func:`acting_person`:
    the login name a token names with ``--person``, or the shell's user), so one person
    cannot open a case with one token and approve it with another or at the shell."""
    if outcome not in ("approved", "rejected"):
        raise InputError(
            f"the outcome of a review is 'approved' or 'rejected', not {outcome[:20]!r}"
        )
    return _record_step(ws, incident_id, case_id, outcome, reason, actor, person, another_loss)


def withdraw_case(
    ws: Workspace,
    incident_id: str,
    case_id: str,
    reason: str,
    *,
    actor: str = "",
    person: str | None = None,
) -> Case:
    """Withdraw a case opened by mistake (a mistyped phone, loss or scam time): it stays
    in the incident's record, is no longer counted, and no longer holds its order, so
    the case can be opened again with the right facts. Refused once anything was paid
    on it, and for a rejected case (a rejection is final and already frees the order).
    ``reason``: why (stored encrypted; no phone or ID number). ``actor``: who."""
    return _record_step(ws, incident_id, case_id, "withdrawn", reason, actor, person, False)


def _case_of(inc: Incident, case_id: str) -> Case:
    for c in cases_of(inc):
        if c.case_id == case_id:
            return c
    # the id is quoted only when it has a case id's shape: a phone pasted there (the
    # service's path, a mistyped CLI argument) must not come back in the error
    named = repr(case_id) if _CASE_ID.fullmatch(case_id) else "with that id"
    raise NotFoundError(f"no case {named} in incident {inc.id}")  # the service answers 404


def _steps(inc: Incident) -> dict[str, list[CaseStep]]:
    """Each case's later decisions (reviews, withdrawal), in order."""
    out: dict[str, list[CaseStep]] = {}
    for e in inc.all("case"):
        b = e.body
        if "action" in b:
            out.setdefault(b["case_id"], []).append(
                CaseStep(
                    seq=e.seq,
                    at=e.at,
                    action=b["action"],
                    before=b["from"],
                    decision=b["decision"],
                    advance=float(b["advance"]),
                    by=str(b.get("by", "")),
                    another_loss=bool(b.get("another_loss", False)),
                )
            )
    return out


def cases_of(inc: Incident) -> list[Case]:
    """The incident's cases as they stand (after any review or withdrawal) with what was
    paid and recovered on each."""
    paid: dict[str, float] = {}
    recovered: dict[str, float] = {}
    for e in inc.all("case_paid"):
        paid[e.body["case_id"]] = paid.get(e.body["case_id"], 0.0) + float(e.body["amount"])
    for e in inc.all("case_recovered"):
        cid = e.body["case_id"]
        recovered[cid] = recovered.get(cid, 0.0) + float(e.body["amount"])
    steps = _steps(inc)
    out = []
    for e in _openings(inc):
        b = e.body
        history = tuple(steps.get(b["case_id"], ()))
        decision = history[-1].decision if history else b["decision"]
        advance = history[-1].advance if history else float(b["advance"])
        out.append(
            Case(
                case_id=b["case_id"],
                decision=decision,
                advance=advance,
                loss=float(b["loss"]),
                reasons=[*b["reasons"], *(_STEP_REASONS[s.action] for s in history)],
                exposed_in=list(b["exposed_in"]),
                paid=round(paid.get(b["case_id"], 0.0), 2),
                recovered=round(recovered.get(b["case_id"], 0.0), 2),
                message_zh=_MESSAGES[_message_key(decision, history, b["reasons"])].format(
                    advance=advance
                ),
                history=history,
            )
        )
    return out


def case_detail(ws: Workspace, inc: Incident, case_id: str) -> dict[str, Any]:
    """One case with what is stored encrypted opened: the police receipt number, each
    payment's note and the reason of each later decision (for the analyst who matches a
    recovery with the police or answers for a review; never in a list, a report or the
    service's answers)."""
    case = _case_of(inc, case_id)
    opened = next(e for e in _openings(inc) if e.body["case_id"] == case_id)
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
    reasons = {
        e.seq: _decrypt(ws, str(e.body["reason"]), _REASON)
        for e in inc.all("case")
        if "action" in e.body and e.body["case_id"] == case_id
    }
    history = [
        {
            "seq": s.seq,
            "at": s.at,
            "action": s.action,
            "from": s.before,
            "decision": s.decision,
            "advance": s.advance,
            "by": s.by,
            "another_loss": s.another_loss,
            "reason": reasons[s.seq],
        }
        for s in case.history
    ]
    return {
        **case.as_dict(),
        "opened_at": opened.at,
        "occurred_at": opened.body["occurred_at"],
        "by": opened.body.get("by", ""),
        "opened_decision": opened.body["decision"],
        "police_receipt": _decrypt(ws, str(opened.body["receipt"]), "case"),
        "payments": payments,
        "history": history,
    }


def case_summary(inc: Incident) -> dict[str, Any]:
    """Counts and sums for the regulator report and ``case list``, by each case's
    outcome: an approved review counts as an advance, a rejected one as declined (不予垫付),
    one awaiting its review as review. A withdrawn case was opened by mistake and is not
    counted (its order's loss would be reported twice once the case is opened again).

    A rejected case frees its order, so the same loss can be claimed again (the owner
    calls after a caller who was not): the rejection still counts as a decided claim, but
    its loss is left out of ``loss_reported`` once a later case holds the same order, and
    ``reopened`` says how many such rejections there are. Orders are compared by their
    keyed digests, under every key version a case carries."""
    cases = [c for c in cases_of(inc) if c.decision != "withdrawn"]
    opened = {e.body["case_id"]: _order_digests(e) for e in _openings(inc)}
    reopened = {
        c.case_id
        for i, c in enumerate(cases)
        if c.decision == "rejected"
        and any(opened[c.case_id] & opened[later.case_id] for later in cases[i + 1 :])
    }
    return {
        "cases": len(cases),
        "by_decision": {
            "advance": sum(c.decision == "advance" for c in cases),
            "review": sum(c.decision == "review" for c in cases),
            "declined": sum(c.decision in ("declined", "rejected") for c in cases),
        },
        "reopened": len(reopened),
        "advance_decided": round(sum(c.advance for c in cases), 2),
        "paid": round(sum(c.paid for c in cases), 2),
        "recovered": round(sum(c.recovered for c in cases), 2),
        "loss_reported": round(sum(c.loss for c in cases if c.case_id not in reopened), 2),
    }
