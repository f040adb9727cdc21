"""Rule layer: the steps of the fake customer-service script, found with character spans.

The trained classifier says *whether* a text is a scam and of which type; it cannot say
*where* the victim is in the script, which is what makes a warning specific ("real customer
service never asks you to share your screen"). Each step is one small :class:`StageRule`
subclass whose patterns are plain data (class attributes), registered by name in
:data:`RULES` — the Presidio recogniser shape: a new cue is a new class or a new pattern,
never a change to the matching engine.

Patterns run on the folded text (see :mod:`leaktrace.scam._text`: NFKC, lower-case,
whitespace removed), so ``ＱＱ``, ``q q`` and ``QQ`` all read ``qq``; spans are mapped back
to the original text.

A second, smaller registry (:data:`TYPE_RULES`) names fraud types that the public data set
has no examples of (虚假征信类, 冒充公检法及政府机关类, …): two cue groups must both match.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import ClassVar, Literal

from leaktrace.scam._text import Folded

__all__ = [
    "RULES",
    "STAGES",
    "STAGE_ADVICE",
    "STAGE_LABELS",
    "TYPE_RULES",
    "Stage",
    "StageHit",
    "StageRule",
    "TypeRule",
    "default_rules",
    "find_stages",
    "match_type_rules",
    "register",
    "warns",
]

Stage = Literal[
    "impersonation",
    "pretext",
    "channel_switch",
    "screen_sharing",
    "borrowing",
    "transfer",
    "credential_theft",
]

#: Stages in script order (the order advice is given in).
STAGES: tuple[Stage, ...] = (
    "impersonation",
    "pretext",
    "channel_switch",
    "screen_sharing",
    "borrowing",
    "transfer",
    "credential_theft",
)

#: Each stage's name as a shopper reads it (CLI and web page).
STAGE_LABELS: dict[Stage, str] = {
    "impersonation": "冒充身份",
    "pretext": "编造理由",
    "channel_switch": "引导换渠道",
    "screen_sharing": "屏幕共享",
    "borrowing": "诱导借贷",
    "transfer": "诱导转账",
    "credential_theft": "索要验证码/密码",
}

#: One warning per stage, in the register of official anti-fraud notices. Deliberately no
#: links and no phone numbers: a warning that carries a number teaches people to trust
#: numbers in messages.
STAGE_ADVICE: dict[Stage, str] = {
    "impersonation": "对方自称客服、物流或平台工作人员，请勿轻信，应通过官方App内的客服入口自行核实。",
    "pretext": "“商品质量问题理赔”“快递丢失赔偿”“误开通会员/代理每月扣费”均是常见诈骗话术，正规平台退款理赔无需您另行操作转账。",
    "channel_switch": "正规客服不会要求您添加QQ、微信、企业微信好友或下载会议软件、陌生App办理业务。",
    "screen_sharing": "切勿开启屏幕共享或远程协助，对方可借此看到您的验证码、密码和账户信息。",
    "borrowing": "任何要求您开通备用金、借呗、白条、金条、微粒贷或在网贷App借款的“客服”都是骗子；以“影响征信”相威胁同样是诈骗话术。",
    "transfer": "所谓“刷流水”“验证资金”“转入安全账户”“卡单解冻”都是诈骗，不要向任何个人或陌生账户转账。",
    "credential_theft": "验证码、密码是资金安全的最后防线，任何人索要都不要提供，官方客服不会索取。",
}

# Words that, in the same clause before a match, turn the cue into a warning:
# "验证码…请勿告诉他人", "平台客服不会要求您共享屏幕、开通备用金". The clause starts after
# the last comma/full stop (or a clause-ending space of a transcript, see
# :class:`~leaktrace.scam._text.Folded`), so a scammer's "别挂电话，打开共享屏幕" and
# "请不要挂电话 打开屏幕共享" still count.
#
# Strong negations govern a whole 、-list ("不会要求您共享屏幕、开通备用金"); weak ones are
# also ordinary words of a scammer's speech and stop at 、 too. The weak ones are guarded
# so that the reassurances and questions of a live caller do not cancel the cue after them:
# 别担心/别紧张/特别/区别/别人, 是不是, 有没有.
_STRONG_NEGATIONS = re.compile(
    r"勿|切勿|千万不|不得|严禁|不会|谨防|警惕|提防|以免|防止|绝不|从不|不向|并非|不收取"
)
_WEAK_NEGATIONS = re.compile(
    r"不要|不能|(?<!是)不是|(?<!有)没有|"
    r"(?<![特分区识类告级性个差辨鉴派])别(?!担心|紧张|着急|急|怕|害怕|慌|人|的|挂|客气|走)"
)
#: Negations looked for inside the match itself (a gap such as "验证码切勿报给…"): only
#: the strong ones and 不要, since a cue's own words may hold a weak one (退款不能到账).
_INNER_NEGATIONS = re.compile(_STRONG_NEGATIONS.pattern + r"|不要")
_CLAUSE_END = re.compile(r"[，,。！？!?；;:：]")
_CLAUSE_END_WEAK = re.compile(r"[，,。！？!?；;:：、]")
_SENTENCE_END = re.compile(r"[。！？!?；;]")

# A conclusion that makes its whole sentence a warning, wherever the cue stands in it:
# "…自称客服要求您共享屏幕或提供验证码，均为诈骗", "…转账到安全账户的请报警",
# "淘宝客服不会向您索取验证码". "这不是诈骗" / "不会是诈骗" is a scammer's reassurance, not one.
_WARNING = re.compile(
    r"(?:都|均|全|皆)(?:是|为|属于?)(?:诈骗|骗子|骗局)|(?<![不会])是(?:诈骗|骗子|骗局)|属于诈骗|"
    r"请(?:立即|马上|及时)?报警|立即报警|拨打(?:110|96110)|谨防|提高警惕|注意防范|"
    r"防骗提醒|反诈提醒|不会[^，,。！？!?；;]{0,20}?(?:索要|索取|要求|让您|让你)"
)
#: A warning conclusion reaches cues at most this many folded characters away (in its
#: sentence): a long unpunctuated transcript is one "sentence", and one 请报警 in it must
#: not cancel the whole call.
WARNING_REACH = 60


@lru_cache(maxsize=16)
def _warnings(text: str) -> tuple[tuple[int, int], ...]:
    return tuple(m.span() for m in _WARNING.finditer(text))


def warns(folded_text: str) -> bool:
    """Whether the folded text holds an anti-fraud warning conclusion (都是诈骗, 请报警…)."""
    return bool(_warnings(folded_text))


def _in_warning_sentence(folded: Folded, s: int, e: int) -> bool:
    """Whether a warning conclusion stands in the sentence of ``[s, e)``, near it."""
    warnings = _warnings(folded.text)
    if not warnings:
        return False
    text = folded.text
    lo = max(0, s - WARNING_REACH)
    hi = min(len(text), e + WARNING_REACH)
    for ws, we in warnings:
        if we <= lo or ws >= hi:
            continue
        if we <= s:
            # a warning before the cue covers it only in the same clause (谨防冒充客服诈骗),
            # not across one ("请提高警惕，您的百万保障每月会扣费，下载云视讯…" was safe)
            if _CLAUSE_END.search(text, we, s) or folded.last_break(we, s) is not None:
                continue
            return True
        if ws >= e:
            if _SENTENCE_END.search(text, e, ws) or folded.last_break(e, ws, lines_only=True):
                continue
            if not _described(folded, s, e, ws):
                continue
        return True
    return False


# A cue a notice describes rather than asks for: "遇到要求屏幕共享、转账到安全账户的请报警",
# "自称客服要求您共享屏幕…，均为诈骗". A warning that only follows an imperative cue is a
# script's own closing line: "请下载会议软件开启屏幕共享，如有疑问请报警" was judged safe.
_LIST_GAP = re.compile(r"(?:、[^，,。！？!?；;:：\s、]{1,8})*[^，,。！？!?；;:：\s、]{0,4}")
"""Between a cue and the warning it is the subject of: other items of its 、-list, then at
most a few characters (客服 不会…, 、安全账户都是…)."""
_CONTINUES = re.compile(r"或者?|以及|及|和|还有|甚至")
_DESCRIBER = re.compile(
    r"要求|让您|让你|自称|冒充|假冒|假扮|凡是|任何|遇到|所谓|诱导|以[^，,。]{0,8}为由"
)


def _described(folded: Folded, s: int, e: int, ws: int) -> bool:
    """Whether a warning at ``ws`` after the cue ``[s, e)`` concludes a description of it:
    a 的 right after the cue (…屏幕共享的，都是诈骗), the cue (or a 、-list it heads) as the
    warning's subject (淘宝客服不会向您索取; 监管账户、安全账户都是骗子的说法), or a
    describing word before the cue in its own clause (遇到要求…, 自称客服要求您…).

    A 的 anywhere between them counted until the third review: a scammer's own 我们是官方的
    or 别人打的电话 before "都是诈骗" hid the whole script."""
    text = folded.text
    gap = text[e:ws]
    if gap.startswith("的") or _LIST_GAP.fullmatch(gap):
        return True
    floor = max(0, s - WARNING_REACH)
    ends = [m.end() for m in _CLAUSE_END.finditer(text, floor, s)]
    # a clause that goes on with 或/以及/和 continues the one before it: "让您开通借呗、
    # 备用金，或转账到安全账户，请立即报警" describes the transfer too
    while ends and _CONTINUES.match(text, ends[-1]):
        ends.pop()
    start = ends[-1] if ends else floor
    start = max(start, folded.last_break(start, s) or start)
    return bool(_DESCRIBER.search(text, start, s))


@dataclass(frozen=True, slots=True)
class StageHit:
    """One cue of one stage: ``text[start:end] == cue`` in the caller's original text."""

    stage: Stage
    start: int
    end: int
    cue: str
    rule: str
    #: the cue alone makes the text a scam (:attr:`StageRule.decisive`); not serialised
    decisive: bool = field(default=False, compare=False)

    def to_dict(self) -> dict[str, object]:
        return {"stage": self.stage, "start": self.start, "end": self.end, "cue": self.cue}


