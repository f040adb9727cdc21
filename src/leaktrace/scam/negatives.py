"""Legitimate messages, generated from templates we wrote, as the classifier's negatives.

The public data has almost no legitimate *messages* (its only negatives are meeting
transcripts), yet the costly mistake in production is flagging a real shipping notice or a
real customer-service reply. These templates imitate the messages shoppers actually get —
logistics notices, order and refund notices, customer-service replies, verification codes,
marketing — including the hard cases that share words with scams (退款, 客服, 验证码, 理赔,
快递丢失 handled through the app).

Reproducible: :func:`generate` is a pure function of ``(n, seed, split)``. Templates are
split, not just samples: every fourth template of each family is ``"test"`` only, so the
false-positive rate is measured on wording the model never saw.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

__all__ = ["FAMILIES", "generate", "templates_for"]

Split = Literal["train", "test"]

FAMILIES: dict[str, tuple[str, ...]] = {
    "logistics": (
        "【{courier}】您的快件已到达{city}{station}，取件码{code4}，请于{time}前取件。",
        "【{courier}】您好，您的包裹正在派送中，快递员{name}，预计{time}送达，请保持电话畅通。",
        "【{courier}】您的快递已签收，签收人：{sign}。如有疑问请在{brand}App内联系客服。",
        "【菜鸟驿站】您有{num}个包裹在{station}，凭取件码{code4}领取，营业时间{hours}。",
        "您的订单{order}已由{courier}揽收，运单号{waybill}，可在App订单详情查看物流。",
        "【{courier}】因天气原因，{city}地区派送可能延迟1-2天，给您带来不便敬请谅解。",
        "【{courier}】您的包裹已放入{station}快递柜{num}号格口，取件码{code6}。",
        "快递小哥{name}：您好，我在您楼下，放门口可以吗？",
    ),
    "order": (
        "【{brand}】您购买的{item}已发货，订单号{order}，预计{date}送达。",
        "【{brand}】您的订单{order}已付款成功，实付{amount}元，商家将尽快为您发货。",
        "【{brand}】您的退款申请已通过，{amount}元将在1-3个工作日原路退回至您的支付账户。",
        "【{brand}】您的售后申请（订单{order}）已受理，请在App内查看处理进度。",
        "【{brand}】您购买的{item}已降价，可在订单页申请价保，差价{amount}元将原路退回。",
        "【{brand}】您的订单{order}已完成，快来评价一下{item}吧。",
        "【{brand}】退款成功：订单{order}的{amount}元已退回原支付方式，请注意查收。",
        "【{brand}】您关注的{item}补货啦，数量有限，打开App即可购买。",
    ),
    "service_reply": (
        "亲，您好，这里是{brand}官方客服，很高兴为您服务，请问有什么可以帮您？",
        "亲，您的快递显示已到{station}，麻烦您去取一下哦，有问题随时在App里联系我们。",
        "您好，关于{item}的质量问题，您可以在订单页申请退货退款，运费由我们承担。",
        "亲，包裹丢失的情况我们已经登记，会在App内为您补发，无需您做任何转账操作。",
        "您好，已为您备注优先发货，预计{date}送达，请耐心等待。",
        "亲亲，这款{item}支持七天无理由退货，在订单里点申请售后就可以了。",
        "您好，退款已经处理，款项会原路退回，一般1到3个工作日到账。",
        "感谢您的耐心等待，您的问题已反馈给仓库，{date}前给您答复。",
    ),
    "otp": (
        "【{brand}】验证码{code6}，用于登录，5分钟内有效。验证码提供给他人可能导致账号被盗，请勿泄露，谨防被骗。",
        "【{bank}】您正在进行快捷支付，验证码{code6}，切勿告知他人。",
        "【{brand}】您的验证码是{code4}，请勿将验证码告诉任何人，官方不会向您索取。",
        "验证码：{code6}（{brand}身份验证），有效期10分钟，如非本人操作请忽略。",
        "【{brand}】您正在修改绑定手机号，验证码{code6}。工作人员不会向您索要，请勿告诉他人。",
        "【{bank}】动态密码{code6}，您正在登录手机银行，请勿向任何人提供。",
        "【{brand}】{code6}是您的注册验证码，请于5分钟内填写，不要把验证码泄露给他人。",
        "【{brand}】您的登录校验码为{code4}，若非本人操作，请及时修改密码。",
    ),
    "marketing": (
        "【{brand}】双十一狂欢，{item}限时直降{amount}元，点击App首页领券，退订回T。",
        "【{brand}】亲爱的会员，您有一张{amount}元无门槛券即将过期，快去使用吧，拒收请回复R。",
        "【{brand}】年货节开启，全场满{amount}减{num}0，支持分期免息，退订回T。",
        "【{brand}】会员日福利：{item}第二件半价，仅限今天，退订回T。",
        "【{brand}】您的积分即将清零，可兑换{item}，打开App会员中心查看，退订回T。",
        "【{brand}】新人专享：首单立减{num}元，{item}包邮到家，退订回T。",
        "【{brand}】618大促预售开启，定金{num}元抵{amount}元，退订回T。",
        "【{brand}】您收藏的店铺上新了，{item}新品首发，戳App查看。",
    ),
    "bank": (
        "【{bank}】您尾号{code4}的储蓄卡{date}支出人民币{amount}元（{brand}消费），余额请查询App。",
        "【{bank}】您尾号{code4}的信用卡本期账单{amount}元，到期还款日{date}。",
        "【{bank}】您尾号{code4}的账户{date}收入人民币{amount}元（退款）。",
        "【{bank}】温馨提示：本行不会以任何理由要求您转账到所谓安全账户，请提高警惕。",
        "【{bank}】您的信用卡已激活，感谢您的使用。",
        "【{bank}】您尾号{code4}的卡片于{date}完成自动还款{amount}元。",
        "【{bank}】尊敬的客户，您的手机银行于{date}在新设备登录，如非本人操作请及时修改密码。",
        "【{bank}】您的理财产品已到期，本金及收益{amount}元已转入尾号{code4}的账户。",
    ),
    "chat": (
        "{name}，今晚一起吃饭吗？我{time}下班。",
        "妈，我到{city}了，一切都好，别担心。",
        "明天的会议改到{time}，地点还是三楼会议室。",
        "周末去{city}玩吗？我看了一下天气还不错。",
        "快递到了帮我拿一下，放{station}了，谢谢啦。",
        "我在{brand}上买的{item}到了，质量挺好的，推荐你也买一个。",
        "孩子学校通知{date}开家长会，你有空去吗？",
        "今天的作业是数学练习册第{num}页，记得检查一下。",
    ),
    "platform_notice": (
        "【{brand}】您的账户于{date}在新设备登录，如非本人操作，请在App内修改密码。",
        "【{brand}】您的实名认证已完成，感谢您的配合。",
        "【{brand}】您的{item}保修服务已生效，可在App内查看电子保卡。",
        "【{brand}】您投诉的问题已处理完毕，请在App内对本次服务进行评价。",
        "【{brand}】反诈提醒：平台客服不会要求您共享屏幕、开通备用金或转账，请勿相信。",
        "【{brand}】您的会员已自动续费{amount}元，如需取消请在App设置中关闭自动续费。",
        "【{brand}】您申请的发票已开具，可在订单详情下载。",
        "【{brand}】您的运费险理赔{amount}元已到账，请在钱包中查看。",
    ),
}

_SLOTS: dict[str, tuple[str, ...]] = {
    "courier": (
        "顺丰速运",
        "中通快递",
        "圆通速递",
        "韵达快递",
        "申通快递",
        "京东物流",
        "中国邮政",
        "极兔速递",
        "德邦快递",
    ),
    "brand": (
        "淘宝",
        "京东",
        "拼多多",
        "抖音商城",
        "唯品会",
        "苏宁易购",
        "美团",
        "天猫",
        "得物",
        "当当",
    ),
    "bank": (
        "工商银行",
        "建设银行",
        "农业银行",
        "中国银行",
        "招商银行",
        "交通银行",
        "浦发银行",
        "中信银行",
    ),
    "city": (
        "北京",
        "上海",
        "广州",
        "深圳",
        "杭州",
        "成都",
        "武汉",
        "西安",
        "南京",
        "长沙",
        "郑州",
        "沈阳",
    ),
    "station": (
        "小区东门驿站",
        "菜鸟驿站",
        "丰巢快递柜",
        "物业前台",
        "兔喜生活超市",
        "校园快递点",
        "写字楼收发室",
    ),
    "name": ("张师傅", "李师傅", "王强", "刘洋", "陈静", "小赵", "杨帆", "周敏"),
    "sign": ("本人", "家人", "门卫", "快递柜", "驿站", "同事"),
    "item": (
        "口罩",
        "保温杯",
        "运动鞋",
        "蓝牙耳机",
        "儿童玩具",
        "面霜",
        "电饭煲",
        "羽绒服",
        "手机壳",
        "纸巾",
        "洗衣液",
        "台灯",
    ),
    "hours": ("8:00-21:00", "9:00-20:00", "7:30-22:00"),
    "time": ("18:00", "20:30", "明天上午", "下午三点", "今晚八点", "中午十二点"),
    "date": ("10月12日", "11月3日", "12月20日", "1月8日", "3月15日", "6月18日", "明天", "后天"),
}


def _fill(template: str, rng: np.random.Generator) -> str:
    values: dict[str, str] = {k: str(v[int(rng.integers(len(v)))]) for k, v in _SLOTS.items()}
    values["code4"] = f"{int(rng.integers(10_000)):04d}"
    values["code6"] = f"{int(rng.integers(1_000_000)):06d}"
    values["num"] = str(int(rng.integers(1, 30)))
    values["amount"] = str(int(rng.choice([9, 19, 29, 39, 59, 99, 128, 199, 299, 520, 1299])))
    values["order"] = "".join(str(int(d)) for d in rng.integers(0, 10, size=16))
    values["waybill"] = "SF" + "".join(str(int(d)) for d in rng.integers(0, 10, size=12))
    return template.format(**values)


def templates_for(split: Split) -> list[tuple[str, int, str]]:
    """``(family, index, template)`` for one split: index % 4 == 3 is held out for test."""
    out: list[tuple[str, int, str]] = []
    for family, templates in FAMILIES.items():
        for i, t in enumerate(templates):
            if (i % 4 == 3) == (split == "test"):
                out.append((family, i, t))
    return out


def generate(n: int, seed: int, split: Split = "train") -> list[str]:
    """``n`` legitimate messages from the templates of ``split``, deterministic in ``seed``."""
    rng = np.random.default_rng(seed)
    templates = templates_for(split)
    picks = rng.integers(len(templates), size=n)
    return [_fill(templates[int(k)][2], rng) for k in picks]
