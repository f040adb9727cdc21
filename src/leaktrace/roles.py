"""Canonical column roles.

Every reader maps whatever headers a file has (收货人, 手机, Consignee, no header at all …)
onto these role names; policies, masking, mark channels and the tracer speak only roles.
Adding a role is adding a member here and teaching :mod:`leaktrace.io.columns` to
recognise it.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ROLE_NAMES", "Role"]


class Role(StrEnum):
    ORDER_ID = "order_id"
    ORDER_TIME = "order_time"
    NAME = "name"
    PHONE = "phone"
    ADDRESS = "address"
    PRODUCT = "product"
    SKU = "sku"
    QUANTITY = "quantity"
    AMOUNT = "amount"
    CARD_LAST4 = "card_last4"
    ID_NUMBER = "id_number"
    COURIER = "courier"
    MERCHANT = "merchant"
    EMAIL = "email"


ROLE_NAMES: frozenset[str] = frozenset(r.value for r in Role)
