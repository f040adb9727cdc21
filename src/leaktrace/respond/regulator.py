"""Drafts from an incident's record: the report to the regulator and the notice to people.

The report follows what PIPL art. 57 asks a handler to tell the authority (the categories
of personal information, the cause, the possible harm, the measures taken and what people
can do, a contact) and the items an incident report to the cyberspace authority carries
(unit, times, type, scope, cause, measures, next steps, contact). Every figure comes from a
recorded event (:mod:`leaktrace.respond.incident`); an item nothing recorded is written
【待补充】 and named in ``missing``, so a draft is never sent with a gap nobody saw. A
draft: the platform's legal team owns the text that is filed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from leaktrace.respond.exposure import notice_text
from leaktrace.respond.incident import PLATFORM_TZ, Incident
from leaktrace.workspace import Workspace

__all__ = ["Draft", "notice_draft", "regulator_report"]

TODO = "【待补充】"


@dataclass(frozen=True)
class Draft:
    text: str
    missing: list[str]
    """Items nothing in the incident's record could fill (English, for the CLI/JSON)."""


def _local(iso: str) -> str:
    """A stored instant as the report writes it: platform time (UTC+8, the header says so),
    as ``incident show`` and the exposed list show it (to the minute, in Chinese)."""
    return datetime.fromisoformat(iso).astimezone(PLATFORM_TZ).strftime("%Y年%m月%d日 %H:%M")


def _grade_line(inc: Incident, discovered_at: str, missing: list[str]) -> str:
    """The grade (事件级别) the incident was given (``incident grade``), or a gap: the grade
    decides whether the report is due and by when, so a draft without one must say so."""
    found = datetime.fromisoformat(discovered_at)
    due = (
        f"较大及以上事件应于发现后 4 小时内（{_local((found + timedelta(hours=4)).isoformat())}前）"
        f"报告，关键信息基础设施运营者 1 小时内（{_local((found + timedelta(hours=1)).isoformat())}前）"
    )
    graded = inc.latest("graded")
    if graded is None:
        missing.append(
            "the incident's grade (incident grade ID 一般|较大|重大|特别重大): it decides "
            "whether the report is due and by when (4 hours after discovery for 较大 and above)"
        )
        return f"- 事件级别：{TODO}（依《网络安全事件分级指南》定级；{due}）"
    grade, reason = graded.body["grade"], graded.body.get("reason", "")
    why = f"；定级理由：{reason}" if reason else ""
    if grade == "一般":
        return f"- 事件级别：{grade}{why}"
    return f"- 事件级别：{grade}{why}（{due}）"


def _partner(ws: Workspace, name: str) -> str:
    r = ws.config.recipients.get(name)
    display = r.display_name if r else ""
    return f"{display}（{name}）" if display and display != name else name


