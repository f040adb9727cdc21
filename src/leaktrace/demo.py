"""``make demo``: the whole chain on a synthetic shop, end to end.

1. a fresh workspace; 200,000 synthetic orders;
2. releases to five recipients with different policies (two couriers, a merchant, an
   outsourced customer-service firm, an SMS vendor); the ledger verified;
3. a leak: 20 rows of one courier's copy, NFKC-folded, whitespace stripped and
   timestamps cut to the minute, as a scammer's spreadsheet might look; traced, with an
   HTML report and a signed evidence bundle that is then re-verified offline; then an
   incident records the bundle, the people the accused recipient's copy exposed, a
   measure and the notification, and drafts the notice and the regulator report;
4. an unmarked leak (rows straight from the platform's own table) must give
   "no recipient identified";
5. a simulated scam wave from one courier: victim reports ingested and attributed;
6. a few messages through the scam detector;
7. the web service on loopback: a shopper's scam check, an analyst's upload of the leak,
   the courier's system resolving one of its order aliases.
"""

from __future__ import annotations

import argparse
import shutil
import time
import unicodedata
from pathlib import Path

import polars as pl
from rich.console import Console
from rich.table import Table

from leaktrace.ledger import Ledger
from leaktrace.release import release
from leaktrace.synth import generate_orders
from leaktrace.workspace import Workspace, add_recipient, init_workspace

console = Console(width=150)

RECIPIENTS = [
    ("zto-express", "courier", "courier = '中通快递'", "中通快递"),
    ("yto-express", "courier", "courier = '圆通速递'", "圆通速递"),
    ("merchant-top", "merchant", None, "头部商家"),
    ("cs-outsource", "customer-service", None, "外包客服公司"),
    ("sms-vendor", "sms-vendor", None, "短信服务商"),
]