class StageRule:
    """A set of regular expressions for one stage, run on folded text.

    Subclasses set ``name``, ``stage`` and ``patterns``. By default a match is skipped
    when its clause, up to the match, or the match itself holds a negation such as
    请勿/不要/不会 (at most ``negation_window`` characters back), or when its sentence
    concludes with a warning (都是诈骗, 请报警, 谨防, 不会向您索要…; see
    :data:`WARNING_REACH`), so the legitimate "验证码123456，请勿告诉他人" is not a
    credential-theft cue and an anti-fraud notice is not a script.
    """

    name: ClassVar[str]
    stage: ClassVar[Stage]
    patterns: ClassVar[tuple[str, ...]]
    negatable: ClassVar[bool] = True
    negation_window: ClassVar[int] = 20
    #: A regular expression over the folded cue: a match makes the text a scam on its own
    #: (there is no such thing as a 安全账户), whatever else it holds.
    decisive: ClassVar[str | None] = None

    def __init__(self) -> None:
        self._rx = re.compile("|".join(f"(?:{p})" for p in self.patterns))

    def find(self, folded: Folded) -> Iterator[tuple[int, int]]:
        """Yield folded spans ``(start, end)`` of every non-negated match."""
        text = folded.text
        for m in self._rx.finditer(text):
            s, e = m.span()
            if e <= s:
                continue
            if self.negatable and self._negated(folded, s, e):
                continue
            yield s, e

    def is_decisive(self, folded_text: str, start: int, end: int) -> bool:
        """Whether the cue ``folded_text[start:end]`` alone makes a text a scam (see
        ``decisive``; its look-behinds see the text before the cue)."""
        if not self.decisive:
            return False
        return re.compile(self.decisive).search(folded_text, start, end) is not None

    def _negated(self, folded: Folded, s: int, e: int) -> bool:
        text = folded.text
        lo = max(0, s - self.negation_window)
        if _INNER_NEGATIONS.search(text, s, e):
            return True
        for negations, ends in (
            (_STRONG_NEGATIONS, _CLAUSE_END),
            (_WEAK_NEGATIONS, _CLAUSE_END_WEAK),
        ):
            start = lo
            for end in ends.finditer(text, lo, s):
                start = end.end()
            brk = folded.last_break(start, s)
            if brk is not None:
                start = brk
            # search the whole text so the guards (是不是, 别担心) see both sides
            m = negations.search(text, start)
            if m is not None and m.start() < s:
                return True
        return _in_warning_sentence(folded, s, e)


