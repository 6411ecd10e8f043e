#!/usr/bin/env python3
"""gen_bench.py - benchmark inputs for tapsift.

usage: bench/gen_bench.py OUTDIR [--mb 100] [--seed 7] [--sizes 10k,100k,1m] [--no-rules]

OUTDIR/traffic.pcap        >= --mb MB (file size) of mixed Chinese/English text
                           traffic: many TCP flows (HTTP/1.1 with Content-Length
                           and plain text), 1400-byte segments, ACKs, handshakes
OUTDIR/traffic.txt         the same payload text (HTTP bodies and plain payloads,
                           no headers), for `grep -F`
OUTDIR/rules-10k.rules     literal rules (CN+EN mixed, 4-12 chars, unique ids);
OUTDIR/rules-100k.rules    the sets are nested: the first 10k of the 100k file
OUTDIR/rules-1m.rules      are the 10k file, and so on
OUTDIR/patterns-10k.txt    the same literals, one per line, for `grep -F -f`
...
OUTDIR/planted.txt         how many signature hits were planted (rules 1..1000)
Deterministic from --seed; pure Python, writes ~100 MB in a few seconds.
"""
import argparse
import os
import random
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "gen"))
import textgen as tg  # noqa: E402

# ~600 common Chinese characters for literals and text
_CN = (
    "的一是了我不人在他有这个上们来到时大地为子中你说生国年着就那和要她出也得里后自以会家可下而过天去能对小多然于心学么之都好看起发当没成只如事把还用第样道想作种开美总从无情己面最女但现前些所同日手又行意动方期它头经长儿回位分爱老因很给名法间斯知世什两次使身者被高已亲其进此话常与活正感见明问力理尔点文几定本公特做外孩相西果走将月十实向声车全信重三机工物气每并别真打太新比才便夫再书部水像眼等体却加电主界门利海受听表德少克代员许稜先口由死安写性马光白或住难望教命花结乐色更拉东神记处让母父应直字场平报友关放至张认接告入笑内英军候民岁往何度山觉路带万男边风解叫任金快原吃妈变通师立象数四失满战远格士音轻目条呢病始达深完今提求清王化空业思切怎非找片罗钱紶吗语元喜曾离飞科言干流欢约各即指合反题必该论交终林请医晚制球决窢传画保读运及则房早院量苦火布品近坐产答星精视五连司巴奇管类未朋且婚台夜青北队久乎越观落尽形影红爸百令周吧识步希亚术留市半热送兴造谈容极随演收首根讲整式取照办强石古华諣拿计您装似足双妻尼转诉米称丽客南领节衣站黑刻统断福城故历惊脸选包紧争另建维绝树系伤示愿持千史谁准联妇纪基买志静阿诗独复痛消社算义竟确酒需单治卡幸兰念举仅钟怕共毛句息功官待究跟穿室易游程号居考突皮哪费倒价图具刚脑永歌响商礼细专黄块脚味灵改据般破引食仍存众注笔甚某沉血备习校默务土微娘须试怀料调广蜖苏显赛查密议底列富梦错座参八除跑亮假印设线温虽掉京初养香停际致阳纸李纳验助激够严证帝饭忘趣支春集丈木研班普导顿睡展跳获艺六波察群皇段急庭创区奥器谢弟店否害草排背止组州朝封睛板角况曲馆育忙质河续哥呼若推境遇雨标姐充围案伦护冷警贝著雪索剧啊船险烟依斗值帮汉慢佛肯闻唱沙局伯族低玩资屋击速顾泪洲团圣旁堂兵七露园牛哭旅街劳型烈姑陈莫鱼异抱宝权鲁简态级票怪寻杀律胜份汽右洋范床舞秘午登楼贵吸责例追较职属渐左录丝牙党继托赶章智冲叶胡吉卖坚喝肉遗救修松临藏担戏善卫药悲敢靠伊村戴词森耳差短祖云规窗散迷油旧适乡架恩投弹铁博雷府压超负勒杂醒洗采毫嘴毕九冰既状乱景席珍童顶派素脱农疑练野按犯拍征坏骨余承置臓彩灯巨琴免环姆暗换技翻束增忍餐洛塞缺忆判欧层付阵玛批岛项狗休懂武革良恶恋委拥娜妙探呀营退摇弄桌熟诺宣银势奖宫忽套康供优课鸟喊降夏困刘罪亡鞋健模败伴守挥鲜财孤枪禁恐伙杰迹妹藸遍盖副坦牌江顺秋萨菜划授归浪听凡预奶雄升碃编典袋莱含盛济蒙棋端腿招释介烧误")
