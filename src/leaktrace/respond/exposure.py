"""Who was exposed by a leak: the platform's own orders that went out in given releases.

When a trace names a recipient, the platform must notify the people whose data that
recipient received and report their number to the regulator (PIPL art. 57, Cybersecurity
Law art. 42; DESIGN §2.4). The ledger holds no personal data to list them from: a
release's exposure index stores keyed digests of the order numbers it carried (anchors),
its canary rows flagged. So the platform brings its own order table, the one it released
from; every order whose anchor is in a chosen release's index was exposed in it. Canary
rows are never anyone's data and are left out.

Why not trust the copy's own rows: the copy may be lost, altered or partly aliased; the
index was written with the copy, its digest is in the signed record, and ``verify``
checks it. The result is only as complete as the order table given: index rows that
match no order in it are counted (``unmatched``) and said, never guessed at.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from leaktrace.errors import InputError
from leaktrace.ledger import Ledger, ReleaseEntry
from leaktrace.respond.times import PLATFORM_TZ, shown_time
from leaktrace.roles import Role
from leaktrace.workspace import Workspace

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "FIELD_NAMES_ZH",
    "Exposure",
    "exposed",
    "float_rendering",
    "notice_text",
    "order_spellings",
]

FIELD_NAMES_ZH = {
    "order_id": "订单号",
    "order_time": "下单时间",
    "name": "姓名",
    "phone": "手机号",
    "address": "收货地址",
    "product": "商品信息",
    "sku": "商品编号",
    "quantity": "数量",
    "amount": "金额",
    "card_last4": "银行卡后四位",
    "id_number": "身份证号",
    "email": "电子邮箱",
    "courier": "快递公司",
    "merchant": "商家",
}
"""Roles as a notice names them in Chinese (PIPL art. 57: the categories of data)."""


CONTACT_ROLES = ("order_id", "order_time", "name", "phone")
"""The order table's columns an exposed list always keeps: which order, whose, and the
number a notice is sent to."""

EXPOSURE_COLUMNS = ("exposed_in", "exposed_to", "fields_exposed", "first_exposed_at", "ambiguous")
"""The columns :func:`exposed` adds to the order table's rows."""