RULES: dict[str, type[StageRule]] = {}


def register(cls: type[StageRule]) -> type[StageRule]:
    """Class decorator: add a rule to :data:`RULES` (names must be unique)."""
    if cls.name in RULES:
        raise ValueError(f"duplicate scam rule name {cls.name!r}")
    RULES[cls.name] = cls
    return cls


_BRANDS = (
    r"淘宝|天猫|京东|拼多多|抖音|快手|支付宝|微信支付|唯品会|苏宁|美团|闲鱼|小红书|当当|"
    r"顺丰|中通|圆通|韵达|申通|极兔|邮政|ems|菜鸟|德邦|京东物流|京东金融|银联|中国银联"
)


@register
class SelfClaimedService(StageRule):
    name = "self_claimed_service"
    stage = "impersonation"
    patterns = (
        # first person only: 自称/冒充/假冒 narrate someone else's claim (an anti-fraud
        # notice's "如有人自称京东客服…"), they are not the caller's self-introduction
        r"(?:我是|我们是|这里是|这边是|我这边是|我这里是|本人是|我是来自)"
        r"[^，。！？,.!?；;]{0,12}?(?:客服|售后|理赔专员|专员|快递员|快递公司|物流公司|"
        r"工作人员|平台|商家|店家|官方|理赔中心|理赔部|银联|金融|银行)",
        rf"(?:{_BRANDS})(?:快递|速运|物流|商城|平台)?(?:的)?(?:官方)?(?:客服|售后|理赔中心|理赔部|风控部|工作人员)(?:中心|专员)?",
    )


