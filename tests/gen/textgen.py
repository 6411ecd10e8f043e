"""textgen - vocabularies, signature transforms, a reference normalizer/matcher.

The reference matcher (norm(), RefMatcher) follows the product contract: NFKC +
casefold, drop default-ignorable characters and everything that is not a letter
or digit, traditional -> simplified (table below), Cyrillic/Greek look-alikes ->
Latin.  The corpus generator uses it to make sure every flow direction holds
exactly the signatures it planted (no accidental hit from filler text).
"""
import re
import unicodedata

# Scam vocabulary (simplified Chinese).  Synthetic ad phrases, no politics.
CN_SCAM = ("免费 领取 转账 账户 验证码 返利 刷单 换脸 声音克隆 红包 中奖 贷款 投资 理财 客服 退款 "
           "冻结 解冻 点击 链接 充值 提现 高额 回报 内部 名额 限时 会员 积分 兑换 礼品 稳赚 带单 "
           "导师 数字货币 挖矿 代办 征信 安全账户 银行卡 秒到 包过 无抵押 保本 日结 佣金 兼职 "
           "押金 私聊 专属 福利 奖金 彩金 下注 网贷 额度 解封 刷流水 视频换脸 语音合成 明星代言 "
           "一键生成 代写 网赚 拉新 返现 现金 优惠 抽奖 资金 认证").split()
# Neutral filler (simplified Chinese).
CN_FILL = ("今天 天气 我们 会议 安排 项目 进度 地点 城市 公园 早餐 咖啡 图书 音乐 电影 朋友 家庭 "
           "周末 旅行 运动 健康 新闻 技术 讨论 计划 文档 版本 测试 系统 数据 春天 河流 山川 "
           "花园 老师 学生 课程 作业 午饭 晚饭 米饭 面条 水果 苹果 香蕉 草莓 西瓜 火车 飞机 "
           "地铁 公交 天空 白云 大海 森林 小鸟 小猫 小狗 书架 桌子 椅子 窗户 门口 春节 中秋 "
           "月亮 太阳 星星 风景 照片 相机 散步 跑步 游泳 篮球 足球 比赛 成绩 考试 图片 作者 "
           "故事 小说 诗歌 历史 地理 化学 物理 数学 语文 英语 美术 音乐会 博物馆 科学").split()
CN_PUNCT = "，。！？、；："
EN_SCAM = ("free bonus verify wallet deepfake voice clone crypto prize winner claim reward urgent "
           "account refund gift card bitcoin invest profit guaranteed double instant secret "
           "exclusive limited offer loan password unlock airdrop token celebrity faceswap jackpot "
           "cashback payout lottery seed phrase").split()
EN_FILL = ("the meeting agenda weather report project team lunch schedule update review notes office "
           "garden music travel coffee library river mountain morning evening kitchen window table "
           "paper green yellow quiet simple number picture story history science lesson student "
           "teacher apple banana orange bread butter tomato potato winter summer autumn spring "
           "bicycle train station harbor island forest valley pencil notebook chair sofa lamp "
           "friday monday tuesday sunday cloudy rainy sunny").split()

# Traditional -> simplified, only unambiguous one-to-one pairs.
T2S = {
    "費": "费", "領": "领", "轉": "转", "賬": "账", "戶": "户", "驗": "验", "證": "证", "碼": "码",
    "換": "换", "臉": "脸", "聲": "声", "單": "单", "紅": "红", "錢": "钱", "銀": "银", "獎": "奖",
    "資": "资", "險": "险", "禮": "礼", "優": "优", "貸": "贷", "詐": "诈", "騙": "骗", "員": "员",
    "現": "现", "這": "这", "點": "点", "擊": "击", "鏈": "链", "級": "级", "會": "会", "凍": "冻",
    "結": "结", "號": "号", "買": "买", "賣": "卖", "網": "网", "絡": "络", "視": "视", "頻": "频",
    "線": "线", "發": "发", "財": "财", "寶": "宝", "門": "门", "誠": "诚", "匯": "汇", "頭": "头",
    "語": "语", "機": "机", "變": "变", "裝": "装", "軟": "软", "載": "载", "團": "团", "隊": "队",
    "師": "师", "導": "导", "內": "内", "帶": "带", "們": "们", "讓": "让", "說": "说", "請": "请",
    "認": "认", "購": "购", "積": "积", "億": "亿", "萬": "万", "與": "与", "體": "体", "額": "额",
    "報": "报", "時": "时", "兌": "兑", "穩": "稳", "賺": "赚", "礦": "矿", "辦": "办", "過": "过",
    "賠": "赔", "聊": "聊", "專": "专", "屬": "属", "彩": "彩", "註": "注", "貨": "货", "幣": "币",
    "種": "种", "書": "书", "風": "风", "園": "园", "圖": "图", "課": "课", "車": "车", "飛": "飞",
    "鐵": "铁", "雲": "云", "鳥": "鸟", "貓": "猫", "狗": "狗", "桌": "桌", "窗": "窗", "陽": "阳",
    "紙": "纸", "錄": "录", "訊": "讯", "傭": "佣", "職": "职", "兼": "兼", "押": "押",
    "權": "权", "愛": "爱", "樂": "乐", "東": "东", "個": "个", "廣": "广", "場": "场", "歷": "历",
    "學": "学", "題": "题", "試": "试", "績": "绩", "習": "习", "氣": "气", "議": "议", "項": "项",
    "進": "进", "邊": "边", "歲": "岁", "開": "开", "關": "关", "問": "问", "間": "间", "聞": "闻",
    "動": "动", "實": "实", "獲": "获", "擬": "拟", "嗎": "吗", "漲": "涨", "鍵": "键", "寫": "写",
    "數": "数", "際": "际", "戲": "戏", "準": "准", "備": "备",
}
# "雲"->"云" is fine for t2s (云 is never a traditional form); keep the table one-to-one.
S2T = {}
for _t, _s in T2S.items():
    if _t != _s:
        S2T.setdefault(_s, _t)