def regulator_report(ws: Workspace, inc: Incident, contact: str = "") -> Draft:
    """The report's Markdown text (Chinese) and the items still to fill in."""
    missing: list[str] = []
    opened = inc.latest("opened")
    assert opened is not None  # load_incident guarantees the first event is "opened"
    o = opened.body
    unit = ws.config.workspace.platform.strip()
    if not unit:
        # the workspace's name is a label for analysts ("leaktrace" by default), not the
        # legal entity that reports: a gap to fill, never a guess
        unit = TODO
        missing.append(
            "the reporting organisation (init --platform, or [workspace] platform in "
            "leaktrace.toml)"
        )
    lines = [
        f"# 个人信息安全事件报告（草稿）：{o['title']}",
        "",
        f"- 报告单位：{unit}",
        f"- 事件编号：{inc.id}",
        f"- 草稿生成时间：{datetime.now(UTC).astimezone(PLATFORM_TZ):%Y年%m月%d日 %H:%M}（UTC+8）",
        f"- 记录校验值（事件链末条哈希）：`{inc.head_hash}`",
        "- 时间说明：本报告所列时间均为北京时间（UTC+8）",
        "",
        "## 一、事件概况",
        "",
        "- 事件类型：数据安全事件（个人信息泄露）",
        f"- 发现时间：{_local(o['discovered_at'])}（UTC+8）",
        _grade_line(inc, o["discovered_at"], missing),
    ]
    if o.get("summary"):
        lines.append(f"- 事件简述：{o['summary']}")
    else:
        lines.append(f"- 事件简述：{TODO}")
        missing.append("summary of the incident (incident open --summary)")

    lines += ["", "## 二、影响范围", ""]
    exposure = inc.latest("exposure")
    if exposure is None:
        lines.append(f"- 涉及个人信息主体人数、订单数及信息种类：{TODO}")
        missing.append("the exposed people (incident exposed)")
    else:
        x = exposure.body
        counted = "按手机号去重" if x["people_counted_by"] == "phone" else "按订单计"
        lines += [
            f"- 涉及个人信息主体：{x['people']:,} 人（{counted}）；涉及订单 {x['orders']:,} 笔",
            f"- 涉及个人信息种类：{'、'.join(x['fields_zh'])}",
        ]
        created = sorted(r["created"] for r in x["releases"])
        names = "、".join(_partner(ws, r) for r in sorted(x["by_recipient"]))
        if not created:
            lines.append(f"- 数据流向：{TODO}")
        elif len(created) == 1:
            lines.append(f"- 数据流向：平台于 {_local(created[0])} 向 {names} 提供数据 1 批次")
        else:
            lines.append(
                f"- 数据流向：平台于 {_local(created[0])} 至 {_local(created[-1])} 间"
                f"向 {names} 提供数据 {len(created)} 批次"
            )
        lines.append(f"- 受影响人员清单文件 SHA-256：`{x['list_sha256']}`")
        stray = inc.unaccused_exposure()
        if stray:
            names = "、".join(_partner(ws, r) for r in stray)
            lines.append(f"- 注意：上述人数包括提供给 {names} 的数据，但现有证据未认定其为泄露来源")
            missing.append(
                f"evidence against {', '.join(stray)}, or an exposure of the accused only "
                "(incident exposed counted recipients no evidence accuses)"
            )
        uncounted = inc.uncounted_accused()
        if uncounted:
            names = "、".join(_partner(ws, r) for r in uncounted)
            lines.append(
                f"- 注意：证据认定的泄露来源还包括 {names}，其涉及人数未计入上述数字：{TODO}"
            )
            missing.append(_uncounted_gap(uncounted))
        if x["unmatched_index_rows"]:
            lines.append(
                f"- 注意：{x['unmatched_index_rows']:,} 条已提供记录未能与订单表匹配，人数可能偏低"
            )

    lines += ["", "## 三、原因分析与溯源结论", ""]
    evidence = inc.all("evidence")
    if not evidence:
        lines.append(f"- 泄露来源：{TODO}")
        missing.append("evidence of the source (incident evidence BUNDLE)")
    for e in evidence:
        b = e.body
        if b["accused"]:
            who = "、".join(_partner(ws, r) for r in b["accused"])
            ps = "；".join(f"{r} 为 10^{b['log10_p'][r]:.1f}" for r in b["accused"])
            lines.append(
                f"- 溯源结论（{_local(e.at)} 记录）：泄露样本 {b['rows_read']:,} 行"
                f"{'（仅读取文件开头部分）' if b['truncated'] else ''}，"
                # the bundle's families (marks, aliases, canaries) are not in the event:
                # name the method, not one family (a canary-only leak has no watermark)
                f"经溯源标记比对（数字水印、订单号别名、伪行），认定来源为 {who}"
                f"（经多重比较校正的 p 值：{ps}；"
                f"判定阈值 α = {b['alpha']:g}，即误指控任一无辜接收方的概率上限）"
            )
        else:
            lines.append(
                f"- 溯源结论（{_local(e.at)} 记录）：泄露样本 {b['rows_read']:,} 行，"
                "未能认定来源（样本不含可识别的水印，或来自台账外渠道）"
            )
        lines.append(
            f"  证据包 {b['file']}（SHA-256 `{b['bundle_sha256']}`）已用平台公钥验证，"
            "第三方可凭平台公钥复核"
        )
        if b["contradictions"]:
            lines.append(f"  注意：证据中有 {b['contradictions']} 项相互矛盾，需人工复核")
    lines.append(
        "- 可能后果：不法分子冒充电商或快递客服，以理赔、退款、取消会员等理由联系用户，"
        "诱导其下载会议软件、共享屏幕、借贷或转账，造成财产损失"
    )

    lines += ["", "## 四、已采取的处置措施", ""]
    measures = inc.all("measure")
    if not measures:
        lines.append(f"- {TODO}")
        missing.append("measures taken (incident measure)")
    lines += [f"- {_local(m.at)}：{m.body['text']}" for m in measures]
    if inc.all("case"):
        from leaktrace.respond.cases import case_summary

        c = case_summary(inc)
        d = c["by_decision"]
        lines.append(
            f"- 受害用户先行垫付：受理 {c['cases']:,} 起（垫付 {d['advance']:,} 起、"
            f"人工复核 {d['review']:,} 起、不予垫付 {d['declined']:,} 起"
            + (
                f"，其中 {c['reopened']:,} 起驳回后同一订单重新受理，损失只计一次"
                if c["reopened"]
                else ""
            )
            + f"），报告损失 {c['loss_reported']:,.2f} 元，决定垫付 {c['advance_decided']:,.2f} 元，"
            f"已支付 {c['paid']:,.2f} 元，已追回 {c['recovered']:,.2f} 元；"
            "核实依据为平台已有的订单与账户信息，未收集手持身份证照片"
        )

    lines += ["", "## 五、告知个人情况", ""]
    notified = inc.all("notified")
    if not notified:
        lines.append(f"- {TODO}")
        missing.append("notification of the people (incident notified)")
    lines += [
        f"- {_local(n.at)}：已通过{n.body['channel']}告知，累计告知 {n.body['people']:,} 人"
        for n in notified
    ]
    told = max((int(n.body["people"]) for n in notified), default=0)  # totals so far
    if notified and exposure is not None and told < exposure.body["people"]:
        lines.append(
            f"- 注意：已告知 {told:,} 人，少于受影响的 {exposure.body['people']:,} 人，"
            "其余人员的告知情况待补充"
        )
        missing.append(
            f"notification of {exposure.body['people'] - told:,} more people (incident notified)"
        )

    lines += ["", "## 六、向主管部门报告情况", ""]
    reported = inc.all("reported")
    lines += [
        f"- {_local(r.at)}：已报告{r.body['authority']}"
        + (f"（回执编号 {r.body['reference']}）" if r.body.get("reference") else "")
        for r in reported
    ] or ["- 尚无向主管部门报告的记录"]

    lines += ["", "## 七、后续工作", "", f"- {TODO}（由事件负责人填写）", ""]
    lines += ["## 八、联系人", ""]
    if contact.strip():
        lines.append(f"- {' '.join(contact.split())}")
    else:
        lines.append(f"- {TODO}")
        missing.append("a contact (--contact)")
    closed = inc.latest("closed")
    if closed is not None:
        lines += ["", f"事件已于 {_local(closed.at)} 关闭：{closed.body['resolution']}"]
    return Draft("\n".join(lines) + "\n", missing)