@register
class CompensationPretext(StageRule):
    name = "compensation_pretext"
    stage = "pretext"
    patterns = (
        r"(?:质量问题|质量不合格|不合格|甲醛超标|铅超标|含铅|有毒|致癌|过敏|召回|检测出)"
        r"[^。！？!?]{0,20}?(?:理赔|赔偿|赔付|退款|补偿)",
        # 快递(?!员|公司): the cue starts at the parcel, not inside "我是快递员"; the gap to
        # the loss stays inside one clause and one 【…】 header
        r"(?:快递(?!员|公司)|快件|包裹|货物|商品|物品|件)[^。！？!?，,】]{0,6}?"
        r"(?:丢失|丢了|遗失|弄丢|损坏|破损)"
        r"[^。！？!?]{0,15}?(?:赔偿|理赔|赔付|补偿)",
        r"(?:双倍|三倍|十倍|(?<!\d)\d{1,4}倍)(?:赔偿|理赔|赔付)",
    )


@register
class MistakenSubscriptionPretext(StageRule):
    name = "mistaken_subscription_pretext"
    stage = "pretext"
    patterns = (
        r"(?:误|错误地?|不小心|系统|工作失误)[^。！？!?]{0,8}?(?:开通|设置|注册|升级|办理|加入)"
        r"[^。！？!?]{0,10}?(?:代理|会员|商家|vip|百万保障|保障服务|保险|分期|主播)",
        r"(?:每月|每个月|按月|每年|每季度)[^。！？!?]{0,8}?(?:自动扣费|自动扣款|扣费|扣除|扣款|自动扣|收取)",
        r"(?:取消|关闭|注销|解除)[^。！？!?]{0,6}?(?:代理|会员|百万保障|保障服务|分期|学生账户|校园贷|主播)",
    )


@register
class RefundTroublePretext(StageRule):
    name = "refund_trouble_pretext"
    stage = "pretext"
    patterns = (
        # 不能到账 holds a weak negation, which is looked for only before a match
        r"(?:退款|退费|赔款|理赔款)[^。！？!?]{0,12}?(?:失败|冻结|卡住|异常|无法到账|不能到账|被拦截)",
        r"(?:店铺|账户|账号)[^。！？!?]{0,6}?(?:冻结|违规|被封|下架)",
    )


