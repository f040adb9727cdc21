"""The workspace configuration file ``leaktrace.toml``.

Why TOML and pydantic: analysts edit this file by hand and review it in change requests, so
it must be readable; every mistake in it must surface as one :class:`PolicyError` line that
names the recipient/policy and the key, before any data is touched.

A policy says, per recipient kind, which rows (``where``, a SQL boolean expression over
role-named columns, e.g. ``courier = '中通快递'``), which fields and how each is masked
(``fields``: role → masking operator; a role not listed is not sent), which mark channels
are on, and how many canary rows to add. See ``docs/policy.md`` for a full example.
"""

from __future__ import annotations

import bisect
import difflib
import os
import re
import tomllib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, overload

import numpy as np
import numpy.typing as npt
import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from leaktrace.errors import ConfigError, PolicyError, UnknownRecipientError
from leaktrace.roles import ROLE_NAMES

__all__ = [
    "CanaryPool",
    "OfficialContacts",
    "PhoneNumbers",
    "Policy",
    "Recipient",
    "WorkspaceConfig",
    "load_config",
    "save_config",
]

RecipientKind = Literal[
    "courier", "merchant", "customer-service", "sms-vendor", "internal", "other"
]


DEFAULT_CANARY_RATE = 0.01
"""One canary row per 100 released rows, in every template.

Why 1 %: a leak that keeps only name and phone carries no mark a channel can embed (a kept
name or phone cannot be altered), so canaries are its only evidence, and since session 20
a canary matched through name and phone counts only on its pool number (a number anyone
who knows the pool can list): at alpha 1e-9 a trace needs 3 to 11 of them, with the pool's
and the recipient's sizes (docs/policy.md has the table). At 1 % a 500-row sample holds
fewer than 4 canaries 27 % of the time, a 1,000-row one 1.1 %; at 0.1 % nearly always. The cost is one platform-controlled
number per canary (10,000 per million rows released) and, for couriers, one phantom
waybill per 100 that their integration must treat as cancelled before pickup. A policy can
lower the rate; ``docs/policy.md`` gives the rows a name+phone leak then needs."""