def _nfkc_attack(df: pl.DataFrame) -> pl.DataFrame:
    """What a careless re-typing or a 'cleaning' script does to a file."""

    def fold(s: str | None) -> str | None:
        return None if s is None else "".join(unicodedata.normalize("NFKC", s).split())

    out = df.with_columns(
        [
            pl.col(c).map_elements(fold, return_dtype=pl.Utf8)
            for c in df.columns
            if df.schema[c] == pl.Utf8
        ]
    )
    if "order_time" in out.columns:
        out = out.with_columns(pl.col("order_time").dt.truncate("1m"))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--home", type=Path, default=Path("demo-out/workspace"))
    ap.add_argument("--out", type=Path, default=Path("demo-out"))
    ap.add_argument("--orders", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=2024)
    args = ap.parse_args(argv)
    out: Path = args.out
    marker = out / ".leaktrace-demo"
    if out.exists() and marker.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    marker.touch()

    console.rule("[bold]1. workspace and synthetic shop")
    ws = init_workspace(args.home, name="demo-shop", platform="演示商城（demo-shop）")
    t0 = time.perf_counter()
    orders = generate_orders(args.orders, seed=args.seed)
    shop_file = out / "orders.parquet"
    orders.write_parquet(shop_file)
    top_merchant = (
        orders.group_by("merchant").len().sort("len", descending=True).item(0, "merchant")
    )
    console.print(
        f"{orders.height:,} orders generated in {time.perf_counter() - t0:.1f} s → {shop_file}"
    )
    for name, template, where, display in RECIPIENTS:
        if template == "merchant":
            where = f"merchant = '{top_merchant}'"
        add_recipient(ws, name, template=template, where=where, display_name=display)

    console.rule("[bold]2. releases")
    summary = Table(
        "recipient", "policy", "rows", "canaries", "channels", "fields", "seconds", "file"
    )
    results = {}
    for name, template, _, _ in RECIPIENTS:
        fmt = "csv" if template in ("courier", "sms-vendor") else "parquet"
        path = out / f"release-{name}.{fmt}"
        t0 = time.perf_counter()
        res = release(shop_file, recipient=name, workspace=ws, out=path)
        results[name] = res
        summary.add_row(
            name,
            template,
            f"{res.rows:,}",
            str(res.canaries),
            ",".join(res.channels),
            ",".join(res.entry.fields),
            f"{time.perf_counter() - t0:.1f}",
            path.name,
        )
    console.print(summary)
    v = Ledger(ws).verify()
    console.print(
        f"ledger verify: {'OK' if v.ok else 'FAILED: ' + str(v.problem)} ({v.records} records)"
    )
    if not v.ok:
        return 1

    console.rule("[bold]3. a leak from one courier's copy")
    from leaktrace.io import read_table
    from leaktrace.trace import trace
    from leaktrace.trace.bundle import build_bundle, verify_bundle, write_bundle
    from leaktrace.trace.report import write_report

    zto = read_table(out / "release-zto-express.csv")
    leak = _nfkc_attack(
        zto.sample(20, seed=5).select(["name", "phone", "address", "order_time", "product"])
    )
    leak = leak.rename(
        {
            "name": "姓名",
            "phone": "手机号",
            "address": "地址",
            "order_time": "时间",
            "product": "商品",
        }
    )
    leak_file = out / "leaked-sample.csv"
    leak.write_csv(leak_file)
    result = trace(leak_file, workspace=ws)
    report = out / "trace-report.html"
    write_report(result, report)
    bundle = build_bundle(ws, result)
    write_bundle(bundle, out / "evidence.json")
    verified = verify_bundle(bundle, ws.keys.public_key())
    top = result.candidates[0]
    console.print(
        f"verdict: [bold]{result.verdict}[/] — accused {[c.recipient for c in result.accused]}; "
        f"top candidate {top.recipient} log10 p = {top.log10_p_corrected:.1f} "
        f"(rows read {result.rows_read}, matched {result.rows_identified})"
    )
    console.print(f"report → {report}; evidence bundle re-verified offline: {verified['ok']}")

    # respond: an incident records the evidence, whom the accused recipient's copy
    # exposed and the measures taken; the notice and the regulator report are drafted
    # from that record
    exposure_ok = bool(result.accused) and _demo_incident(ws, orders, out)

    console.rule("[bold]4. an unmarked leak (platform's own table)")
    unmarked = orders.sample(200, seed=9).select(
        ["name", "phone", "address", "order_time", "product"]
    )
    unmarked_file = out / "leaked-unmarked.csv"
    unmarked.write_csv(unmarked_file)
    r2 = trace(unmarked_file, workspace=ws)
    console.print(
        f"verdict: [bold]{r2.verdict}[/] (best log10 p = {r2.candidates[0].log10_p_corrected:.2f})"
    )

    console.rule("[bold]5. a scam wave: victim reports → attribution")
    from leaktrace.attribution.demo import demo_wave

    wave_ok = demo_wave(ws, orders, out, console)

    # pin the day's victim reports, canary hits and incident events in a signed
    # checkpoint: from now on verify names any of them deleted
    cp = Ledger(ws).checkpoint()
    pinned = cp.pinned_text()
    v_cp = Ledger(ws).verify()
    console.print(
        f"checkpoint {cp.seq}: release record {cp.state['releases']['seq']}, {pinned} pinned; "
        f"verify {'OK' if v_cp.ok else 'FAILED: ' + str(v_cp.problem)}; keep "
        f"{cp.checkpoint_hash} outside the workspace (verify --expect-head)"
    )
    checkpoint_ok = v_cp.ok and v_cp.checkpoints == 1

    # a victim asks customer service to delete what they told the platform (PIPL Art. 47):
    # the agent queues the request without learning whether the phone reported, an analyst
    # erases; the reports' content goes, their ids and seals stay, so the checkpoint that
    # pinned them still verifies
    from leaktrace.attribution.erasure_requests import decide_erasure_request, request_erasure
    from leaktrace.attribution.reports import load_stored_reports

    first = min(load_stored_reports(ws), key=lambda r: r.id)
    assert first.phone is not None
    rid = request_erasure(ws, phone=first.phone, reason="demo: 工单 0001", actor="token:cs-agent")
    request, erased = decide_erasure_request(ws, rid, erase=True, actor="demo")
    v_er = Ledger(ws).verify()
    done = erased.erased if erased is not None else []
    console.print(
        f"erasure request {rid} taken by customer service, decided by an analyst "
        f"(leaktrace report requests / report erase --request): {request.note}, report "
        f"{first.id} among them; verify {'OK' if v_er.ok else 'FAILED: ' + str(v_er.problem)}"
    )
    checkpoint_ok = checkpoint_ok and first.id in done and v_er.ok

    console.rule("[bold]6. scam check")
    try:
        from leaktrace.scam import check
    except ImportError:  # pragma: no cover
        console.print("scam detector not installed")
    else:
        msgs = [
            "您好，我是唯品会客服，您购买的面膜检测出铅超标，我们给您理赔，请下载会议软件开启共享屏幕。",
            "【中通快递】您的包裹已到达驿站，请凭取件码 5-2-1043 领取。",
            "您被误开通了代理商，每月扣费500元，请到支付宝申请备用金做流水验证。",
            "亲，您的订单已发货，预计明天送达，如有问题请在App内联系在线客服。",
        ]
        t = Table("message", "scam?", "type", "stages")
        for m, r in zip(msgs, check(msgs), strict=True):
            t.add_row(
                m[:30] + "…",
                str(r.is_scam),
                r.fraud_type,
                ",".join(dict.fromkeys(h.stage for h in r.stages)),
            )
        console.print(t)
    console.rule("[bold]7. the web service (leaktrace serve)")
    service_ok = _demo_service(ws, orders, zto, leak_file)
    ok = (
        bool(result.accused)
        and exposure_ok
        and not r2.accused
        and wave_ok
        and checkpoint_ok
        and service_ok
    )
    console.print(f"[bold]demo {'OK' if ok else 'FAILED'}[/]")
    return 0 if ok else 1