@register
class ChannelSwitch(StageRule):
    name = "channel_switch"
    stage = "channel_switch"
    patterns = (
        r"(?:加|添加|加一下|下载|安装|打开|登录|登陆|进入)(?:一下)?(?:我们的|我的|客服的?|对方的?|我们|我)?"
        r"(?:qq|微信|企业微信|钉钉|腾讯会议|zoom|飞书|会议软件|会议app|视频会议)",
        # the spellings that dodge a 微信/QQ filter: V信, VX, wei信, 薇信, 扣扣, 企鹅
        r"(?:加|添加|加一下)(?:一下)?(?:我们的|我的|客服的?|对方的?|我们|我)?"
        r"(?:v信|vx|wx|weixin|wei信|薇信|威信|微芯|扣扣|企鹅号?|v(?![a-z]))",
        r"(?:下载|安装)[^。！？!?]{0,8}?(?:app|软件|应用|客户端)",
        r"(?:扫码|扫描二维码|扫二维码)[^。！？!?]{0,6}?(?:进群|加入|添加|下载)",
        r"(?:qq|微信)(?:号|群)[^。！？!?]{0,4}?(?:是|为|:|：)",
    )


@register
class ScreenSharing(StageRule):
    name = "screen_sharing"
    stage = "screen_sharing"
    patterns = (
        r"(?:打开|开启|点击|点开)?(?:共享屏幕|屏幕共享|分享屏幕|屏幕分享)|开启共享|打开共享|投屏|录屏给|远程协助|远程控制|"
        r"向日葵|todesk|teamviewer",
    )


@register
class Borrowing(StageRule):
    name = "borrowing"
    stage = "borrowing"
    patterns = (
        r"备用金|借呗|金条|微粒贷|360借条|安逸花|度小满|有钱花|招联金融|分期乐|网商贷",
        r"(?:开通|借出|申请|取出|提取|套现|贷出|借|贷款|额度)[^。！？!?]{0,6}?(?:白条|花呗|网贷|贷款软件|贷款app)",
        r"(?:下载|注册)[^。！？!?]{0,6}?(?:贷款|借款|网贷)",
    )


@register
class CreditThreat(StageRule):
    """A threat to the victim's credit record (不关的话影响征信): a step of its own beside the
    loan product it pushes (the close-白条 script: 影响征信 … 看一下金条额度), so the two
    count as two high-risk steps. A lender's repayment reminder says the same words about
    an *overdue* payment ("借呗…逾期将影响征信"); that is no threat and no cue."""

    name = "credit_threat"
    stage = "borrowing"
    patterns = (
        r"(?:影响|损害|降低|列入|进入|上了?)[^。！？!?]{0,4}?征信|征信[^。！？!?]{0,6}?(?:受损|不良|黑名单|污点|有问题|异常|会受)",
    )
    #: words of a repayment reminder, looked for in the ``ordinary_window`` characters
    #: before the cue
    ordinary = re.compile(r"逾期|还款|欠款|拖欠|按时还|未还")
    ordinary_window = 12

    def find(self, folded: Folded) -> Iterator[tuple[int, int]]:
        for s, e in super().find(folded):
            if not self.ordinary.search(folded.text, max(0, s - self.ordinary_window), s):
                yield s, e


@register
class Transfer(StageRule):
    name = "transfer"
    stage = "transfer"
    # 交易资金监管账户 is the real escrow of a house sale, not the scammer's 监管账户
    # (and a house sale's or a presale's escrow: 资金监管账户 after 购房/房款/预售/定金/过户 …)
    decisive = (
        r"安全账户|(?<!交易资金)(?<!预售资金)(?<!购房资金)(?<!房款)(?<!银行的资金)监管账户|解冻费"
    )
    patterns = (
        r"(?:做|刷|走|制造|提供|做一下|刷一下)(?:一下|一笔|一些|几笔)?(?:银行)?流水",
        r"安全账户|监管账户|核查账户|清查账户|指定账户|保证金账户",
        r"卡单|解冻金|解冻费",
        r"(?:转账|汇款|打款|转入|转到|转给|充值)[^。！？!?]{0,12}?(?:验证|解冻|激活|核实|保证金|账户|对公)",
        r"(?:验证|核实|检验|证明)(?:一下)?(?:您的|你的)?(?:还款|资金|收款|偿还|转账)能力",
    )


@register
class CredentialTheft(StageRule):
    name = "credential_theft"
    stage = "credential_theft"
    patterns = (
        r"(?:告诉|提供|报|念|读|发送?|说出?|给)(?:一下)?(?:给)?(?:我|我们|客服|这边|我这边)?"
        r"(?:您的|你的|手机上?的?|收到的)?(?:短信)?(?:验证码|校验码|动态码|动态密码|支付密码|"
        r"银行卡密码|登录密码|密码|cvv|安全码)",
        r"(?:验证码|校验码|动态码|密码)[^。！？!?]{0,8}?(?:告诉我|报给|发给|念给|读给|提供给|给我|发过来|报一下|念一下)",
    )