CN_CHARS = "".join(c for c in dict.fromkeys(_CN) if c not in "稜紶窢諣蜖臓藸碃")
EN_WORDS = ("free bonus verify wallet deepfake voice clone crypto prize winner claim reward urgent account "
            "refund gift card bitcoin invest profit guaranteed double instant secret exclusive limited offer "
            "loan password unlock airdrop token celebrity jackpot cashback payout lottery the meeting agenda "
            "weather report project team lunch schedule update review notes office garden music travel coffee "
            "library river mountain morning evening kitchen window table paper green yellow quiet simple "
            "number picture story history science lesson student teacher apple banana orange bread butter "
            "tomato potato winter summer autumn spring bicycle train station harbor island forest valley "
            "pencil notebook chair sofa lamp friday monday sunday cloudy rainy sunny market price order "
            "delivery customer service support contact email phone address city street school hospital").split()
# letters no word starts with: a literal's tail begins with one of them
NOSTART = "".join(c for c in "abcdefghijklmnopqrstuvwxyz" if not any(w[0] == c for w in EN_WORDS))
CATS_CN = ["fraud", "deepfake_ad", "aigc_template"]
CATS_EN = ["scam_en", "phishing"]


def cat(lit, i):
    return CATS_EN[i % 2] if lit[0].isascii() else CATS_CN[i % 3]


def csum(b):
    if len(b) & 1:
        b += b"\0"
    s = sum(memoryview(b).cast("H"))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    s = ((s & 0xFF) << 8) | (s >> 8)
    return (~s) & 0xFFFF


def make_literals(rng, n):
    """n unique literals, 4-12 characters, about half Chinese, half English."""
    out, seen = [], set()
    lo = "abcdefghijklmnopqrstuvwxyz"
    t0 = time.time()
    # bulk randomness: one long random string per kind, cut into literals
    while len(out) < n:
        want = n - len(out)
        k = want // 2 + 16
        cn_lens = rng.choices(range(4, 9), k=k)
        big = "".join(rng.choices(CN_CHARS, k=sum(cn_lens)))
        pos = 0
        cn = []
        for ln in cn_lens:
            cn.append(big[pos:pos + ln])
            pos += ln
        words = rng.choices(EN_WORDS, k=k * 3)
        tails = rng.choices(lo, k=k * 3)
        en = []
        for j in range(k):
            w = words[3 * j]
            if len(w) < 9:
                w = w + " " + words[3 * j + 1]
            # <= 9 characters of words, then 3 random letters: the text is made
            # of the same words, so without the tail a literal would hit
            # everywhere (separators are dropped before matching)
            w = w[:9].rstrip()
            w += NOSTART[j % len(NOSTART)] + "".join(tails[3 * j:3 * j + 2])
            en.append(w)
        for a, b in zip(cn, en):
            for lit in (a, b):
                if lit not in seen and len(out) < n:
                    seen.add(lit)
                    out.append(lit)
        print("  literals: %d (%.1fs)" % (len(out), time.time() - t0), file=sys.stderr)
    return out


def text_pool(rng, mb):
    """A pool of mixed-language sentences; payloads are slices of it."""
    sents = []
    total = 0
    while total < mb * 1024 * 1024:
        if rng.random() < 0.55:
            s = "".join(rng.choices(CN_CHARS, k=rng.randint(8, 40))) + rng.choice("，。！？；") + "\n" * (rng.random() < 0.2)
        else:
            s = " ".join(rng.choices(EN_WORDS, k=rng.randint(5, 18))).capitalize() + rng.choice(". ! ? ,") + \
                ("\n" if rng.random() < 0.2 else " ")
        b = s.encode()
        sents.append(b)
        total += len(b)
    bounds = [0]
    for b in sents:
        bounds.append(bounds[-1] + len(b))
    return b"".join(sents), bounds