def _demo_incident(ws: Workspace, orders: pl.DataFrame, out: Path) -> bool:
    """Step 3's response: an incident from the verified bundle to the drafts. True when the
    exposure is complete and the drafts have nothing left to fill but the follow-up."""
    import hashlib
    from datetime import datetime, timedelta

    from leaktrace.io.writers import write_table, write_text_atomic
    from leaktrace.respond import exposed
    from leaktrace.respond.incident import (
        PLATFORM_TZ,
        add_event,
        load_incident,
        open_incident,
        record_evidence,
        record_exposure,
        record_grade,
        record_notified,
    )
    from leaktrace.respond.regulator import notice_draft, regulator_report

    inc = open_incident(
        ws,
        "冒充客服诈骗用户反映对方掌握订单信息",
        datetime.now(PLATFORM_TZ) - timedelta(hours=2),
        "多名用户反映接到自称快递理赔客服的电话，对方能说出姓名、订单和地址",
    )
    record_evidence(ws, inc.id, out / "evidence.json")
    accused = load_incident(ws, inc.id).accused
    ex = exposed(ws, orders, recipients=accused)
    write_table(ex.for_people(), out / "exposed.csv")  # times in UTC+8, as the CLI writes
    record_exposure(
        ws,
        inc.id,
        ex.summary(),
        hashlib.sha256((out / "exposed.csv").read_bytes()).hexdigest(),
        accused,
    )
    add_event(ws, inc.id, "measure", {"text": "已暂停向该合作方提供收件人完整信息并报警"})
    notice = notice_draft(ws, load_incident(ws, inc.id), "App 内“我的-客服”")
    write_text_atomic(out / "notice.txt", notice.text)
    s = ex.summary()
    record_notified(ws, inc.id, s["people"], "短信和 App 站内信")
    # the grade is the analysts' judgement under the CAC's grading guide, not computed
    record_grade(ws, inc.id, "较大", f"涉及 {s['people']:,} 人的订单信息（演示）")
    # a victim calls: one of the courier's shoppers, robbed after the release
    from leaktrace.respond.cases import open_case

    victim = ex.rows.row(0, named=True)
    case = open_case(
        ws,
        inc.id,
        order_id=str(victim["order_id"]),
        phone=str(victim["phone"]),
        occurred=datetime.now(PLATFORM_TZ),
        loss=12_800.0,
        police_receipt="A3301062026000001",
    )
    console.print(
        f"victim case {case.case_id}: {case.decision}, advance {case.advance:,.2f} yuan "
        f"(loss {case.loss:,.2f}; {'; '.join(case.reasons)})"
    )
    report = regulator_report(ws, load_incident(ws, inc.id), "数据安全负责人（演示）")
    write_text_atomic(out / "regulator-report.md", report.text)
    console.print(
        f"incident {inc.id}: accused {', '.join(accused)}; {s['orders']:,} orders, "
        f"{s['people']:,} people ({', '.join(s['fields_zh'])}) → {out / 'exposed.csv'}; "
        f"notice → {out / 'notice.txt'}; regulator report → {out / 'regulator-report.md'}"
        + (f" (still to fill in: {', '.join(report.missing)})" if report.missing else "")
    )
    return (
        s["orders"] > 0
        and ex.unmatched == 0
        and not notice.missing
        and not report.missing
        and case.decision == "advance"
    )


def _demo_service(ws: Workspace, orders: pl.DataFrame, copy: pl.DataFrame, leak: Path) -> bool:
    """Step 7. The alias the courier's system asks about is computed here from one of its
    orders and must appear in its released copy: the service's answer is then checked
    against the platform's own order number, not against the service's own decryption."""
    from leaktrace.release import alias_cipher_for, alias_tweak_for
    from leaktrace.server.demo import demo_service

    courier = "zto-express"
    order_id = str(orders.filter(pl.col("courier") == "中通快递").item(0, "order_id"))
    alias = alias_cipher_for(ws, 1).encrypt(order_id, alias_tweak_for(courier, 1))
    if alias not in set(copy["order_id"].cast(pl.Utf8)):
        console.print(f"alias {alias} of order {order_id} is not in {courier}'s copy")
        return False
    return demo_service(ws, leak, courier, alias, order_id, console)


def _cli() -> int:
    from leaktrace.errors import LeaktraceError

    try:
        return main()
    except LeaktraceError as exc:
        console.print(f"error: {exc.message}", markup=False)
        return exc.exit_code


if __name__ == "__main__":
    raise SystemExit(_cli())
