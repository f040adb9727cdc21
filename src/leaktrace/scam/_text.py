"""Text folding with an offset map back to the original string.

Scam messages dodge keyword filters with full-width letters (ＱＱ), inserted spaces
(备 用 金), zero-width characters, traditional characters (備用金) and punctuation or emoji
inside a word (淘.宝.客.服, 备😊用😊金). We match on a *folded* copy (per-character NFKC,
lower-case, the cue words' traditional characters simplified, whitespace and invisible
characters dropped, and punctuation or symbols that sit between two letters dropped) but
users need spans in the text they pasted, so :func:`fold` also returns, for every folded
character, the index of the original character it came from.

Whitespace is dropped for matching but it still separates clauses in speech-to-text and
voice-typed transcripts ("请不要挂电话 打开屏幕共享"), so :class:`Folded` records where it
stood (``breaks``; a line break also in ``lines``). A space next to a single character
(淘 宝 客 服) is padding, not a clause break.

Per-character NFKC (rather than whole-string NFKC) keeps the offset map exact; the only
difference is for combining sequences, which do not occur in the cues we match.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from dataclasses import dataclass, field

__all__ = ["MAX_CHARS", "Folded", "clean_input", "fold"]

#: Longest prefix of one text that is analysed. A 10 MB paste would otherwise cost seconds
#: of regex time; real scam messages and call transcripts are far shorter. Documented in
#: docs/scam.md; results say ``truncated=True`` when the cap applied.
MAX_CHARS = 20_000

# Characters that carry no meaning for matching: zero-width space/joiners, BOM, soft hyphen.
_INVISIBLE = frozenset("\u200b\u200c\u200d\u2060\ufeff\u00ad")

# Punctuation that ends or separates clauses, and brackets (【京东】): kept in the folded
# text even between two letters, because the negation check and the patterns' gaps read
# them. Any other punctuation, symbol or emoji between two letters is an evasion (淘.宝,
# 开-通, 备😊用) and is dropped.
_KEEP_PUNCT = frozenset("，,。！？!?；;:：、\n【】[]()（）《》<>「」『』〈〉“”\"'‘’")

# Traditional → simplified for the characters of the cue words, brands and the negation
# and warning words (no dependency: a table is enough for what the rules read).
_TRAD = (
    "東購買賣質問題們賠償請開啟備騰訊會議錢轉賬帳戶號碼驗證務寶貓團紅書當豐韻遞郵極鳥"
    "達運貨損壞遺丟補費處現額貸唄條軟體應裝載錄釘飛視頻遠協網認記絡掃維進羣權關閉註銷"
    "業員專門時過還資監單凍結實對檢報讀發說給動態銀標鉛測雙誤錯統設冊級辦險個學園異無"
    "攔鋪違規為點擊滿聯樂響徵製筆匯訴邊這裡裏來稱風騙詐謹絕從並沒擔緊張讓與蘇寧閒魚順"
    "圓導護領總長師換幣隊軍區訂墊採聽於價憑驛樓幫後麼嗎產車兒幾歡鎖臺準線話電據貼帶須"
    "戲遊獲獎機構勵贏數稅繳納餘憂爭詢諮頁覽庫鍵擇選殺豬盤戀誼識劃計畫齡陽陰萬億雲鬆輸"
    "贖寫縮擴鐘續變離簡類廣彈紀審評龍鴻興華復雜職隨廳醫療檔夠彙觸禮節獻傳戰緣舉儲貿歸"
    "樣鑑鑒經濟義將斷屬臨熱鬧繫惡語詞讚積覺緻寬驚閱慮顧別"
)
_SIMP = (
    "东购买卖质问题们赔偿请开启备腾讯会议钱转账账户号码验证务宝猫团红书当丰韵递邮极鸟"
    "达运货损坏遗丢补费处现额贷呗条软体应装载录钉飞视频远协网认记络扫维进群权关闭注销"
    "业员专门时过还资监单冻结实对检报读发说给动态银标铅测双误错统设册级办险个学园异无"
    "拦铺违规为点击满联乐响征制笔汇诉边这里里来称风骗诈谨绝从并没担紧张让与苏宁闲鱼顺"
    "圆导护领总长师换币队军区订垫采听于价凭驿楼帮后么吗产车儿几欢锁台准线话电据贴带须"
    "戏游获奖机构励赢数税缴纳余忧争询咨页览库键择选杀猪盘恋谊识划计画龄阳阴万亿云松输"
    "赎写缩扩钟续变离简类广弹纪审评龙鸿兴华复杂职随厅医疗档够汇触礼节献传战缘举储贸归"
    "样鉴鉴经济义将断属临热闹系恶语词赞积觉致宽惊阅虑顾别"
)
_T2S = str.maketrans(_TRAD, _SIMP)

_SPACE_RUN = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Folded:
    """A folded string plus ``origin[i]`` = index in the original of folded char ``i``.

    ``breaks`` holds every folded index ``i`` where whitespace that ends a clause stood
    just before folded char ``i``; ``lines`` the subset where that whitespace held a line
    break (which also ends a sentence).
    """

    text: str
    origin: tuple[int, ...]
    breaks: frozenset[int] = field(default=frozenset())
    lines: frozenset[int] = field(default=frozenset())

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Map a folded half-open span ``[start, end)`` back to the original text."""
        if end <= start:
            o = self.origin[start] if start < len(self.origin) else 0
            return o, o
        return self.origin[start], self.origin[end - 1] + 1

    def last_break(self, lo: int, hi: int, *, lines_only: bool = False) -> int | None:
        """The largest break position in ``(lo, hi]``, or ``None``."""
        marks = self.lines if lines_only else self.breaks
        for i in range(hi, lo, -1):
            if i in marks:
                return i
        return None