@dataclass
class Exposure:
    """The exposed orders (the platform's own rows, with where each went) and what a
    notice and a regulator report need to say about them."""

    rows: pl.DataFrame
    """The order table's exposed rows plus ``exposed_in`` (release ids), ``exposed_to``
    (recipients), ``fields_exposed`` (roles sent) and ``first_exposed_at``; ``;``-joined.
    ``first_exposed_at`` is the first release's ``created`` as the ledger stores it (UTC),
    for code to compare with :attr:`releases`; :meth:`for_people` is the list as the
    commands write it."""
    releases: list[ReleaseEntry]
    unmatched: int
    """Real (non-canary) rows of the chosen releases whose order is not in the table, and
    released people of an order the table lists whom no row of it can be (every row of
    the number is another released person's): the table is short of them."""
    float_order_id: str | None = None
    """When rows are :attr:`unmatched` and the table's order numbers look like floats (a
    spreadsheet's ``6.25412345678912E+17`` or ``625412345678912000``): one of them, as
    the table gives it (:func:`float_rendering`). The likely reason they match nothing:
    a float keeps 15 to 17 digits of a 16–19 digit order number. None otherwise."""

    def for_people(self) -> pl.DataFrame:
        """:attr:`rows` as ``leaktrace exposed`` and ``incident exposed`` write the list,
        in any format: ``first_exposed_at`` in platform time with its offset
        (``2026-11-29 18:56:20+08:00``), the clock of the notice and the regulator report.
        The order table's own columns are left as it gave them: its order times are
        platform time already (a naive time in leaktrace is UTC+8), not shifted again.

        Only what notifying needs (PIPL art. 6, the minimum necessary): whom and how to
        reach (:data:`CONTACT_ROLES`), and of the order table's other columns those some
        chosen release sent. An ID number or a card's last digits no release sent stays in
        the order table (session 25's review: the list carried every recognised column)."""
        shown = {e.created: shown_time(e.created) for e in self.releases}
        sent = {f for e in self.releases for f in e.fields}
        keep = [
            c for c in self.rows.columns if c in CONTACT_ROLES or c in sent or c in EXPOSURE_COLUMNS
        ]
        # and on each row only what that row's releases sent: a customer whose order went to
        # the courier alone does not carry the card digits customer service was sent
        own = [
            pl.when(pl.col("fields_exposed").str.contains(rf"(?:^|;){c}(?:;|$)"))
            .then(pl.col(c))
            .otherwise(None)
            .alias(c)
            for c in keep
            if c not in CONTACT_ROLES and c not in EXPOSURE_COLUMNS
        ]
        return (
            self.rows.select(keep)
            .with_columns(*own)
            .with_columns(pl.col("first_exposed_at").replace(shown))
        )

    def summary(self) -> dict[str, Any]:
        from leaktrace import rewrite

        fields = sorted({f for e in self.releases for f in e.fields})
        if "phone" in self.rows.columns:
            # one person per normalised phone (+86 138-… and 138… alike); a row without a
            # phone is a person of its own: counting it with others could only undercount
            phones = rewrite.canonical_phone(self.rows.get_column("phone").cast(pl.Utf8))
            people = phones.drop_nulls().n_unique() + phones.null_count()
        else:
            people = self.rows.get_column("order_id").n_unique()
        return {
            "orders": self.rows.get_column("order_id").n_unique() if self.rows.height else 0,
            "rows": self.rows.height,
            "people": people,
            "people_counted_by": "phone" if "phone" in self.rows.columns else "order",
            "ambiguous_rows": int(self.rows.get_column("ambiguous").sum())
            if self.rows.height
            else 0,
            "unmatched_index_rows": self.unmatched,
            "releases": [
                {
                    "release_id": e.release_id,
                    "recipient": e.recipient,
                    "created": e.created,
                    "fields": e.fields,
                    "rows": e.rows - e.canaries,
                }
                for e in self.releases
            ],
            "fields": fields,
            "fields_zh": [FIELD_NAMES_ZH.get(f, f) for f in fields],
            "by_recipient": {
                r: int(n)
                for r, n in self.rows.get_column("exposed_to")
                .str.split(";")
                .explode()
                .value_counts()
                .iter_rows()
            }
            if self.rows.height
            else {},
        }

    def notice_zh(self, contact: str, measures: str, partners: dict[str, str] | None = None) -> str:
        """A draft of the notice to the people exposed, with what PIPL art. 57 asks of it:
        the categories of data, the cause and possible harm, the measures taken and what
        the person can do, and how to reach the platform. ``partners`` maps recipients to
        the names the notice gives them. A draft: the platform's legal team owns the final
        text (and whether a masked field, such as a phone with six digits hidden, is named
        as it is: the categories are the fields the releases sent)."""
        s = self.summary()
        first = min((datetime.fromisoformat(e.created) for e in self.releases), default=None)
        names = list(
            dict.fromkeys((partners or {}).get(e.recipient, e.recipient) for e in self.releases)
        )
        return notice_text(s["fields_zh"], first, names, measures, contact)


def notice_text(
    fields_zh: list[str],
    first_release: datetime | None,
    partners: list[str],
    measures: str,
    contact: str,
) -> str:
    """The notice's text (see :meth:`Exposure.notice_zh`), from the facts it states: the
    categories of data, the date of the first release involved, the partners it went to,
    the measures taken and the platform's contact."""
    when = first_release.astimezone(PLATFORM_TZ).strftime("%Y年%m月%d日") if first_release else ""
    names = "、".join(partners)
    done = measures.strip().rstrip("。.；;")
    return (
        f"【个人信息安全告知】尊敬的用户：经核查，本平台自 {when} 起向合作方（{names}）"
        f"提供的订单数据中，您的{('、'.join(fields_zh)) or '订单信息'}可能已从该合作方处泄露。"
        "不法分子可能冒充电商或快递客服，以理赔、退款、取消会员等理由联系您，诱导您下载会议软件、"
        "共享屏幕或转账。"
        f"平台已采取的措施：{done}。"
        "请您注意：平台客服不会要求您共享屏幕、提供验证码或向任何账户转账；如接到此类来电，请立即挂断，"
        f"并通过 App 内官方渠道核实。如有疑问，请联系：{contact.strip()}。"
    )


