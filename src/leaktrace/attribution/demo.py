"""The ``make demo`` step for issue 5: a scam wave from one courier, attributed."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from rich.console import Console
from rich.table import Table

from leaktrace.attribution.attribute import attribute
from leaktrace.attribution.campaigns import campaign_lines
from leaktrace.attribution.report_html import write_report
from leaktrace.attribution.reports import add_reports, parse_report_file
from leaktrace.attribution.simulate import simulate_wave
from leaktrace.workspace import Workspace

__all__ = ["demo_wave"]


def demo_wave(
    ws: Workspace,
    orders_df: pl.DataFrame,
    out_dir: Path,
    console: Console,
    *,
    source: str | None = None,
    victims: int = 12,
    seed: int = 7,
) -> bool:
    """Simulate a wave from a courier, ingest it, attribute; True iff exactly it is named."""
    couriers = [n for n, r in ws.config.recipients.items() if r.kind == "courier"]
    src = source or (couriers[0] if couriers else next(iter(ws.config.recipients)))
    wave = simulate_wave(ws, orders_df, source=src, victims=victims, seed=seed)
    path = out_dir / "scam-wave.jsonl"
    import json

    path.write_text(
        "".join(json.dumps(w, ensure_ascii=False) + "\n" for w in wave), encoding="utf-8"
    )
    intake = add_reports(ws, parse_report_file(path))
    console.print(
        f"simulated wave from [bold]{src}[/]: {len(wave)} reports "
        f"({victims} victims of its copy + unrelated scams) → {intake.added} stored"
    )
    res = attribute(ws)
    write_report(res, out_dir / "attribution-report.html")
    console.print(f"[bold]{res.verdict}[/] — accused {[c.recipient for c in res.accused]}")
    console.print(res.explanation["zh"], markup=False)
    t = Table("recipient", "consistent", "null share (from)", "aliases", "log10 p", "")
    for c in res.candidates:
        t.add_row(
            c.recipient,
            f"{c.consistent}/{c.victims}",
            f"{c.pi:.2f} ({c.pi_from})",
            f"{c.alias_hits}/{c.alias_quoted}",
            f"{c.log10_p_corrected:.1f}",
            "ACCUSED" if c in res.accused else "",
        )
    console.print(t)
    for line in campaign_lines(res.campaigns):
        console.print(line, markup=False)
    return [c.recipient for c in res.accused] == [src]
