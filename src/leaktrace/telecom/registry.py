"""Telecom adapters: one provider's call and SMS records turned into :class:`CallRecord`.

The boundary that cannot exist here is the operator's network; what crosses it is a
document (a push of call records, an exported file), and an adapter reads one such
document. Adding a provider is one new module with one class and ``@register_adapter``,
as a reader or a mark channel is: the class names itself, says how to read a payload (the
decoded JSON) and what the provider expects as an answer.
"""

from __future__ import annotations

from typing import Any, ClassVar

from leaktrace.errors import InputError
from leaktrace.telecom.records import CallRecord, RecordProblem

__all__ = ["TelecomAdapter", "adapter", "adapter_names", "register_adapter"]


class TelecomAdapter:
    """Reads one provider's payload. Subclasses set ``name`` and ``description`` and
    implement :meth:`records`."""

    name: ClassVar[str]
    description: ClassVar[str]

    def items(self, payload: Any) -> list[Any]:
        """The payload's records, still raw (a JSON array by default). Raises
        :class:`InputError` when the payload as a whole is not of this provider's shape."""
        if not isinstance(payload, list):
            raise InputError(f"a {self.name} payload is a JSON array of records")
        return payload

    def record(self, item: Any) -> CallRecord | None:
        """One raw record as a :class:`CallRecord`; None for a record that is no contact
        with the number (an outbound call of the platform's own line). Raises
        :class:`RecordProblem` for a record it cannot read."""
        raise NotImplementedError

    def ack(self, recorded: int) -> dict[str, Any]:
        """The body the provider expects back on success."""
        return {"ok": True, "recorded": recorded}

    def read(self, payload: Any) -> tuple[list[CallRecord], list[str], list[str]]:
        """(records, ignored, problems): every record read, the reasons records were left
        aside, and one line per record that could not be read (``record 3: …``)."""
        records: list[CallRecord] = []
        ignored: list[str] = []
        problems: list[str] = []
        for i, item in enumerate(self.items(payload), start=1):
            if not isinstance(item, dict):
                problems.append(f"record {i}: not a JSON object")
                continue
            try:
                rec = self.record(item)
            except RecordProblem as exc:
                problems.append(f"record {i}: {exc}")
                continue
            if rec is None:
                ignored.append(f"record {i}: not a call or message to the number")
            else:
                records.append(rec)
        return records, ignored, problems


_ADAPTERS: dict[str, type[TelecomAdapter]] = {}


def register_adapter(cls: type[TelecomAdapter]) -> type[TelecomAdapter]:
    if cls.name in _ADAPTERS:
        raise ValueError(f"telecom adapter {cls.name!r} is registered twice")
    _ADAPTERS[cls.name] = cls
    return cls


def adapter_names() -> list[str]:
    return sorted(_ADAPTERS)


def adapter(name: str) -> TelecomAdapter:
    cls = _ADAPTERS.get(name)
    if cls is None:
        raise InputError(
            f"unknown telecom adapter {name[:40]!r}; known: {', '.join(adapter_names())}"
        )
    return cls()