def default_rules() -> tuple[StageRule, ...]:
    """One instance of every registered rule (compiled once per process by the caller)."""
    return tuple(cls() for cls in RULES.values())


#: At most this many hits are reported per text: enough to explain, bounded for junk input.
MAX_HITS = 64


def find_stages(original: str, folded: Folded, rules: tuple[StageRule, ...]) -> list[StageHit]:
    """All stage cues in ``original`` (spans in original coordinates), sorted by position."""
    seen: set[tuple[str, int, int]] = set()
    hits: list[StageHit] = []
    for rule in rules:
        for fs, fe in rule.find(folded):
            s, e = folded.span(fs, fe)
            key = (rule.stage, s, e)
            if key in seen:
                continue
            seen.add(key)
            decisive = rule.is_decisive(folded.text, fs, fe)
            hits.append(StageHit(rule.stage, s, e, original[s:e], rule.name, decisive))
    hits.sort(key=lambda h: (h.start, STAGES.index(h.stage), h.end))
    return hits[:MAX_HITS]


@dataclass(frozen=True)
class TypeRule:
    """A fraud type named by two cue groups that must *both* occur (either order).

    Used for Ministry categories the public data has no examples of, and to refine the
    classifier's catch-all 其他类型诈骗. Two groups, not one, because each single word
    (征信, 公安局, 领导) also occurs in ordinary text.
    """

    fraud_type: str
    first: str
    second: str

    def matches(self, folded_text: str) -> bool:
        return bool(re.search(self.first, folded_text)) and bool(
            re.search(self.second, folded_text)
        )


# The first cue group of each rule is a first-person claim ("我是…", "这里是…"): the
# narrative "骗子冒充民警称其涉嫌洗钱" in a news report must not turn a report the data labels
# 其他类型诈骗 into a rule-only type (measured: a loose version halved that class's recall).
_ME = r"(?:我是|我们是|这里是|这边是|本人是|我这边是)[^，。！？,.!?]{0,8}?"

TYPE_RULES: tuple[TypeRule, ...] = (
    TypeRule(
        "虚假征信类",
        _ME + r"(?:征信|银保监|金融监管|客服|工作人员|专员)",
        r"(?:修复|消除|清除|洗白|注销|关闭|铲除)[^。！？!?]{0,8}?(?:征信|不良记录|校园贷|学生贷|学生账户)|"
        r"征信[^。！？!?]{0,6}?(?:修复|消除|洗白)",
    ),
    TypeRule(
        "冒充公检法及政府机关类",
        _ME + r"(?:公安局|派出所|检察院|法院|警官|民警|刑警|公安部|网警|社保局|医保局)",
        r"洗钱|涉嫌|涉案|通缉|逮捕|资金清查|清查|安全账户|配合调查|保密协议|拘留|冻结",
    ),
    TypeRule(
        "冒充领导、熟人类",
        r"我是你(?:们)?的?(?:领导|老板|校长|主任|局长|老师|老同学|同学|朋友|表哥|舅舅)|猜猜我是谁|"
        r"我换(?:了个?)?(?:新)?号|这是我的新(?:号码|微信)|我是(?:王|李|张|刘|陈)(?:总|局|处长|主任)",
        r"转账|借钱|借点钱|汇款|打款|急用钱|周转",
    ),
    TypeRule(
        "网络游戏产品虚假交易类",
        r"(?:出售|收购|低价|卖|买)[^。！？!?]{0,6}?(?:游戏账号|游戏装备|游戏皮肤|游戏币|点卡|账号装备)",
        r"保证金|解冻|押金|先付|定金|转账",
    ),
    TypeRule(
        "冒充军警购物类诈骗",
        _ME + r"(?:部队|军人|军官|武警|营区|炊事班|军区)",
        r"采购|订购|垫付|代购|购买|订餐|订货",
    ),
)


def match_type_rules(folded_text: str) -> str | None:
    """The first rule-only fraud type whose two cue groups both occur, else ``None``."""
    for rule in TYPE_RULES:
        if rule.matches(folded_text):
            return rule.fraud_type
    return None
