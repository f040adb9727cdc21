"""``check()``: classifier + stage rules → one explained verdict per text.

How the two layers combine (kept simple so a verdict can be explained to a shopper):

- ``score`` = 1 − P(正常) from the classifier; ``is_scam`` when ``score ≥ THRESHOLD``.
- The stage rules can also make a text a scam on their own: a customer-service opening
  (impersonation or pretext) followed by any high-risk step (channel switch, screen
  sharing, borrowing, transfer, credential theft), two different high-risk steps (counted
  by rule: a 征信 threat and a loan product are two), or one decisive cue (安全账户,
  监管账户, 解冻费). The
  classifier was trained on articles and whole dialogues; this catches a short chat
  message in the middle of the script that the classifier has never seen the like of.
  Such a verdict has ``score ≥ RULE_SCORE``.
- ``fraud_type`` is the classifier's most likely fraud class; if that is the catch-all
  其他类型诈骗 (or the verdict came from the rules alone) a two-cue type rule may name a
  category the data has no examples of (虚假征信类, 冒充公检法及政府机关类, …).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from leaktrace.scam._text import clean_input, fold
from leaktrace.scam.categories import CUSTOMER_SERVICE, NORMAL
from leaktrace.scam.model import load_model
from leaktrace.scam.rules import (
    STAGE_ADVICE,
    STAGES,
    Stage,
    StageHit,
    StageRule,
    default_rules,
    find_stages,
    match_type_rules,
    warns,
)

__all__ = ["RULE_SCORE", "THRESHOLD", "ScamResult", "check"]

THRESHOLD = 0.5
RULE_SCORE = 0.9
OTHER = "其他类型诈骗"

_OPENING: frozenset[Stage] = frozenset({"impersonation", "pretext"})
_RISK: frozenset[Stage] = frozenset(
    {"channel_switch", "screen_sharing", "borrowing", "transfer", "credential_theft"}
)

_TYPE_ADVICE: dict[str, str] = {
    CUSTOMER_SERVICE: "正规电商和快递客服办理退款理赔只在官方App内进行，不会要求您转账、借款或共享屏幕。",
    "刷单返利类": "刷单本身就是违法行为，所有刷单返利都是诈骗，先垫付后返利的“任务”一律不要做。",
    "虚假网络投资理财类": "不要相信“内幕消息”“稳赚不赔”，不在陌生网站或App投资，正规理财不会由陌生人带单。",
    "贷款、代办信用卡类": "正规贷款在放款前不收取任何“手续费”“保证金”“解冻费”，请到正规金融机构办理。",
    "虚假征信类": "征信记录无法通过任何个人或“客服”修复、消除，不要按对方要求转账或借款。",
    "虚假购物、服务类": "购物请走平台担保交易，不要私下转账、扫码付款或添加卖家私人联系方式。",
    "冒充公检法及政府机关类": "公检法机关不会通过电话、网络办案，没有所谓“安全账户”，更不会要求转账。",
    "冒充领导、熟人类": "“领导”“熟人”通过新号码或新账号要求借钱、转账时，务必当面或通过原有联系方式核实。",
    "网络游戏产品虚假交易类": "游戏账号、装备交易请走官方渠道，不要脱离平台私下交易或缴纳“解冻费”。",
    "网络婚恋、交友类": "网上结识、从未谋面的“恋人”推荐投资、借钱或带您赚钱，基本可以认定是诈骗。",
    "冒充军警购物类诈骗": "自称部队、军警人员大量订货并要求垫付采购款的，务必通过正规途径核实。",
    "网黑案件": "遇到可疑的网络交易或操作，请停止付款并报警。",
    OTHER: "凡是要求转账、汇款、提供验证码或下载陌生软件的，都要提高警惕，先核实再操作。",
}

_CLOSING = "如已转账或泄露信息，请立即停止操作并报警，同时联系银行止付。"


@dataclass(frozen=True, slots=True)
class ScamResult:
    """One verdict. ``to_dict()`` is the JSON contract of the CLI and the API.

    ``truncated`` (not serialised) says the text was longer than ``MAX_CHARS`` and only
    its prefix was analysed; spans are valid for the original text either way.
    """

    is_scam: bool
    fraud_type: str
    score: float
    stages: tuple[StageHit, ...] = ()
    advice: str = ""
    truncated: bool = field(default=False, compare=False)

    def to_dict(self) -> dict[str, object]:
        return {
            "is_scam": self.is_scam,
            "fraud_type": self.fraud_type,
            "score": round(self.score, 4),
            "stages": [h.to_dict() for h in self.stages],
            "advice": self.advice,
        }


@cache
def _rules() -> tuple[StageRule, ...]:
    return default_rules()


def _advice(is_scam: bool, fraud_type: str, stages: Sequence[StageHit]) -> str:
    found = [s for s in STAGES if any(h.stage == s for h in stages)]
    parts: list[str] = []
    if is_scam:
        parts.append(f"【反诈提醒】该内容符合“{fraud_type}”诈骗特征。")
        parts.extend(STAGE_ADVICE[s] for s in found)
        if not found:
            parts.append(_TYPE_ADVICE.get(fraud_type, _TYPE_ADVICE[OTHER]))
        parts.append(_CLOSING)
    elif found:
        parts.append("未判定为诈骗，但出现以下需留意的内容：")
        parts.extend(STAGE_ADVICE[s] for s in found)
    else:
        parts.append(
            "未发现明显诈骗特征。如仍有疑问，请通过官方App自行核实，不要使用对方提供的联系方式。"
        )
    return "".join(parts)


def _rule_verdict(stages: Sequence[StageHit]) -> bool:
    """An opening plus a high-risk step, two different high-risk steps, or one decisive cue.

    Steps are counted by *rule*, not by stage: a 征信 threat (``credit_threat``) and the
    loan product it pushes (``borrowing``) are two steps of the close-白条 script. A
    decisive cue (安全账户, 监管账户, 解冻费) is a scam on its own: no such account or fee
    exists, and a script that skips the opening is still that script.
    """
    if any(h.decisive for h in stages):
        return True
    kinds = {h.stage for h in stages}
    steps = {h.rule for h in stages if h.stage in _RISK}
    return bool(steps and kinds & _OPENING) or len(steps) >= 2


NOTICE_CHARS = 200
NOTICE_MAX_SCORE = 0.6
"""A text at most ``NOTICE_CHARS`` long (folded) that concludes with an anti-fraud warning
(都是诈骗, 请报警…), holds no live script step, and that the classifier is unsure about
(score below ``NOTICE_MAX_SCORE``) is a platform's or a bank's notice ("【中国银行】验证码…
提醒：冒充客服…要求您下载会议软件、开启屏幕共享的，都是诈骗。", 0.55): the classifier
learnt those words from news *about* fraud and does not make it a scam alone. The band is
narrow on purpose: the data set labels short anti-fraud news items by fraud type, and
those score 0.76 and more (held-out: six such items, all kept)."""

MIN_CONTENT_CHARS = 8
"""Below this many letters/digits/CJK characters, and with no script stage found, the
classifier's score is capped under the threshold (short chit-chat is not evidence)."""


def _content_chars(folded: str) -> int:
    return sum(1 for ch in folded if ch.isalnum())


def check(texts: str | Sequence[str], model: Path | None = None) -> list[ScamResult]:
    """Classify one text or a batch; results are in input order.

    The classifier runs once on the whole batch (one sparse matrix product); the stage
    rules run per text. Each text is analysed up to ``MAX_CHARS`` characters. An empty or
    whitespace-only text gives a defined non-scam result with score 0.
    """
    batch = [texts] if isinstance(texts, str) else list(texts)
    for i, t in enumerate(batch):
        if not isinstance(t, str):
            raise TypeError(f"texts[{i}] is {type(t).__name__}, expected str")
    m = load_model(model)
    capped = [clean_input(t) for t in batch]
    live = [i for i, (t, _) in enumerate(capped) if t.strip()]
    probs = m.predict_proba([capped[i][0] for i in live])
    normal = m.classes.index(NORMAL) if NORMAL in m.classes else -1
    fraud_cols = [j for j, c in enumerate(m.classes) if c != NORMAL]
    row_of = {i: r for r, i in enumerate(live)}
    rules = _rules()
    out: list[ScamResult] = []
    for i, (text, truncated) in enumerate(capped):
        r = row_of.get(i)
        if r is None:
            out.append(ScamResult(False, NORMAL, 0.0, (), "文本为空，未作判断。", truncated))
            continue
        p = probs[r]
        score = float(1.0 - p[normal]) if normal >= 0 else 1.0
        best = max(fraud_cols, key=lambda j: float(p[j]))
        model_type = m.classes[best]
        folded = fold(text)
        stages = find_stages(text, folded, rules)
        by_rules = _rule_verdict(stages)
        if not stages and _content_chars(folded.text) < MIN_CONTENT_CHARS:
            # "你好", "收到", "?": too little text for the classifier, which was trained on
            # whole messages and articles, to mean anything — never call it a scam alone.
            score = min(score, THRESHOLD - 0.01)
        elif (
            not stages
            and score < NOTICE_MAX_SCORE
            and len(folded.text) <= NOTICE_CHARS
            and warns(folded.text)
        ):
            # "【中国银行】验证码…提醒：冒充客服…要求您下载会议软件、开启屏幕共享的，都是诈骗。"
            score = min(score, THRESHOLD - 0.01)
        is_scam = score >= THRESHOLD or by_rules
        if not is_scam:
            fraud_type = NORMAL
        elif score < THRESHOLD:
            fraud_type = match_type_rules(folded.text) or (
                CUSTOMER_SERVICE if any(h.stage in _OPENING for h in stages) else OTHER
            )
            score = max(score, RULE_SCORE)
        else:
            fraud_type = model_type
            if model_type == OTHER:
                fraud_type = match_type_rules(folded.text) or OTHER
            if by_rules:
                score = max(score, RULE_SCORE)
        out.append(
            ScamResult(
                is_scam,
                fraud_type,
                min(max(score, 0.0), 1.0),
                tuple(stages),
                _advice(is_scam, fraud_type, stages),
                truncated,
            )
        )
    return out