def order_spellings(ids: pl.Series) -> list[pl.Series]:
    """The order number as the release digested it (``cast(Utf8)``, stripped), then the
    spellings a table of the same orders may hold instead: width-folded (full-width digits
    from an Excel export) and, for numbers read as floats, without the ``.0``.

    Why several: the anchor is a keyed digest of the exact text the release read, and the
    platform's table may have been exported again since, typed differently. A variant
    that matches an index anchor is the release's own spelling of that order, so trying
    them cannot match the wrong order; it only finds ones a single spelling would miss.
    """
    text = ids.cast(pl.Utf8).str.strip_chars()
    out = [text]
    folded = text.str.normalize("NFKC").str.strip_chars()
    out.append(folded)
    out.append(folded.str.replace(r"^([0-9]+)\.0+$", "$1"))
    return out


BATCH_ROWS = 200_000
"""Rows of the order table read at a time: :func:`leaktrace.io.read_table`'s batches, so a
batch is normalised exactly as a whole read normalises it."""


def exposed(
    ws: Workspace,
    orders: pl.DataFrame | pd.DataFrame | str | Path,
    *,
    recipients: list[str] | None = None,
    release_ids: list[str] | None = None,
    since: datetime | str | None = None,
    encoding: str | None = None,
) -> Exposure:
    """The orders of ``orders`` (the platform's table, any supported format) that went out
    in the chosen releases: those of ``recipients``, or with ``release_ids``, made at or
    after ``since`` (a naive time is the platform's, UTC+8). At least one of the first two
    is required: "everyone" is no incident.

    An order number the table lists twice is matched on the phone too (the index's keyed
    customer digest), so only the row the release carried is listed; for a released
    person no phone decides (none in the table, or changed since), every row of the
    number no other released person claims is listed (``ambiguous`` when several): a
    person notified in error is better than one left out. Released rows found in no
    spelling of any order of the table, and released people no row is left for, are
    counted in ``unmatched``, never guessed at.

    Memory: a file is read :data:`BATCH_ROWS` rows at a time (its role columns only) and
    a batch keeps only the rows a spelling of whose order number is among the chosen
    releases' anchors (a semi-join on the keyed digests); only those rows, the chosen
    releases' distinct anchors and one index at a time are held, not the table. A frame
    given in memory goes through the same steps, slice by slice.

    Raises :class:`LedgerIntegrityError` when the ledger does not verify (a list of people
    to notify must come from records that hold), :class:`InputError` when a release id is
    unknown, no release matches, or the table has no order numbers or cannot be read
    (also when that is found only far into the file: nothing is returned in part).
    """
    from leaktrace.io import open_table, read_frame

    chosen = _chosen(ws, recipients, release_ids, since)
    released = _released_anchors(ws, chosen)
    sample: list[pl.Series] = []  # the table's first order numbers, for float_rendering
    if isinstance(orders, str | Path):
        with open_table(Path(orders), encoding=encoding, batch_rows=BATCH_ROWS) as src:
            if Role.ORDER_ID not in src.roles:
                raise InputError(_NO_ORDER_ID)
            batches = src.iter_batches([r.value for r in src.roles])
            table, keyed = _kept_rows(_sampled(batches, sample), released)
            if table is None:  # no batch at all: the empty table as a whole read gives it
                table = src.read().clear()
    else:
        df = read_frame(orders)
        if "order_id" not in df.columns:
            raise InputError(_NO_ORDER_ID)
        table, keyed = _kept_rows(_sampled(df.iter_slices(BATCH_ROWS), sample), released)
        if table is None:
            table = df.clear()
    ex = _resolve(ws, table, keyed, chosen)
    if ex.unmatched and sample:
        ex.float_order_id = float_rendering(pl.concat(sample))
    return ex


