#!/usr/bin/env python3
"""sample.py - writes rules/sample.pcap, the bundled demo capture for rules/sample.rules.

usage: tests/gen/sample.py [OUT.pcap]      (default rules/sample.pcap)
Each flow exercises one decoding/normalization feature with one sample rule;
a few flows are clean or near misses.  With --expected it prints the expected
(rule id, direction) list.
"""
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import corpus as C  # noqa: E402
import pcapgen as pg  # noqa: E402
import textgen as tg  # noqa: E402


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    out = args[0] if args else os.path.join(HERE, "..", "..", "rules", "sample.pcap")
    rng = random.Random(2024)
    flows, expected = [], []
    port = [41000]

    def tcp_flow(msgs, hits, v6=False, net=None, seg=1400, hook=None, label=""):
        port[0] += 1
        if v6:
            cli, srv = "2001:db8:10::%x" % port[0], "2001:db8:200::80"
        else:
            cli, srv = "10.0.%d.%d" % (port[0] % 200, 10 + len(flows)), "198.51.100.%d" % (10 + len(flows) % 200)
        evs = pg.segment_messages(msgs, seg)
        if hook:
            evs = hook(evs)
        s = pg.TcpSession((cli, port[0]), (srv, 80 if any(m[1][:4] in (b"GET ", b"POST") for m in msgs) else 8000), rng)
        flows.append(s.render(net or pg.Net(), evs))
        for d, rid in hits:
            expected.append((rid, label, d))

    def http(body, hits, label, **kw):
        req, _ = C.http_req("GET", "/news/%d.html" % len(flows), host="shop.example")
        resp, _ = C.http_resp(body, **kw)
        tcp_flow([(0, req), (1, resp)], [(1, h) for h in hits], label=label)

    def fill(lang, n=12):
        return C.filler(rng, lang, n)

    cn, en = "cn", "en"
    # 1 plain chat, client -> server
    tcp_flow([(0, (fill(cn) + "今天免费领取红包，" + fill(cn) + "\n").encode()), (1, (fill(cn) + "\n").encode())],
             [(0, 1001)], label="plain")
    # 2 gzip body
    http((fill(cn) + "请把钱转入安全账户转账完成" + fill(cn)).encode(), [1002], "gzip", encs=("gzip",))
    # 3 chunked, split across a chunk boundary
    b = (fill(cn, 6) + "验证码发给客服即可" + fill(cn, 6)).encode()
    http(b, [1003], "chunked", chunks=[b.index("发".encode()) + 1, 4096])
    # 4 GBK
    http((fill(cn) + "招聘刷单返利兼职" + fill(cn)).encode("gbk"), [1004], "gbk",
         ctype="text/plain; charset=gbk")
    # 5 Big5, traditional
    t = tg.to_trad(fill(cn, 6)) if False else "今天天氣很好"
    http((t + "退款理賠專員來電" + "請注意").encode("big5"), [1009], "big5", ctype="text/html; charset=big5")
    # 6 full-width English
    http((fill(en) + " " + tg.fullwidth("Claim your FREE bonus") + " " + fill(en)).encode(), [2002], "fullwidth")
    # 7 zero-width characters
    http((fill(cn) + C.insert_between(rng, "无抵押秒到账", tg.ZW) + fill(cn)).encode(), [1005], "zwsp")
    # 8 homoglyphs (Cyrillic)
    http((fill(en) + " Please vеrify yоur wаllеt today " + fill(en)).encode(), [2001], "homoglyph")
    # 9 separators
    http((fill(cn) + "内·部·名·额·稳·赚" + fill(cn)).encode(), [1006], "separators")
    # 10 UDP
    port[0] += 1
    p = (fill(en) + " double your BITCOIN now " + fill(en)).encode()
    flows.append(pg.udp_frames(pg.Net(), "10.0.9.9", "203.0.113.53", port[0], 5353, [p]))
    expected.append((2005, "udp", 0))
    # 11 IPv6 with extension headers
    tcp_flow([(0, b"HELLO\r\n"), (1, ("限时AI换脸定制服务" + fill(cn)).encode())], [(1, 3001)], v6=True,
             net=pg.Net(v6ext=[("hop", 0), ("dst", 0)]), label="ipv6")
    # 12 VLAN
    tcp_flow([(0, b"HELLO\r\n"), (1, ("提供声音克隆服务" + fill(cn)).encode())], [(1, 3002)],
             net=pg.Net(vlans=[(0x8100, 42)]), label="vlan")
    # 13 url-encoded form POST
    body = ("q=" + C.pct("解冻保证金怎么交".encode())).encode()
    req, _ = C.http_req("POST", "/ask", body=body, ctype="application/x-www-form-urlencoded")
    resp, _ = C.http_resp(b"thanks")
    tcp_flow([(0, req), (1, resp)], [(0, 1007)], label="urlenc")
    # 14 HTML entities + tags
    http(("<html><body><p>" + fill(cn) + "&#26126;星代<b>言</b>视&#x9891;生成</p></body></html>").encode(),
         [3003], "html", ctype="text/html; charset=utf-8")
    # 15 regexes
    tcp_flow([(0, b"EHLO demo\r\n"), (1, ("Notice: verify your account within 24 hours or lose access\n").encode())],
             [(1, 5001)], label="regex")
    tcp_flow([(0, ("详情加微信vip88886666\n").encode()), (1, b"ok\n")], [(0, 5002)], label="regex")
    # 16 raw marker in a request header
    req, _ = C.http_req("GET", "/probe", extra=["X-Tapsift-Demo: 1"])
    resp, _ = C.http_resp(fill(en).encode())
    tcp_flow([(0, req), (1, resp)], [(0, 9001)], label="raw")
    # 17 1-byte segments, out of order
    tcp_flow([(0, b"hi\n"), (1, ("guaranteed crypto profit " + fill(en)).encode())], [(1, 2004)], seg=1,
             label="split")
    tcp_flow([(0, b"hi\n"), (1, ("ACCOUNT suspended, click here " + fill(en)).encode())], [(1, 2003)], seg=3,
             hook=lambda evs: pg.shuffle_window(evs, 6, rng), label="ooo")
    # 18 deflate / br / html tags / case / traditional / pipelined
    http(("deepfake video service " + fill(en)).encode(), [3004], "deflate", encs=("deflate",))
    if C.brotli is not None:
        http(("we voice clone any celebrity " + fill(en)).encode(), [3005], "br", encs=("br",))
    else:
        http(("we voice clone any celebrity " + fill(en)).encode(), [3005], "gzip", encs=("gzip",))
    http(("<p>一键<i>生成</i>爆款文案</p>").encode(), [4001], "html", ctype="text/html; charset=utf-8")
    http(("URGENT Refund Gift Card " + fill(en)).encode(), [2006], "case")
    http(("專業帶單導師" + "今天").encode("big5"), [1008], "traditional", ctype="text/plain; charset=big5")
    q1, _ = C.http_req("GET", "/a")
    q2, _ = C.http_req("GET", "/b")
    r1, _ = C.http_resp(fill(cn).encode())
    r2, _ = C.http_resp(("高额回报日结" + fill(cn)).encode(), chunks=[5])
    tcp_flow([(0, q1 + q2), (1, r1 + r2)], [(1, 1010)], label="pipelined")
    tcp_flow([(0, b"hi\n"), (1, ("As an AI language model, I cannot " + fill(en)).encode())], [(1, 4002)],
             label="plain")
    tcp_flow([(0, ("一键代写论文，" + fill(cn)).encode()), (1, b"ok\n")], [(0, 4003)], label="plain")
    tcp_flow([(0, b"hi\n"), (1, ("free airdrop: enter your seed phrase airdrop form " + fill(en)).encode())],
             [(1, 2007)], label="plain")
    # 19 clean traffic and near misses: no verdicts
    for _ in range(4):
        http((fill(cn, 40)).encode(), [], "clean")
        http((fill(en, 40)).encode(), [], "clean")
    tcp_flow([(0, ("免费领取" + fill(cn)).encode()), (1, ("红包" + fill(cn)).encode())], [], label="cross-direction")
    http(("免费领取红色" + fill(cn)).encode(), [], "near-miss")

    rng.shuffle(flows)
    order, live, pos = [], [], {}
    pending = list(range(len(flows)))
    while pending or live:
        while pending and len(live) < 6:
            k = pending.pop()
            live.append(k)
            pos[k] = 0
        k = rng.choice(live)
        order.append(flows[k][pos[k]])
        pos[k] += 1
        if pos[k] == len(flows[k]):
            live.remove(k)
    ts = 1_735_689_600_000_000_000
    with open(out, "wb") as fh:
        w = pg.PcapWriter(fh)
        for fr in order:
            ts += rng.randrange(50_000, 900_000)
            w.write(ts, fr)
    if "--expected" in sys.argv:
        for rid, label, d in sorted(expected):
            print(rid, label, "client->server" if d == 0 else "server->client")
    print("%s: %d packets, %d flows, %d expected verdicts" % (out, len(order), len(flows), len(expected)),
          file=sys.stderr)


if __name__ == "__main__":
    main()
