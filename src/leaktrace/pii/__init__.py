"""Chinese PII normalisation and detection, as vectorised Polars expressions.

One concept per module (phone, ID number, bank card, name, address, product); each detector
registers itself in :mod:`leaktrace.pii.base` when its module is imported, which this
package does, so ``all_detectors()`` sees the built-ins exactly as it sees third-party ones.
"""

from __future__ import annotations

from leaktrace.pii.address import (
    canonical_address,
    canonical_address_str,
    generalise_to_district,
    parse_address,
)
from leaktrace.pii.bankcard import luhn_ok, luhn_ok_str, normalise_card
from leaktrace.pii.base import Detector, all_detectors, get_detector, register
from leaktrace.pii.idcard import is_valid_id, is_valid_id_str, normalise_id
from leaktrace.pii.name import has_common_surname, is_chinese_name, is_masked_name, normalise_name
from leaktrace.pii.phone import is_mobile, normalise_phone, phone_pattern
from leaktrace.pii.product import canonical_product, canonical_product_str, product_score
from leaktrace.pii.text import canonical, canonical_str, fold_width, fold_width_str

__all__ = [
    "Detector",
    "all_detectors",
    "canonical",
    "canonical_address",
    "canonical_address_str",
    "canonical_product",
    "canonical_product_str",
    "canonical_str",
    "fold_width",
    "fold_width_str",
    "generalise_to_district",
    "get_detector",
    "has_common_surname",
    "is_chinese_name",
    "is_masked_name",
    "is_mobile",
    "is_valid_id",
    "is_valid_id_str",
    "luhn_ok",
    "luhn_ok_str",
    "normalise_card",
    "normalise_id",
    "normalise_name",
    "normalise_phone",
    "parse_address",
    "phone_pattern",
    "product_score",
    "register",
]