_NO_ORDER_ID = "the order table has no order number column (订单号 / order_id)"


FLOAT_SAMPLE = 1_000
"""The table's order numbers :func:`exposed` looks at (its first ones with a value) to
tell whether they were stored as floats: a spreadsheet types a whole column."""


def _sampled(batches: Iterable[pl.DataFrame], sample: list[pl.Series]) -> Iterator[pl.DataFrame]:
    """``batches`` as they come, adding to ``sample`` their first :data:`FLOAT_SAMPLE`
    order numbers with a value."""
    held = 0
    for batch in batches:
        if held < FLOAT_SAMPLE and "order_id" in batch.columns:
            ids = batch.get_column("order_id").drop_nulls().head(FLOAT_SAMPLE - held)
            sample.append(ids.cast(pl.Utf8))
            held += ids.len()
        yield batch


_FLOAT_TEXT = r"^[+-]?[0-9]+(?:\.[0-9]*)?[eE][+-]?[0-9]+$|^[0-9]+\.[0-9]*[1-9][0-9]*$"
"""A number with an exponent (``6.25412345678912E+17``) or a fraction (``123.45``): how a
float is written, and no order number is. A whole float's ``.0`` is not enough alone: a
16-digit number below 2**53 is exact as a float (``5276192771718883.0``), and
:func:`order_spellings` matches it."""

_EXACT_DOUBLE = 2**53
"""Every whole number up to this is exactly a float64; above it, only one in 2, 4, … 2048
(19 digits) is."""


def float_rendering(ids: pl.Series) -> str | None:
    """One of the order numbers ``ids`` (a table's, or its first :data:`FLOAT_SAMPLE`) as
    a floating-point number wrote it, when they look like floats: a float column, or text
    a float was written as. None when they do not.

    Why: a spreadsheet (Excel, WPS) stores a 16–19 digit order number typed as a number
    as a float, keeping 15 significant digits (a float64 17), and every release read the
    numbers as text: such a table matches few released rows, if any. The table shows it
    in three ways:

    * text a float is written as: ``6.25412345678912E+17``, which no order number is (a
      ``.0`` is dropped and the digits before it checked as below:
      ``5276192771718883.0`` lost nothing);
    * a spreadsheet's digits: ``625412345678912000``, at most 15 significant digits and
      zeros after them;
    * a float made whole again (``int(x)``, a workbook's number cell read as an integer):
      ``116211091236812992``, a number above 2**53 that is exactly a float64.

    They look like floats when at least 90 % of the values that can tell are the first
    or the second kind, or the first or the third (a value below 2**53 is exactly a float
    whatever it is: it tells nothing of the third kind). Real order numbers also end in
    zeros, or are exact floats, by chance (a 16-digit one ends in 0 one time in ten), so
    without a value of the first kind the chance that real numbers all look so must also
    be at most 1 in 1,000: the digits lost add up to at least 3 (one 18-digit number of
    15 significant digits, three 16-digit numbers ending in 0; for an exact float64, the
    digits of its spacing). Cheap: a few expressions over at most a sample's values.
    """
    if ids.dtype.is_float():
        values = ids.filter(ids.is_finite().fill_null(False))
        return None if values.is_empty() else str(values[0])
    text = ids.cast(pl.Utf8).str.strip_chars().drop_nulls()
    text = text.filter(text.str.len_bytes() > 0)
    if text.is_empty():
        return None
    t = pl.col("t").str.replace(r"\.0+$", "")  # a whole float's ".0"
    width = t.str.len_bytes().cast(pl.Int64)
    number = pl.when(t.str.contains(r"^[0-9]+$")).then(t.cast(pl.UInt64, strict=False))
    big = number > _EXACT_DOUBLE
    df = pl.DataFrame({"t": text}).with_columns(
        written=pl.col("t").str.contains(_FLOAT_TEXT),
        # a spreadsheet's 15 significant digits, then zeros: width − 15 digits lost
        lost=pl.when(
            t.str.contains(r"^[0-9]{16,}$")
            & (width - t.str.strip_chars_end("0").str.len_bytes().cast(pl.Int64) >= width - 15)
        ).then((width - 15).cast(pl.Float64)),
        # exactly a float64 above 2**53: a chance of 1 in its spacing, 2^(⌊log2 n⌋ − 52)
        exact=pl.when(big & (number.cast(pl.Float64).cast(pl.UInt64, strict=False) == number)).then(
            (number.cast(pl.Float64).log(2).floor() - 52) * np.log10(2)
        ),
        telling=~(number.is_not_null() & ~big),
    )
    written = df.get_column("written")
    for evidence, among in (("lost", pl.lit(True)), ("exact", pl.col("telling"))):
        part = df.filter(among)
        looks = part.get_column("written") | part.get_column(evidence).is_not_null()
        if not part.height or looks.sum() < 0.9 * part.height:
            continue
        if written.any() or float(part.get_column(evidence).sum()) >= 3:
            shown = written if written.any() else df.get_column(evidence).is_not_null()
            return str(df.get_column("t").filter(shown)[0])
    return None


