"""Self-contained HTML evidence report (no network needed to open it).

One page: the verdict in Chinese and English, a bar chart (inline SVG) of every
candidate's −log10 corrected p-value against the −log10 alpha threshold, the evidence per
channel, the release records involved, and what the figures mean — including what they do
NOT mean (a p-value bounds the chance that an innocent copy matches this well; it is not
the probability that the accused is guilty).
"""

from __future__ import annotations

import html
import math
from pathlib import Path

from leaktrace.io.writers import write_text_atomic
from leaktrace.respond.times import shown_time
from leaktrace.trace.consistency import describe
from leaktrace.trace.engine import CandidateResult, TraceResult

__all__ = ["render_report", "write_report"]


def _neglog(c: CandidateResult) -> float:
    return min(-c.log10_p_corrected, 400.0) if c.log10_p_corrected != -math.inf else 400.0


def _chart(result: TraceResult, top: int = 25) -> str:
    cands = result.candidates[:top]
    thr = -math.log10(result.alpha)
    vmax = max([thr * 1.2, *(_neglog(c) for c in cands)])
    bar_h, gap, left, width = 18, 6, 190, 560
    h = len(cands) * (bar_h + gap) + 40
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 90}" height="{h}" role="img" '
        'aria-label="candidate scores">'
    ]
    for i, c in enumerate(cands):
        y = 10 + i * (bar_h + gap)
        w = width * _neglog(c) / vmax
        accused = c in result.accused
        color = "#c0392b" if accused else "#7f8c8d"
        parts.append(
            f'<text x="{left - 8}" y="{y + 13}" text-anchor="end" font-size="12">'
            f"{html.escape(c.recipient)} v{c.key_version}</text>"
            f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{color}"/>'
            f'<text x="{left + w + 4:.1f}" y="{y + 13}" font-size="11">{_neglog(c):.1f}</text>'
        )
    tx = left + width * thr / vmax
    parts.append(
        f'<line x1="{tx:.1f}" y1="0" x2="{tx:.1f}" y2="{h - 20}" stroke="#2c3e50" stroke-dasharray="4 3"/>'
        f'<text x="{tx:.1f}" y="{h - 6}" font-size="11" text-anchor="middle">'
        f"threshold −log10 α = {thr:.1f}</text></svg>"
    )
    return "".join(parts)


