"""Baseline relational-data marking schemes, implemented for the benchmark only.

* :mod:`.ak` — an Agrawal–Kiernan-style LSB watermark used as a per-recipient fingerprint
  (one secret key per recipient, as in Li–Swarup–Jajodia's fingerprinting extension).
* :mod:`.exact` — the "fingerprint must match exactly" detector of public fingerprinting
  toolboxes: a leaked row counts for a recipient only if it equals one of that
  recipient's released rows byte for byte (after reading the file back).

Both are scored at the same ``alpha`` with the same Bonferroni correction over the same
recipients as leaktrace, so rows-needed figures are comparable.
"""

from __future__ import annotations

from .ak import AKScheme
from .exact import ExactIndex

__all__ = ["AKScheme", "ExactIndex"]