def _chosen(
    ws: Workspace,
    recipients: list[str] | None,
    release_ids: list[str] | None,
    since: datetime | str | None,
) -> list[ReleaseEntry]:
    """The releases of the incident, oldest first (see :func:`exposed`), from a ledger
    that verifies."""
    from leaktrace.attribution.reports import parse_datetime

    if not recipients and not release_ids:
        raise InputError("name the recipient(s) or release(s) of the incident")
    when = parse_datetime(since) if since is not None else None
    if since is not None and when is None:
        raise InputError(f"since must be an ISO 8601 date/time, got {since!r}")
    ledger = Ledger(ws)
    ledger.require_valid()
    entries = ledger.entries()
    unknown = sorted(set(release_ids or []) - {e.release_id for e in entries})
    if unknown:
        raise InputError(f"no release {unknown[0]!r} in the ledger (see leaktrace releases)")
    chosen = [
        e
        for e in entries
        if (recipients and e.recipient in recipients)
        or (release_ids and e.release_id in release_ids)
    ]
    if when is not None:
        chosen = [e for e in chosen if datetime.fromisoformat(e.created) >= when]
    if not chosen:
        raise InputError("no release in the ledger matches the recipient(s), release(s) and date")
    return sorted(chosen, key=lambda e: e.created)


def _released_anchors(
    ws: Workspace, chosen: list[ReleaseEntry]
) -> dict[int, tuple[bytes, npt.NDArray[np.uint64]]]:
    """Per key version of ``chosen``: its anchor key and the distinct anchors of its
    releases' real (non-canary) rows, sorted, for :func:`_kept_rows` to look batches up
    in. A canary row is no one's order: a table row only it would match is never listed."""
    out: dict[int, tuple[bytes, npt.NDArray[np.uint64]]] = {}
    for version in sorted({e.key_version for e in chosen}):
        # one scan per file (an older index may have other columns), de-duplicated as
        # they stream in: eight releases of the same orders hold their anchors once
        scans = [
            pl.scan_parquet(ws.home / e.index_file)
            .filter(~pl.col("is_canary"))
            .select(pl.col("anchor").cast(pl.UInt64))
            for e in chosen
            if e.key_version == version
        ]
        anchors = (
            pl.concat(scans)
            .select(pl.col("anchor").drop_nulls().unique())
            .collect(engine="streaming")
            .get_column("anchor")
            .sort()
        )
        out[version] = ws.keys.derive("anchor", version), anchors.to_numpy()
    return out