T2S = {t: s for t, s in T2S.items() if t != s}

# Look-alikes used in traffic: Cyrillic / Greek -> Latin.
HOMO = {"а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "х": "x", "у": "y", "і": "i",
        "ο": "o", "ν": "v", "α": "a", "ρ": "p", "ѕ": "s", "ј": "j", "һ": "h", "ԁ": "d"}
HOMO_REV = {}
for _k, _v in HOMO.items():
    HOMO_REV.setdefault(_v, []).append(_k)

ZW = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"]
SEPS = ["·", "*", " ", ".", "-", "_", "~", "|", "/", "  ", "\u3000", "•", "\t"]


def fullwidth(s):
    return "".join("\u3000" if c == " " else chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s)


def to_trad(s):
    return "".join(S2T.get(c, c) for c in s)


def trad_chars(s):
    return sum(1 for c in s if c in S2T)


def encodable(s, enc):
    try:
        s.encode(enc)
        return True
    except UnicodeEncodeError:
        return False


def norm(s):
    s = unicodedata.normalize("NFKC", s)
    s = unicodedata.normalize("NFKC", s.casefold())
    out = []
    for c in s:
        c = T2S.get(c, c)
        c = HOMO.get(c, c)
        cat = unicodedata.category(c)
        if cat[0] in "LN":
            out.append(c)
    return "".join(out)


class Rule:
    def __init__(self, rid, cat, kind, pat, raw=False, flags="", sev=None, msg=None, lang="cn",
                 src=None):
        self.id, self.cat, self.kind, self.pat, self.raw = rid, cat, kind, pat, raw
        self.flags, self.sev, self.msg, self.lang = flags, sev, msg, lang
        self.src = src  # how the pattern is written in the file (escapes), or None
        if kind == "lit" and not raw:
            self.npat = norm(pat)
        if kind == "re":
            self.rx = re.compile(pat, (re.I if "i" in flags else 0) | (re.S if "s" in flags else 0)
                                 | (re.M if "m" in flags else 0))

    def line(self):
        if self.kind == "re":
            p = "/" + self.pat.replace("/", "\\/") + "/" + self.flags
        else:
            p = self.src if self.src is not None else '"' + esc_lit(self.pat) + '"'
        s = "%d %s %s" % (self.id, self.cat, p)
        if self.sev is not None:
            s += " sev=%d" % self.sev
        if self.raw:
            s += " raw"
        if self.msg:
            s += ' msg="%s"' % self.msg.replace("\\", "\\\\").replace('"', '\\"')
        return s


def esc_lit(p):
    if isinstance(p, bytes):
        return "".join(chr(b) if 0x20 <= b < 0x7F and chr(b) not in '"\\' else "\\x%02X" % b
                       for b in p)
    return p.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")


class RefMatcher:
    def __init__(self, rules):
        self.text = [r for r in rules if not r.raw]
        self.raw = [r for r in rules if r.raw]

    def text_hits(self, s):
        """Rule ids matching decoded text s (one HTTP message body / header block
        / text stream).  Regexes are tried on s and on norm(s)."""
        n = norm(s)
        hits = set()
        for r in self.text:
            if r.kind == "lit":
                if r.npat and r.npat in n:
                    hits.add(r.id)
            elif r.rx.search(s) or r.rx.search(n):
                hits.add(r.id)
        return hits

    def raw_hits(self, b):
        hits = set()
        for r in self.raw:
            if r.pat in b:
                hits.add(r.id)
        return hits
