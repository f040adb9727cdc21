"""attribute's explanation says what each figure is (session 20's walk, REPORT M1).

The concentration sentence quoted the combined, corrected p-value (1.3e-172) while the
exposure evidence alone was 10^-11.5: the quoted aliases carried the rest. An analyst,
partner or regulator reading the HTML report was told that the concentration shows what
it does not.
"""

from __future__ import annotations

import math
import re

from leaktrace.attribution.attribute import Candidate, _explain, fisher_bound
from leaktrace.trace.stats import bonferroni


def _accused(family: dict[str, float], m: int) -> Candidate:
    c = Candidate("sto", victims=76, consistent=31, alias_hits=9)
    c.log10_p_family = family
    c.log10_p = fisher_bound(list(family.values()))
    c.log10_p_corrected = bonferroni(c.log10_p, m)
    return c


def _figures(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"\d(?:\.\d+)?e-\d+", text)]


def test_concentration_sentence_quotes_exposure_and_the_combination_is_named() -> None:
    m = 10
    fam = {"exposure": -11.49, "aliases": -152.98, "formatting": -15.26, "canaries": 0.0}
    a = _accused(fam, m)
    out = _explain([a], [a], 76, 0, 1e-9)
    exposure = 10 ** (fam["exposure"] + math.log10(m))
    combined = 10**a.log10_p_corrected
    en, zh = out["en"], out["zh"]
    concentration_en = en.split("a concentration like this")[1].split(";")[0]
    assert f"{exposure:.2g}" in concentration_en and f"{combined:.2g}" not in concentration_en
    concentration_zh = zh.split("出现这种集中程度的概率")[1].split("；")[0]
    assert f"{exposure:.2g}" in concentration_zh and f"{combined:.2g}" not in concentration_zh
    # the combined figure is credited to the combination, naming its families, in both
    assert (
        f"All the evidence combined (exposure, order aliases, formatting marks, canaries: "
        f"Fisher's method, corrected) has probability at most {combined:.2g}" in en
    )
    assert (
        f"全部证据合并（数据暴露、订单号别名、格式标记、金丝雀，Fisher 方法合并并已校正）的概率不超过 {combined:.2g}"
        in zh
    )
    # both languages state the same figures, in the same order
    assert _figures(en) == _figures(zh)


def test_exposure_at_chance_is_not_credited_with_the_aliases_figure() -> None:
    """The larger workspace of the walk: exposure exactly 0 (null share 1.000)."""
    fam = {"exposure": 0.0, "aliases": -152.98, "formatting": 0.0, "canaries": 0.0}
    a = _accused(fam, 12)
    en = _explain([a], [a], 76, 0, 1e-9)["en"]
    assert "a concentration like this has probability at most 1 on its own" in en
    assert f"at most {10**a.log10_p_corrected:.2g}" in en.split("All the evidence")[1]