class Writer:
    def __init__(self, path):
        self.f = open(path, "wb", buffering=1 << 22)
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        self.ts = 1_710_000_000_000_000
        self.bytes = 24
        self.pkts = 0

    def pkt(self, src, dst, sport, dport, seq, ack, flags, payload=b""):
        tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 0x50, flags,
                          65535, 0, 0)
        c = csum(src + dst + struct.pack("!BBH", 0, 6, 20 + len(payload)) + tcp + payload)
        tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40 + len(payload), self.pkts & 0xFFFF, 0x4000, 64, 6, 0,
                         src, dst)
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        frame = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00" + ip + tcp + payload
        self.ts += 7
        self.f.write(struct.pack("<IIII", self.ts // 1_000_000, self.ts % 1_000_000, len(frame), len(frame)))
        self.f.write(frame)
        self.bytes += 16 + len(frame)
        self.pkts += 1


class TcpFlow:
    def __init__(self, w, rng, idx, http):
        self.w = w
        self.c = bytes([10, (idx >> 16) & 0xFF, (idx >> 8) & 0xFF, idx & 0xFF or 1])
        self.s = bytes([198, 18, (idx >> 8) & 0xFF, (idx & 0xFF) or 1])
        self.cp = 1024 + (idx * 7919) % 60000
        self.sp = 80 if http else rng.choice([25, 110, 5222, 9000])
        self.seq = [rng.randrange(1 << 32), rng.randrange(1 << 32)]
        self.segs = []  # pending (dir, payload)

    def ends(self, d):
        return (self.c, self.s, self.cp, self.sp) if d == 0 else (self.s, self.c, self.sp, self.cp)

    def send(self, d, data, ack_every=4):
        """Queues data of direction d as 1400-byte segments (+ receiver ACKs)."""
        for i in range(0, len(data), 1400):
            self.segs.append((d, data[i:i + 1400]))
            if (i // 1400) % ack_every == ack_every - 1:
                self.segs.append((1 - d, None))

    def handshake(self):
        w, (c, s, cp, sp) = self.w, self.ends(0)
        w.pkt(c, s, cp, sp, self.seq[0], 0, 0x02)
        w.pkt(s, c, sp, cp, self.seq[1], self.seq[0] + 1, 0x12)
        self.seq = [self.seq[0] + 1, self.seq[1] + 1]
        w.pkt(c, s, cp, sp, self.seq[0], self.seq[1], 0x10)

    def step(self, n=4):
        """Writes up to n queued segments; returns False when done."""
        for _ in range(n):
            if not self.segs:
                a, b, ap, bp = self.ends(0)
                self.w.pkt(a, b, ap, bp, self.seq[0], self.seq[1], 0x11)
                self.w.pkt(b, a, bp, ap, self.seq[1], self.seq[0] + 1, 0x11)
                self.w.pkt(a, b, ap, bp, self.seq[0] + 1, self.seq[1] + 1, 0x10)
                return False
            d, p = self.segs.pop(0)
            a, b, ap, bp = self.ends(d)
            if p is None:
                self.w.pkt(a, b, ap, bp, self.seq[d], self.seq[1 - d], 0x10)
            else:
                self.w.pkt(a, b, ap, bp, self.seq[d], self.seq[1 - d], 0x18, p)
                self.seq[d] += len(p)
        return True


def gen_traffic(out, rng, mb, planted_lits):
    t0 = time.time()
    pool, bounds = text_pool(rng, 4)
    w = Writer(os.path.join(out, "traffic.pcap"))
    txt = open(os.path.join(out, "traffic.txt"), "wb", buffering=1 << 22)
    target = mb * 1024 * 1024
    live, idx, planted, last = [], 0, 0, 0
    nb = len(bounds) - 1
    while w.bytes < target or live:
        while w.bytes < target and len(live) < 32:
            idx += 1
            http = rng.random() < 0.6
            f = TcpFlow(w, rng, idx, http)
            size = int(rng.choice([2, 8, 32, 128, 512]) * 1024 * (0.5 + rng.random()))
            i = rng.randrange(nb)
            j = i
            while j < nb and bounds[j] - bounds[i] < size:
                j += 1
            body = pool[bounds[i]:bounds[j]]
            # plant signatures at about one per 256 KiB
            k = int(len(body) / (256 * 1024) + rng.random())
            if k:
                parts, prev = [], 0
                cuts = sorted(rng.sample(range(i, j), min(k, j - i)))
                for cpos in cuts:
                    parts.append(pool[bounds[i] + prev:bounds[cpos]])
                    parts.append(rng.choice(planted_lits).encode())
                    prev = bounds[cpos] - bounds[i]
                    planted += 1
                parts.append(pool[bounds[i] + prev:bounds[j]])
                body = b"".join(parts)
            txt.write(body)
            f.handshake()
            if http:
                f.send(0, b"GET /article/%d.html HTTP/1.1\r\nHost: news%d.example\r\nUser-Agent: bench\r\n"
                       b"Accept: text/html\r\n\r\n" % (idx, idx % 97))
                f.send(1, b"HTTP/1.1 200 OK\r\nContent-Type: text/%s; charset=utf-8\r\nContent-Length: %d\r\n\r\n"
                       % (rng.choice([b"html", b"plain"]), len(body)) + body)
            else:
                hello = pool[bounds[j]:bounds[min(nb, j + 3)]]
                txt.write(hello)
                f.send(0, hello)
                f.send(1, body)
            live.append(f)
        if not live:
            break
        f = rng.choice(live)
        if not f.step(rng.randint(1, 6)):
            live.remove(f)
        if w.bytes - last > 10 * 1024 * 1024:
            last = w.bytes
            print("  traffic: %d MB, %d flows, %.1fs" % (w.bytes >> 20, idx, time.time() - t0), file=sys.stderr)
    w.f.close()
    txt.close()
    print("traffic.pcap: %d bytes, %d packets, %d flows, %d planted hits (%.1fs)" % (
        w.bytes, w.pkts, idx, planted, time.time() - t0), file=sys.stderr)
    return planted


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--mb", type=int, default=100)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--sizes", default="10k,100k,1m")
    ap.add_argument("--no-rules", action="store_true")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rng = random.Random(a.seed)
    sizes = []
    for s in a.sizes.split(","):
        s = s.strip().lower()
        n = int(s.rstrip("km")) * (1000 if s.endswith("k") else 1_000_000 if s.endswith("m") else 1)
        sizes.append((s, n))
    t0 = time.time()
    lits = make_literals(random.Random(a.seed + 1), max(n for _, n in sizes) if sizes else 1000)
    print("literals: %d in %.1fs" % (len(lits), time.time() - t0), file=sys.stderr)
    if not a.no_rules:
        for name, n in sizes:
            with open(os.path.join(a.out, "rules-%s.rules" % name), "w", encoding="utf-8") as r, \
                    open(os.path.join(a.out, "patterns-%s.txt" % name), "w", encoding="utf-8") as p:
                r.write("# generated by bench/gen_bench.py --seed %d: %d literals\n" % (a.seed, n))
                r.writelines("%d %s \"%s\"\n" % (i + 1, cat(lits[i], i), lits[i]) for i in range(n))
                p.writelines(lits[i] + "\n" for i in range(n))
            print("rules-%s.rules: %d rules" % (name, n), file=sys.stderr)
    planted = gen_traffic(a.out, rng, a.mb, lits[:1000])
    with open(os.path.join(a.out, "planted.txt"), "w") as fh:
        fh.write("%d planted hits of rules 1..1000\n" % planted)
    print("done in %.1fs" % (time.time() - t0), file=sys.stderr)


if __name__ == "__main__":
    main()