def clean_input(text: str) -> tuple[str, bool]:
    """Cap the length so a huge paste cannot make one check take seconds.

    Returns the prefix to analyse and whether it was truncated. The prefix is a prefix of
    the caller's text, so spans found in it are valid spans of the original too. Control
    characters (binary junk) are kept here and skipped by :func:`fold`.
    """
    truncated = len(text) > MAX_CHARS
    if truncated:
        text = text[:MAX_CHARS]
    return text, truncated


def _droppable(ch: str) -> bool:
    """Punctuation, symbols and marks that are dropped when they sit between two letters."""
    if ch in _KEEP_PUNCT:
        return False
    cat = unicodedata.category(ch)
    return cat[0] in "PSM" or cat == "Cf"


def fold(text: str) -> Folded:
    """Fold ``text`` for matching; see the module docstring."""
    chars: list[str] = []
    origin: list[int] = []
    drop: list[int] = []  # folded indices of punctuation/symbols that may be dropped
    spaced = False
    # one character for one: indices are unchanged
    for i, ch in enumerate(text.translate(_T2S)):
        if ch.isspace() or ch in _INVISIBLE:
            spaced = True
            continue
        if ch.isascii():
            if ch.isalnum():
                chars.append(ch.lower())
                origin.append(i)
                continue
            if unicodedata.category(ch) == "Cc":
                continue
            piece = ch
        else:
            cat = unicodedata.category(ch)
            if cat == "Cc" or cat == "Cs":
                continue
            piece = unicodedata.normalize("NFKC", ch).lower()
        for p in piece:
            if p.isspace():
                continue
            if not p.isalnum() and p not in _KEEP_PUNCT and _droppable(p):
                drop.append(len(chars))
            chars.append(p)
            origin.append(i)
    if drop:
        chars, origin = _drop_joiners(chars, origin, drop)
    breaks: set[int] = set()
    lines: set[int] = set()
    if spaced and origin:
        for m in _SPACE_RUN.finditer(text):
            s, e = m.span()
            at = bisect_left(origin, e)  # first folded char after the whitespace
            if at == 0 or at >= len(origin):
                continue
            if "\n" in m.group() or "\r" in m.group():
                breaks.add(at)
                lines.add(at)
                continue
            # a space beside a lone character is padding (淘 宝 客 服), not a clause break
            before = _SPACE_RUN.split(text[max(0, s - 2) : s])[-1]
            after = _SPACE_RUN.split(text[e : e + 2])[0]
            if len(before) >= 2 and len(after) >= 2:
                breaks.add(at)
    return Folded("".join(chars), tuple(origin), frozenset(breaks), frozenset(lines))


def _drop_joiners(
    chars: list[str], origin: list[int], drop: list[int]
) -> tuple[list[str], list[int]]:
    """Remove each run of droppable characters whose neighbours are both letters/digits."""
    droppable = set(drop)
    gone: set[int] = set()
    i = 0
    while i < len(drop):
        start = drop[i]
        end = start
        while i < len(drop) and drop[i] == end:
            end += 1
            i += 1
        if start > 0 and end < len(chars):
            left, right = chars[start - 1], chars[end]
            if left.isalnum() and right.isalnum() and end not in droppable:
                gone.update(range(start, end))
    if not gone:
        return chars, origin
    keep = [k for k in range(len(chars)) if k not in gone]
    return [chars[k] for k in keep], [origin[k] for k in keep]
