"""Attribute a scam wave from victim reports and canary hits (issue 5).

* :mod:`.reports`   the VictimReport record, intake (JSON lines / CSV / XLSX), storage;
* :mod:`.hits`      canary hits → token / release / recipient;
* :mod:`.evidence`  per-victim evidence against the ledger (exposure, aliases, marks);
* :mod:`.attribute` the statistics and the verdict (see its docstring for the derivation);
* :mod:`.campaigns` grouping into campaigns with timelines and early flags;
* :mod:`.simulate`  realistic simulated waves; :mod:`.demo` the ``make demo`` step.
"""

from __future__ import annotations

from leaktrace.attribution.attribute import AttributionResult, Candidate, attribute
from leaktrace.attribution.hits import CanaryHit, record_hit
from leaktrace.attribution.reports import VictimReport, add_reports, parse_report_file

__all__ = [
    "AttributionResult",
    "CanaryHit",
    "Candidate",
    "VictimReport",
    "add_reports",
    "attribute",
    "parse_report_file",
    "record_hit",
]