def _found(anchors: npt.NDArray[np.uint64], released: npt.NDArray[np.uint64]) -> npt.NDArray[Any]:
    """Whether each of ``anchors`` is in ``released`` (sorted, distinct): a binary search
    of the sorted queries (a Polars ``is_in`` or semi-join hashes the whole set again per
    batch: 14x slower against 8M anchors)."""
    found = np.zeros(len(anchors), dtype=np.bool_)
    if not len(released) or not len(anchors):
        return found
    order = np.argsort(anchors)
    queries = anchors[order]
    at = np.minimum(np.searchsorted(released, queries), len(released) - 1)
    found[order] = released[at] == queries
    return found


def _kept_rows(
    batches: Iterable[pl.DataFrame],
    released: dict[int, tuple[bytes, npt.NDArray[np.uint64]]],
) -> tuple[pl.DataFrame | None, dict[int, pl.DataFrame]]:
    """The rows of ``batches`` (with an order number) a spelling of whose order number is
    an anchor of ``released``, in table order, and per key version the (row, anchor)
    pairs that matched (``row``: the position among the kept rows). Every row of the
    table a chosen release's row can be is kept (all rows sharing its number), so the
    settling of duplicates sees what it would see in the whole table. None for the table
    when there was no batch at all (its columns are then unknown)."""
    kept: list[pl.DataFrame] = []
    pairs: dict[int, list[pl.DataFrame]] = {v: [] for v in released}
    first: pl.DataFrame | None = None
    held = 0
    for raw in batches:
        batch = raw.filter(pl.col("order_id").is_not_null())
        if first is None:
            first = batch.clear()
        ids = batch.select(pl.int_range(pl.len(), dtype=pl.Int64).alias("row"), "order_id")
        keep = np.zeros(batch.height, dtype=np.bool_)
        hits: dict[int, pl.DataFrame] = {}
        for version, (key, anchors) in released.items():
            keyed = _keyed_rows(ids, key)
            hit = keyed.filter(_found(keyed.get_column("anchor").to_numpy(), anchors))
            keep[hit.get_column("row").to_numpy()] = True
            hits[version] = hit
        if not keep.any():
            continue
        position = np.cumsum(keep, dtype=np.int64) - 1 + held  # batch row -> kept row
        for version, hit in hits.items():
            row = position[hit.get_column("row").to_numpy()]
            pairs[version].append(hit.with_columns(pl.Series("row", row, dtype=pl.Int64)))
        kept.append(batch if keep.all() else batch.filter(keep))
        held += kept[-1].height
    schema = {"row": pl.Int64, "anchor": pl.UInt64}
    keyed_pairs = {v: pl.concat(p) if p else pl.DataFrame(schema=schema) for v, p in pairs.items()}
    if not kept:
        return first, keyed_pairs
    return pl.concat(kept, how="vertical", rechunk=True), keyed_pairs


