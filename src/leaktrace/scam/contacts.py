"""Is this phone number, domain or account really the platform's customer service?

Scammers quote numbers that *look* official (a 400 number, a 95xxx short number, a
domain with the brand in it). The only reliable answer is the platform's own registry,
``official_contacts`` in the workspace config. Numbers are compared after normalisation:
full-width digits, spaces, dashes, brackets, ``+86``/``0086``/``86`` prefixes.

Verdicts: ``official`` (in the registry), ``not_official`` (the registry has entries of
this kind and this is not one of them), ``unknown`` (nothing to compare with, or the input
is neither a phone number, a domain nor an account).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from leaktrace.config import OfficialContacts

__all__ = ["ContactVerdict", "normalise_domain", "normalise_phone", "verify_contact"]

Verdict = Literal["official", "not_official", "unknown"]
Kind = Literal["phone", "domain", "account"]

_PHONE_CHARS = re.compile(r"[\s\-－—–()（）.·]")
_DOMAIN = re.compile(
    r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:[a-z]{2,}|xn--[a-z0-9-]{1,59})$"
)


@dataclass(frozen=True)
class ContactVerdict:
    query: str
    kind: Kind
    normalised: str
    verdict: Verdict
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {
            "query": self.query,
            "kind": self.kind,
            "normalised": self.normalised,
            "verdict": self.verdict,
            "reasons": self.reasons,
        }


def normalise_phone(raw: str) -> str | None:
    """Digits of a Chinese phone number without country prefix, or ``None``."""
    s = _PHONE_CHARS.sub("", unicodedata.normalize("NFKC", raw))
    if s.startswith("+"):
        s = s[1:]
        if not s.startswith("86"):
            return s if s.isdigit() else None
        s = s[2:]
    elif s.startswith("0086"):
        s = s[4:]
    elif s.startswith("86") and (len(s) == 13 or s[2:].startswith(("400", "800", "95", "96"))):
        s = s[2:]
    if not s.isdigit() or not 3 <= len(s) <= 15:
        return None
    return s


def _phone_kind(digits: str) -> str:
    if re.fullmatch(r"1[3-9]\d{9}", digits):
        return "a personal mobile number"
    if re.fullmatch(r"[48]00\d{7}", digits):
        return f"a {digits[:3]} service number"
    if re.fullmatch(r"95\d{3,6}", digits):
        return "a 95 short service number"
    if re.fullmatch(r"0\d{9,11}", digits):
        return "a landline number"
    return "a number"


def normalise_domain(raw: str) -> str | None:
    """Lower-case host name of a domain or URL (``www.`` dropped), or ``None``.

    A host in Chinese (``leakshop.cn.中国``, ``京东商城.com``) is compared in its ASCII
    (punycode) form, as DNS resolves it: a phishing link on an internationalised domain is
    a domain like any other, not an unknown "account".
    """
    s = unicodedata.normalize("NFKC", raw).strip().lower()
    if "://" not in s:
        s = "//" + s
    try:
        host = urlsplit(s).hostname or ""
    except ValueError:
        return None
    host = host.rstrip(".")
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:  # not a name DNS could hold
            return None
    if host.startswith("www."):
        host = host[4:]
    return host if _DOMAIN.match(host) else None


def _account(raw: str) -> str:
    return unicodedata.normalize("NFKC", raw).strip().casefold()


def verify_contact(query: str, contacts: OfficialContacts) -> ContactVerdict:
    """Compare one claimed contact point with the registry; see the module docstring."""
    q = query.strip()
    phone = normalise_phone(q) if not re.search(r"[a-zA-Z@]", q) else None
    if phone is not None:
        official = {p for p in (normalise_phone(x) for x in contacts.phones) if p}
        what = _phone_kind(phone)
        if not official:
            return ContactVerdict(
                q, "phone", phone, "unknown", ["no official phone numbers are configured"]
            )
        if phone in official:
            return ContactVerdict(
                q, "phone", phone, "official", ["listed in official_contacts.phones"]
            )
        reasons = [f"{what}, not in the {len(official)} official phone number(s)"]
        if what == "a personal mobile number":
            reasons.append("real customer service does not call from personal mobile numbers")
        return ContactVerdict(q, "phone", phone, "not_official", reasons)
    domain = normalise_domain(q) if "@" not in q else None
    if domain is not None:
        official_d = {d for d in (normalise_domain(x) for x in contacts.domains) if d}
        if not official_d:
            return ContactVerdict(
                q, "domain", domain, "unknown", ["no official domains are configured"]
            )
        for d in sorted(official_d):
            if domain == d or domain.endswith("." + d):
                return ContactVerdict(
                    q, "domain", domain, "official", [f"is or is under official domain {d}"]
                )
        reasons = [f"not under any of the {len(official_d)} official domain(s)"]
        for d in sorted(official_d):
            label = d.split(".")[0]
            if len(label) >= 3 and label in domain:
                reasons.append(f"imitates official domain {d} (look-alike)")
        return ContactVerdict(q, "domain", domain, "not_official", reasons)
    acct = _account(q)
    if not acct:
        return ContactVerdict(q, "account", acct, "unknown", ["empty input"])
    official_a = {_account(a) for a in contacts.accounts}
    if not official_a:
        return ContactVerdict(
            q, "account", acct, "unknown", ["no official accounts are configured"]
        )
    if acct in official_a:
        return ContactVerdict(
            q, "account", acct, "official", ["listed in official_contacts.accounts"]
        )
    return ContactVerdict(
        q,
        "account",
        acct,
        "not_official",
        [f"not one of the {len(official_a)} official account(s)"],
    )