_MOBILE = re.compile(r"1[3-9][0-9]{9}")
"""A mainland mobile number, as canary pool entries must be."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Policy(_Strict):
    """What one kind of recipient may see, and how its copy is marked."""

    description: str = ""
    fields: dict[str, str] = Field(default_factory=dict)
    channels: list[str] = Field(default_factory=list)
    canary_rate: float = Field(default=DEFAULT_CANARY_RATE, ge=0.0, le=0.2)
    canary_min: int = Field(default=3, ge=0)
    code: Literal["fair", "tardos"] = "fair"
    columns: dict[str, str] = Field(
        default_factory=dict,
        description="override column-role inference: role -> input column name",
    )

    @field_validator("fields")
    @classmethod
    def _known_roles(cls, v: dict[str, str]) -> dict[str, str]:
        """Known roles, and each spec in its one canonical spelling (``NAME[:ARG][?]``,
        no spaces): the kernel, the policy check and the ledger compare spec strings, and
        ``" alias"`` or ``"keep? "`` must mean there what the operator parser reads."""
        from leaktrace.masking.base import parse_spec

        unknown = sorted(set(v) - ROLE_NAMES)
        if unknown:
            raise ValueError(f"unknown field role(s) {unknown}; known: {sorted(ROLE_NAMES)}")
        out: dict[str, str] = {}
        for role, spec in v.items():
            try:
                op = parse_spec(spec)
            except PolicyError as exc:
                raise ValueError(f"{role}: {exc.message}") from None
            arg = f":{op.arg}" if op.arg is not None else ""
            out[role] = f"{op.name}{arg}{'?' if op.optional else ''}"
        return out


MAX_DISPLAY_NAME = 100


class Recipient(_Strict):
    display_name: str = ""
    kind: RecipientKind = "other"
    policy: str
    where: str | None = None
    active: bool = True

    @field_validator("display_name")
    @classmethod
    def _one_line(cls, v: str) -> str:
        """The display name is written into notices, the regulator report and tables: a
        line break in it broke a draft's sentence in two and started a heading of its own
        ("中通\n## 八、联系人"). One line of printable text, at most 100 characters."""
        if any(not ch.isprintable() for ch in v):
            raise ValueError("a display name must be one line of printable text")
        if len(v) > MAX_DISPLAY_NAME:
            raise ValueError(
                f"a display name may have at most {MAX_DISPLAY_NAME} characters ({len(v)} given)"
            )
        return v.strip()


class CanaryPool(_Strict):
    """Contact points the platform controls. A call/SMS/mail to one of them is a hit.

    ``phones`` entries are single numbers or inclusive ranges ``"17090000000-17090004999"``
    (a block of virtual numbers bought from an operator). Each canary gets its own number,
    and numbers not yet used by any release are preferred, so a call to a canary number
    names one release.
    """

    phones: list[str] = Field(default_factory=list)
    emails: list[str] = Field(default_factory=list)

    @field_validator("phones")
    @classmethod
    def _ranges_ok(cls, v: list[str]) -> list[str]:
        for item in v:
            if not item.strip():  # a blank entry lists nothing
                continue
            lo, _, hi = item.strip().partition("-")
            if hi and not (
                lo.isdigit() and hi.isdigit() and len(lo) == len(hi) and int(lo) <= int(hi)
            ):
                raise ValueError(f"bad phone range {item!r} (want e.g. 17090000000-17090004999)")
            # a canary's number goes into the phone column of a copy: anything but a
            # mainland mobile number there (12 digits, a word) marks the row as synthetic,
            # and cannot be called
            if not all(_MOBILE.fullmatch(x) for x in ([lo, hi] if hi else [lo])):
                raise ValueError(
                    f"canary pool entry {item!r} is not a mainland mobile number or a range of "
                    "them (11 digits from 13–19, e.g. 17090000000-17090004999)"
                )
            if hi and int(hi) - int(lo) >= 1_000_000:
                raise ValueError(f"phone range {item!r} is larger than one million numbers")
        return v

    def phone_numbers(self) -> PhoneNumbers:
        """Every pool number, in configured order (ranges expanded lazily)."""
        return PhoneNumbers(self.phones)


class PhoneNumbers(Sequence[str]):
    """The numbers of a canary pool as a lazy sequence.

    Why lazy: a pool is up to a million numbers per range, and a release only ever draws
    a few thousand of them; materialising the list cost a release a second of allocation
    and garbage collection per million numbers. Indexing, length and membership are
    O(number of ranges).
    """

    def __init__(self, entries: list[str]) -> None:
        self._parts: list[tuple[int, int, int] | str] = []  # (first, count, width) or one
        starts = []
        total = 0
        for item in entries:
            # stripped as the config's check and the trace read it (" 17090000000-…" drew
            # "017090000000", a number no entry holds)
            lo, _, hi = item.strip().partition("-")
            if hi:
                part: tuple[int, int, int] | str = (int(lo), int(hi) - int(lo) + 1, len(lo))
                size = int(hi) - int(lo) + 1
            elif item.strip():
                part, size = item.strip(), 1
            else:
                continue
            starts.append(total)
            self._parts.append(part)
            total += size
        self._starts = starts
        self._starts_np: npt.NDArray[np.int64] | None = None
        self._len = total

    def __len__(self) -> int:
        return self._len

    def distinct(self) -> int:
        """How many different numbers the pool holds: a number listed twice (a block pasted
        twice, overlapping blocks) counts once. ``len`` counts listed entries.

        Why it matters: a canary hit's chance under random dialling is the share of the
        pool a recipient's canaries hold; over listed entries it came out too small, and
        dialling the pool at random accused (session 13's audit).
        """
        spans: dict[int, list[tuple[int, int]]] = {}  # width -> [first, end) of each range
        singles: set[str] = set()
        for part in self._parts:
            if isinstance(part, str):
                singles.add(part)
            else:
                first, count, width = part
                spans.setdefault(width, []).append((first, first + count))
        merged: dict[int, list[tuple[int, int]]] = {}
        total = 0
        for width, runs in spans.items():
            out: list[tuple[int, int]] = []
            for lo, hi in sorted(runs):
                if out and lo <= out[-1][1]:
                    out[-1] = (out[-1][0], max(out[-1][1], hi))
                else:
                    out.append((lo, hi))
            merged[width] = out
            total += sum(hi - lo for lo, hi in out)
        for one in singles:
            runs = merged.get(len(one), []) if one.isdigit() else []
            v = int(one) if runs else 0
            i = bisect.bisect_right(runs, (v, float("inf"))) - 1
            if not (runs and i >= 0 and runs[i][0] <= v < runs[i][1]):
                total += 1
        return total

    @overload
    def __getitem__(self, i: int) -> str: ...

    @overload
    def __getitem__(self, i: slice) -> list[str]: ...

    def __getitem__(self, i: int | slice) -> str | list[str]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._len))]
        if i < 0:
            i += self._len
        if not 0 <= i < self._len:
            raise IndexError("canary pool index out of range")
        p = bisect.bisect_right(self._starts, i) - 1
        part = self._parts[p]
        if isinstance(part, str):
            return part
        first, _, width = part
        return str(first + i - self._starts[p]).zfill(width)

    def _starts_array(self) -> npt.NDArray[np.int64]:
        """The parts' first indices as an array, built once: a Spark partition's pool is
        hundreds of thousands of one-number parts, and converting the list on every
        :meth:`take` cost more than the lookup."""
        if self._starts_np is None:
            self._starts_np = np.asarray(self._starts, dtype=np.int64)
        return self._starts_np

    def take(self, indices: Sequence[int]) -> list[str]:
        """``[self[i] for i in indices]`` for non-negative indices, a part at a time.

        Why: a canary reservation looks up tens of thousands of random pool positions on a
        well-used pool, and one ``__getitem__`` each (a bisect and a format) cost 1.1 µs.
        """
        idx = np.asarray(indices, dtype=np.int64)
        if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= self._len):
            raise IndexError("canary pool index out of range")
        part_of = np.searchsorted(self._starts_array(), idx, "right") - 1
        out: list[str] = [""] * idx.size
        for p in np.unique(part_of).tolist():
            rows = np.flatnonzero(part_of == p).tolist()
            part = self._parts[p]
            if isinstance(part, str):
                for r in rows:
                    out[r] = part
                continue
            first, _, width = part
            values = (idx[rows] + (first - self._starts[p])).tolist()
            for r, v in zip(rows, values, strict=True):
                out[r] = str(v).zfill(width)
        return out

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, str):
            return False
        for part in self._parts:
            if isinstance(part, str):
                if part == value:
                    return True
            elif (
                len(value) == part[2]
                and value.isascii()
                and value.isdigit()
                and part[0] <= int(value) < part[0] + part[1]
            ):
                return True
        return False

    def __iter__(self) -> Iterator[str]:
        for part in self._parts:
            if isinstance(part, str):
                yield part
            else:
                first, count, width = part
                for n in range(first, first + count):
                    yield str(n).zfill(width)


class OfficialContacts(_Strict):
    """The platform's real customer-service contact points (for ``scam verify-contact``)."""

    phones: list[str] = Field(default_factory=list)
    domains: list[str] = Field(default_factory=list)
    accounts: list[str] = Field(default_factory=list)


class WorkspaceSection(_Strict):
    name: str = "leaktrace"
    database_url: str = "sqlite:///ledger.db"
    platform: str = ""


class WorkspaceConfig(_Strict):
    workspace: WorkspaceSection = Field(default_factory=WorkspaceSection)
    recipients: dict[str, Recipient] = Field(default_factory=dict)
    policies: dict[str, Policy] = Field(default_factory=dict)
    canary_pool: CanaryPool = Field(default_factory=CanaryPool)
    official_contacts: OfficialContacts = Field(default_factory=OfficialContacts)

    def recipient(self, name: str) -> Recipient:
        try:
            return self.recipients[name]
        except KeyError:
            # the names nearest the one asked for, not all: a platform with a thousand
            # partners got a thousand names on its one line
            names = sorted(self.recipients)
            near = difflib.get_close_matches(name, names, n=10, cutoff=0.0)
            shown = near if len(names) > 10 else names
            more = f" … ({len(names)} in all: leaktrace recipient list)" if len(names) > 10 else ""
            known = ", ".join(shown) or "(none)"
            raise UnknownRecipientError(
                f"unknown recipient {name[:80]!r}; known recipients: {known}{more}"
            ) from None

    def policy_for(self, recipient: str) -> Policy:
        r = self.recipient(recipient)
        try:
            return self.policies[r.policy]
        except KeyError:
            raise PolicyError(
                f"recipient {recipient!r} uses policy {r.policy!r}, which is not defined"
            ) from None

    def check(self) -> None:
        """Cross-reference checks pydantic cannot do field by field.

        A policy's operators are not looked up here (see :meth:`policy_problems`): an
        operator unknown to this installation (a typo, a plugin no longer installed) stops
        releases under that policy, which check it in full, not ``verify``, ``trace`` or
        any other recipient's release."""
        for rname, r in self.recipients.items():
            if r.policy not in self.policies:
                raise PolicyError(
                    f"recipient {rname!r} uses policy {r.policy!r}, which is not defined"
                )
        for pname in self.policies:
            self.check_policy(pname, pairs=False, operators=False)

    def policy_problems(self) -> dict[str, str]:
        """The policies a release could not apply, each with its one-line reason: a field
        whose masking operator is unknown here or refuses its argument, or a mark channel
        unknown here. Empty when every
        policy's operators are usable. Opening a workspace warns about each (loading it
        does not fail), and a release under one is refused."""
        out: dict[str, str] = {}
        for pname in self.policies:
            try:
                self.check_policy(pname, pairs=False)
            except PolicyError as exc:
                out[pname] = exc.message
        return out

    def recipients_of(self, pname: str) -> list[str]:
        """The recipients whose releases use policy ``pname``, sorted."""
        return sorted(n for n, r in self.recipients.items() if r.policy == pname)

    def check_release_policy(self, recipient: str) -> Policy:
        """The recipient's policy, checked in full for a release (operators, arguments,
        channels and what each channel can mark); a problem is one :class:`PolicyError`
        naming the recipient, the policy, the field and the operator."""
        r = self.recipient(recipient)
        policy = self.policy_for(recipient)
        try:
            self.check_policy(r.policy)
        except PolicyError as exc:
            raise PolicyError(f"cannot release to {recipient!r}: {exc.message}") from None
        return policy

    def check_policy(self, pname: str, *, pairs: bool = True, operators: bool = True) -> None:
        """One policy's masking specs and channels, and with ``pairs`` whether each channel
        can mark its column under that column's mask.

        Loading a workspace checks only that channels are not listed twice (``pairs`` and
        ``operators`` False): a pair refused since session 8 must not stop ``trace`` or
        ``verify`` of releases made before (they read channels from the ledger), nor must
        an operator or a mark channel this installation does not know (a typo, a plugin no
        longer installed; session 15). A release checks its own policy in full (it may
        also have been edited in memory), and so does adding a recipient."""
        from leaktrace.channels import CHANNELS
        from leaktrace.masking import check_spec
        from leaktrace.masking.base import parse_spec

        p = self.policies[pname]
        for role, op in p.fields.items() if operators else ():
            try:
                check_spec(op)
            except PolicyError as exc:
                raise PolicyError(f"policy {pname!r}: field {role!r}: {exc.message}") from None
        twice = sorted({c for c in p.channels if p.channels.count(c) > 1})
        if twice:  # the release would add the channel's column twice and fail half-way
            raise PolicyError(
                f"policy {pname!r}: mark channel {twice[0]!r} is listed twice; list each once"
            )
        for ch in p.channels:
            if ch not in CHANNELS:
                if not operators:
                    continue
                raise PolicyError(
                    f"policy {pname!r}: unknown mark channel {ch!r}; "
                    f"known: {', '.join(sorted(CHANNELS))}"
                )
            if not pairs:
                continue
            channel = CHANNELS[ch]
            mask = p.fields.get(channel.role)
            name = parse_spec(mask).name if mask is not None else "drop"
            if name != "drop" and name not in channel.compatible_operators:
                raise PolicyError(
                    f"policy {pname!r}: the {ch!r} channel cannot mark field {channel.role!r} "
                    f"masked with {name!r} (it would write its marks into the masked value); "
                    f"it marks {', '.join(sorted(channel.compatible_operators))} only"
                )


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(x) for x in err["loc"])
    return f"{loc}: {err['msg']}"


def load_config(path: Path) -> WorkspaceConfig:
    try:
        # an editor may have saved it with a UTF-8 BOM (TOML itself allows none)
        raw: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise ConfigError(
            f"no workspace config at {path} (run 'leaktrace init' or pass --home)"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{path}: invalid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise PolicyError(f"{path}: not UTF-8 text") from None
    try:
        cfg = WorkspaceConfig.model_validate(raw)
    except ValidationError as exc:
        raise PolicyError(f"{path}: {_first_error(exc)}") from None
    cfg.check()
    return cfg


def save_config(cfg: WorkspaceConfig, path: Path) -> None:
    """Write atomically: a crash mid-write must not leave a truncated config."""
    data = cfg.model_dump(mode="json", exclude_none=True)
    tmp = path.with_suffix(".toml.tmp")
    tmp.unlink(missing_ok=True)  # a leftover of a crash would keep its own mode
    # the canary pool in here tells a reader which numbers are canaries: owner-only from
    # the moment the file exists, not chmod-ed after writing
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(tomli_w.dumps(data))
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
    except BaseException:
        # a value that cannot be written (a lone surrogate in a name) leaves the config as
        # it was, and no temporary file beside it
        tmp.unlink(missing_ok=True)
        raise