def _resolve(
    ws: Workspace,
    table: pl.DataFrame,
    keyed_by_version: dict[int, pl.DataFrame],
    chosen: list[ReleaseEntry],
) -> Exposure:
    """Settle which rows of ``table`` each release of ``chosen`` (oldest first) carried,
    from the (row, anchor) pairs of each key version (``row``: a position in ``table``),
    and build the :class:`Exposure`: whatever rows of the whole order table the pairs
    leave out could match no release, so the result is the whole table's."""
    from leaktrace import rewrite
    from leaktrace.digest import keyed_digests

    df = table.with_row_index("row")
    phones = (
        rewrite.canonical_phone(df.get_column("phone").cast(pl.Utf8))
        if "phone" in df.columns
        else None
    )
    # Releases numbered in the order they were made. Each row carries the id of the
    # combination of releases it was found in so far (0: none), moved on release by
    # release with one vectorised step per distinct combination; the texts (ids,
    # recipients, fields) are built once per combination, of which an incident has few.
    # (A 1M-row table against eight releases took 11 s and 4.6 GB building them per row.)
    combination = np.zeros(df.height, dtype=np.int64)
    ambiguous = np.zeros(df.height, dtype=np.bool_)
    combinations: list[tuple[int, ...]] = [()]
    steps: dict[tuple[int, int], int] = {}
    unmatched = 0
    for version in sorted({e.key_version for e in chosen}):
        keyed = keyed_by_version[version].select(pl.col("row").cast(df.schema["row"]), "anchor")
        if phones is not None:
            customer = keyed_digests({"c": (phones, ws.keys.derive("customer", version))})
            keyed = keyed.join(
                pl.DataFrame({"row": df.get_column("row"), "t_customer": customer.get_column("c")}),
                on="row",
            )
        else:
            keyed = keyed.with_columns(pl.lit(None, dtype=pl.UInt64).alias("t_customer"))
        for number, e in enumerate(chosen):
            if e.key_version != version:
                continue
            index = pl.from_arrow(
                pq.read_table(ws.home / e.index_file, columns=["anchor", "customer", "is_canary"])
            )
            assert isinstance(index, pl.DataFrame)
            # every (order, phone) the release carried: one order number on rows of two
            # people (a repeated number in the release itself) is two people to notify; a
            # pair the index holds twice (a repeated row) settles the same way as once
            real = index.filter(~pl.col("is_canary")).select(
                "anchor", pl.col("customer").alias("i_customer")
            )
            hit = keyed.join(real, on="anchor", how="inner")
            unmatched += real.get_column("anchor").n_unique() - hit.get_column("anchor").n_unique()
            settled, unplaced = _settle_duplicates(hit)
            unmatched += unplaced
            at = settled.get_column("row").to_numpy()
            before, where = np.unique(combination[at], return_inverse=True)
            after = np.empty(len(before), dtype=np.int64)
            for j, old in enumerate(before.tolist()):
                if (old, number) not in steps:
                    steps[old, number] = len(combinations)
                    combinations.append((*combinations[old], number))
                after[j] = steps[old, number]
            combination[at] = after[where]
            ambiguous[settled.filter(pl.col("ambiguous")).get_column("row").to_numpy()] = True
    exposed_rows = np.flatnonzero(combination)
    if not len(exposed_rows):
        empty = table.clear().with_columns(*_empty_columns())
        return Exposure(empty, chosen, unmatched)
    texts = _combination_texts(combinations, chosen).select(
        pl.all().gather(pl.Series(combination[exposed_rows]))
    )
    rows = pl.concat(
        [
            table[exposed_rows],
            texts,
            pl.DataFrame({"ambiguous": ambiguous[exposed_rows]}),
        ],
        how="horizontal",
    )
    return Exposure(rows, chosen, unmatched)


def _keyed_rows(df: pl.DataFrame, anchor_key: bytes) -> pl.DataFrame:
    """(row, anchor) for each distinct spelling of each row's order number. Only the rows
    a spelling changes are digested again (usually none): digesting and de-duplicating
    three spellings of every row was a third of the time. And only the rows another
    spelling can change are spelled again: a number with a character outside ASCII (NFKC
    leaves ASCII as it is) or a ``.`` (a float's ``.0``); spelling every row three times
    was most of the time of this step (0.38 s of 0.45 s per million rows)."""
    from leaktrace.digest import keyed_digests

    rows = df.get_column("row")
    ids = df.get_column("order_id")
    text = ids.cast(pl.Utf8).str.strip_chars()
    out: list[pl.DataFrame] = []
    if text.len():
        anchors = keyed_digests({"a": (text, anchor_key)}).get_column("a")
        out.append(pl.DataFrame({"row": rows, "anchor": anchors}))
    respell = (
        (text.str.len_bytes() != text.str.len_chars()) | text.str.contains(".", literal=True)
    ).fill_null(False)
    if respell.any():
        spellings = order_spellings(ids.filter(respell))
        for i, spelled in enumerate(spellings[1:], start=1):
            new = spelled.is_not_null()
            for earlier in spellings[:i]:
                new = new & (spelled != earlier).fill_null(True)
            part = pl.DataFrame({"row": rows.filter(respell), "id": spelled}).filter(new)
            if part.height:
                anchors = keyed_digests({"a": (part.get_column("id"), anchor_key)}).get_column("a")
                out.append(pl.DataFrame({"row": part.get_column("row"), "anchor": anchors}))
    if not out:  # no row, or no order number: nothing can match (every release unmatched)
        return pl.DataFrame(schema={"row": rows.dtype, "anchor": pl.UInt64})
    return pl.concat(out)