def render_report(result: TraceResult, *, title: str = "leaktrace evidence report") -> str:
    accused = result.accused
    if accused:
        names = "、".join(html.escape(c.recipient) for c in accused)
        zh = (
            f"泄露数据与以下接收方的副本相符：{names}。在“该接收方未泄露”的假设下，"
            f"出现如此程度吻合的概率（已对全部 {result.tests} 个候选进行多重比较校正）不超过 "
            f"{accused[0].as_dict()['p_value']:.3g}，低于阈值 α = {result.alpha:g}。"
        )
        en = (
            f"The leaked data matches the copy released to {names}. If that recipient had not "
            f"leaked it, a match this strong would occur with probability at most "
            f"{accused[0].as_dict()['p_value']:.3g} (corrected for all {result.tests} candidates), "
            f"below the threshold α = {result.alpha:g}."
        )
    else:
        zh = (
            "未能认定任何接收方：证据中没有足以超过阈值的水印、别名或伪行。"
            "数据可能来自平台内部、未加水印的来源，或样本过小。这不是对任何一方的指控。"
        )
        en = (
            "No recipient identified: the evidence carries no marks, aliases or canaries strong "
            "enough to pass the threshold. The data may come from an internal or unmarked "
            "source, or the sample may be too small. This accuses no one."
        )
    rows = []
    for c in result.candidates[:50]:
        ev = "; ".join(
            f"{k}: {v['matched']}/{v['observed']}" for k, v in sorted(c.evidence.items())
        )
        rows.append(
            "<tr>"
            f"<td>{html.escape(c.recipient)}</td><td>v{c.key_version}</td><td>{c.rows}</td>"
            f"<td>{html.escape(ev)}</td><td>{c.aliases}</td><td>{c.canaries}</td>"
            f"<td>{c.log10_p_corrected:.2f}</td><td>{'<b>accused</b>' if c in accused else ''}</td>"
            "</tr>"
        )
    flags = [describe(c.recipient, f) for c in accused for f in c.contradictions]
    contradicting = (
        '<h2 id="contradictions">Contradicting evidence / 证据相互矛盾</h2>'
        "<p>One family of evidence accuses, another says the data is not this recipient's "
        "copy. The p-value stays valid; the accusation needs a closer look. "
        "一类证据指认该接收方，另一类证据却显示数据并非其副本：p 值仍然有效，但采取行动前须进一步核查。</p><ul>"
        + "".join(f"<li>{html.escape(f)}</li>" for f in flags)
        + "</ul>"
        if flags
        else ""
    )
    # an input hint (a file read in an encoding it does not look like) changes no figure,
    # but whoever reads the report must see why nothing may have matched
    hints = "".join(
        f'<p class="hint" id="input-hint"><b>Input / 输入:</b> {html.escape(h)}</p>'
        for h in result.warnings
    )
    involved = {r for c in accused for r in c.releases}
    recs = [
        f"<tr><td>{e.seq}</td><td>{html.escape(e.release_id)}</td><td>{html.escape(shown_time(e.created))}</td>"
        f"<td>{html.escape(e.recipient)}</td><td>{e.rows}</td><td>{html.escape(', '.join(e.channels))}</td>"
        f"<td><code>{e.record_hash[:16]}…</code></td></tr>"
        for e in result.entries
        if e.release_id in involved
    ]
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body{{font-family:system-ui,"Noto Sans CJK SC","PingFang SC",sans-serif;margin:2em;max-width:1000px;color:#222}}
table{{border-collapse:collapse;font-size:13px;margin:1em 0}}td,th{{border:1px solid #ccc;padding:3px 8px}}
.verdict{{font-size:1.3em;padding:.6em;border-left:6px solid {"#c0392b" if accused else "#27ae60"};background:#fafafa}}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p class="verdict" id="verdict">{html.escape(result.verdict)}</p>
<p lang="zh">{zh}</p><p lang="en">{en}</p>
<p>Evidence file SHA-256{" (whole file)" if result.truncated else ""}: <code>{html.escape(result.evidence_sha256)}</code><br>
Rows read {result.rows_read:,}{_of_larger_file(result)}; matched to released orders {result.rows_identified:,};
carrying readable marks, aliases or canaries {result.rows_informative:,} (including rows matched to no order).</p>
{hints}{contradicting}
<h2>Scores / 各候选得分 (−log10 corrected p)</h2>
{_chart(result)}
<h2>Evidence per candidate / 逐项证据</h2>
<table><tr><th>recipient</th><th>key</th><th>rows</th><th>marks matched/observed</th>
<th>aliases</th><th>canaries</th><th>log10 p (corrected)</th><th></th></tr>{"".join(rows)}</table>
<h2>Release records involved / 相关发布记录</h2>
<table><tr><th>seq</th><th>release</th><th>created</th><th>recipient</th><th>rows</th><th>channels</th><th>record hash</th></tr>
{"".join(recs) or "<tr><td colspan=7>none</td></tr>"}</table>
<h2>How to read this / 说明</h2>
<p>Each released copy carries keyed marks that only the platform can compute. For a
recipient that did not leak the data, each readable mark matches by chance with a known
probability (1/2 for a binary feature, at most 1093/65536 for a second-of-minute), so the
number of matches follows an exact binomial law. The p-value is the probability of a match
at least this strong under that law, multiplied by the number of candidates tested
(Bonferroni) so that α bounds the chance of accusing ANY innocent recipient. It is not the
probability that the accused is guilty, and it does not say how the data left that
recipient (an employee, a breach, a sub-contractor).</p>
<p>每个发布副本都带有只有平台才能计算的密钥水印。对于未泄露数据的接收方，每个可读水印位偶然吻合的概率是已知的，
吻合次数服从精确的二项分布；p 值为在此分布下出现同等或更强吻合的概率，并乘以候选数量（Bonferroni 校正），
使 α 成为误指任何无辜接收方的概率上限。它不是“被指认方有罪的概率”，也不说明数据如何从该方流出。</p>
</body></html>
"""


def _of_larger_file(result: TraceResult) -> str:
    """Say that the figures cover only the start of the file (``max_rows``), where they do:
    the digest above identifies more rows than were traced."""
    if not result.truncated:
        return ""
    n = f"{result.rows_read:,}"
    return f" (the first {n} of a larger file / 仅读取了较大文件的前 {n} 行)"


def write_report(result: TraceResult, path: Path) -> None:
    write_text_atomic(path, render_report(result))
