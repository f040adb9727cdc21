"""Self-contained HTML report of an attribution (no external assets, values escaped).

Times are shown in platform time (UTC+8, :func:`leaktrace.respond.times.shown_time`), as
the command line shows them: the stored instants are UTC, and an analyst who copied a
campaign's flag time from this page into an incident was 8 hours off."""

from __future__ import annotations

import html
from pathlib import Path

from leaktrace.attribution.attribute import AttributionResult
from leaktrace.attribution.campaigns import accused_label, caveat_words
from leaktrace.io.writers import write_text_atomic
from leaktrace.respond.times import shown_time

__all__ = ["render_report", "write_report"]

_CSS = (
    "body{font-family:system-ui,'PingFang SC','Microsoft YaHei',sans-serif;margin:2em;"
    "max-width:1100px}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
    "padding:4px 8px;font-size:13px}th{background:#f3f3f3}.acc{background:#fde2e2}"
    ".bar{display:inline-block;height:10px;background:#c0392b}"
    ".caveat{background:#fff4d6;border-left:4px solid #e0a800;padding:6px 10px}"
)


def _e(x: object) -> str:
    return html.escape(str(x))


def _t(value: object) -> str:
    """A stored time as people read it (platform time), escaped; none is "—"."""
    return _e(shown_time(value) if isinstance(value, str) and value else "—")


def render_report(res: AttributionResult) -> str:
    d = res.as_dict()
    parts = [
        "<!doctype html><html lang='zh'><meta charset='utf-8'>",
        f"<title>leaktrace attribution</title><style>{_CSS}</style><body>",
        f"<h1>{_e(res.verdict)}</h1>",
        f"<p>alpha = {res.alpha:g}; {res.tests} recipients tested; families: "
        f"{_e(', '.join(res.families))}</p>",
        *(
            f"<p class='caveat'><strong>{_e(cav['recipient'])}: exposure only</strong> — "
            f"read as: {_e(cav['recipient'])}, or a copy filtered down to its customers"
            + (
                " of " + _e(", ".join(h["recipient"] for h in cav["also_held_by"]))
                if cav["also_held_by"]
                else ""
            )
            + " (see below)</p>"
            for cav in d["caveats"]
        ),
        f"<p>{_e(res.explanation['zh'])}</p><p>{_e(res.explanation['en'])}</p>",
        "<h2>Candidates</h2><table><tr><th>recipient</th><th>consistent / victims</th>"
        "<th>max null share (from)</th><th>aliases</th><th>formatting</th><th>canary hits</th>"
        "<th>log10 p by family</th><th>log10 p (corrected)</th><th></th></tr>",
    ]
    exposure_only = {cav["recipient"] for cav in res.caveats}
    for c in res.candidates:
        acc = c in res.accused
        width = int(min(300, max(0.0, -c.log10_p_corrected) * 10))
        fam = ", ".join(f"{k} {v:.1f}" for k, v in c.log10_p_family.items())
        marks = ", ".join(f"{k} {v['matched']}/{v['observed']}" for k, v in c.marks.items())
        parts.append(
            f"<tr class='{'acc' if acc else ''}'><td>{_e(c.recipient)}</td>"
            f"<td>{c.consistent} / {c.victims}</td><td>{c.pi:.3f} ({_e(c.pi_from)})</td>"
            f"<td>{c.alias_hits} / {c.alias_quoted}</td><td>{_e(marks)}</td>"
            f"<td>{c.canary_hits}</td><td>{_e(fam)}</td>"
            f"<td>{c.log10_p_corrected:.2f} <span class='bar' style='width:{width}px'></span></td>"
            f"<td>{accused_label(c.recipient in exposure_only) if acc else ''}</td></tr>"
        )
    parts.append("</table><h2>Reports</h2><p>")
    parts.append(_e(", ".join(f"{k}: {v}" for k, v in d["reports"].items())))
    parts.append("</p>")
    if res.flagged:
        parts.append("<table><tr><th>report</th><th>source</th><th>status</th><th>reason</th></tr>")
        for f in res.flagged:
            parts.append(
                f"<tr><td>{f['report']}</td><td>{_e(f['source'])}</td><td>{_e(f['status'])}</td>"
                f"<td>{_e(f['reason'])}</td></tr>"
            )
        parts.append("</table>")
    parts.append("<h2>Campaigns</h2>")
    for camp in res.campaigns:
        parts.append(
            f"<h3>campaign {camp['id']}: {len(camp['reports'])} reports, callers "
            f"{_e(', '.join(camp['callers']))} — {_e(camp['attributed'] or 'not attributed')}"
            f"{_e(caveat_words(camp.get('caveat')))}</h3>"
            f"<p>{_t(camp['start'])} → {_t(camp['end'])}; stages {_e(', '.join(camp['stages']))}; "
            f"loss {camp['loss']:.0f}; flagged at {_t(camp['flagged_at'])}</p><ul>"
        )
        for ev in camp["timeline"]:
            parts.append(
                f"<li>{_t(ev.get('at'))} {_e(ev['event'])} "
                f"{_e(ev.get('recipient') or ev.get('channel') or '')}</li>"
            )
        parts.append("</ul>")
    parts.append("</body></html>")
    return "".join(parts)


def write_report(res: AttributionResult, path: Path) -> None:
    write_text_atomic(path, render_report(res))