def _combination_texts(
    combinations: list[tuple[int, ...]], chosen: list[ReleaseEntry]
) -> pl.DataFrame:
    """``exposed_in``, ``exposed_to``, ``fields_exposed`` and ``first_exposed_at`` of each
    combination of release numbers (positions in ``chosen``, which is sorted by time: the
    smallest is the earliest), one row per combination in the order given."""
    texts: dict[str, list[str | None]] = {
        "exposed_in": [],
        "exposed_to": [],
        "fields_exposed": [],
        "first_exposed_at": [],
    }
    for numbers in combinations:
        entries = [chosen[n] for n in sorted(numbers)]
        texts["exposed_in"].append(";".join(e.release_id for e in entries) or None)
        texts["exposed_to"].append(";".join(dict.fromkeys(e.recipient for e in entries)) or None)
        texts["fields_exposed"].append(
            ";".join(sorted({f for e in entries for f in e.fields})) or None
        )
        texts["first_exposed_at"].append(entries[0].created if entries else None)
    return pl.DataFrame(texts, schema=dict.fromkeys(texts, pl.Utf8))


def _settle_duplicates(hit: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """Settle the (table row, released person) pairs of order numbers met more than once,
    one released person at a time: a table row whose phone digest is one the release
    carried is that person (``claimed``); a released person no row's phone matches (no
    phone in the table, or a phone changed since) gets every unclaimed row of the number,
    marked ``ambiguous`` when there are several — a person notified in error is better
    than one left out. Settling the number as a whole dropped such a person whenever
    another row of the number matched (review of session 14). A released person for whom
    no row is left (all claimed by others) is not in the table: counted, returned as the
    second value, for ``unmatched``. The window runs only on numbers with several pairs."""
    several_pairs = hit.get_column("anchor").is_duplicated()
    single = hit.filter(~several_pairs).with_columns(pl.lit(False).alias("ambiguous"))
    multi = hit.filter(several_pairs)
    if not multi.height:
        return single, 0
    same = pl.col("t_customer").is_not_null() & (pl.col("t_customer") == pl.col("i_customer"))
    multi = multi.with_columns(
        same.alias("same"),
        same.any().over("anchor", "row").alias("claimed"),
        same.any().over("anchor", "i_customer").alias("decided"),
        (pl.col("row").n_unique().over("anchor") > 1).alias("several"),
    ).with_columns((~pl.col("claimed")).any().over("anchor").alias("unclaimed_left"))
    lost = multi.filter(~pl.col("decided") & ~pl.col("unclaimed_left"))
    unplaced = lost.select("anchor", "i_customer").unique().height
    settled = multi.filter(
        pl.col("same") | (~pl.col("decided") & (~pl.col("claimed") | ~pl.col("unclaimed_left")))
    ).with_columns((pl.col("several") & ~pl.col("claimed")).alias("ambiguous"))
    return pl.concat([single, settled.select(single.columns)]), unplaced


def _empty_columns() -> list[pl.Expr]:
    return [pl.lit(None, dtype=pl.Utf8).alias(c) for c in EXPOSURE_COLUMNS[:-1]] + [
        pl.lit(None, dtype=pl.Boolean).alias(EXPOSURE_COLUMNS[-1])
    ]