def _uncounted_gap(uncounted: list[str]) -> str:
    """What a draft lacks when the evidence accuses recipients the exposure did not count."""
    return (
        f"the exposed people of {', '.join(uncounted)} (accused by the evidence, not counted "
        "by the latest incident exposed: run it again)"
    )


def notice_draft(ws: Workspace, inc: Incident, contact: str) -> Draft:
    """The notice to the exposed people (PIPL art. 57), from the incident's exposure and
    its recorded measures. Without both there is nothing true to tell them, so ``missing``
    is not empty and the caller must not send it."""
    missing: list[str] = []
    exposure = inc.latest("exposure")
    measures = [m.body["text"] for m in inc.all("measure")]
    if exposure is None:
        missing.append("the exposed people (incident exposed)")
    if not measures:
        missing.append("measures taken (incident measure)")
    stray = inc.unaccused_exposure()
    if stray:
        # the notice tells every person their data "may have leaked from" the partners it
        # names: only partners the evidence accuses may be named so
        missing.append(
            f"evidence against {', '.join(stray)} (the exposure counted them; no recorded "
            "evidence accuses them)"
        )
    uncounted = inc.uncounted_accused()
    if uncounted:
        # their people would not be told at all
        missing.append(_uncounted_gap(uncounted))
    if missing:
        return Draft("", missing)
    assert exposure is not None
    x = exposure.body
    first = min((datetime.fromisoformat(r["created"]) for r in x["releases"]), default=None)
    partners = [
        (ws.config.recipients[r].display_name or r) if r in ws.config.recipients else r
        for r in sorted(x["by_recipient"])
    ]
    text = notice_text(x["fields_zh"], first, partners, "；".join(measures), contact)
    return Draft(text + "\n", [])
