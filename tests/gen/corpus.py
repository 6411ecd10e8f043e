#!/usr/bin/env python3
"""corpus.py - build a labelled evaluation corpus for tapsift.

usage: corpus.py OUTDIR [--seed N] [--link ethernet|sll|raw] [--format pcap|pcapng]
                 [--per-case N] [--cases a,b,...] [--list-cases]

OUTDIR/traffic.pcap     the capture
OUTDIR/rules.rules      the rules
OUTDIR/expected.jsonl   one line per expected verdict:
                        {proto, src_ip, src_port, dst_ip, dst_port, rule_id, case}
OUTDIR/negatives.jsonl  flow directions where nothing may match: {proto, 5-tuple, case}
Everything is deterministic from --seed.  Every flow direction's decoded text is
checked with a reference matcher (textgen.RefMatcher) so that it holds exactly
the planted signatures; the expected set is therefore exact.
"""
import argparse
import gzip
import json
import os
import random
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pcapgen as pg  # noqa: E402
import textgen as tg  # noqa: E402

try:
    import brotli  # python3-brotli
except ImportError:  # pyenv interpreters do not see Debian's dist-packages
    sys.path.append("/usr/lib/python3/dist-packages")
    try:
        import brotli
    except ImportError:
        brotli = None


class Regen(Exception):
    pass


# ------------------------------------------------------------------ rules

def make_rules(rng):
    rules, used, ids = [], set(), set()

    def nid():
        while True:
            i = rng.randrange(1000, 3_000_000_000)
            if i not in ids:
                ids.add(i)
                return i

    def ok(npat):
        if npat in used:
            return False
        for u in used:
            if npat in u or u in npat:
                return False
        return True

    cn_cats = ["fraud", "deepfake_ad", "aigc-template", "scam"]
    while sum(1 for r in rules if r.lang == "cn") < 40:
        n = rng.choice([2, 2, 3, 3, 4])
        p = "".join(rng.sample(tg.CN_SCAM, n))
        if len(p) > 12:
            continue
        np_ = tg.norm(p)
        if not ok(np_):
            continue
        used.add(np_)
        rules.append(tg.Rule(nid(), rng.choice(cn_cats), "lit", p, lang="cn",
                             sev=rng.choice([None, 1, 2, 3, 4, 5])))
    while sum(1 for r in rules if r.lang == "en") < 30:
        n = rng.choice([2, 3, 3, 4])
        p = " ".join(rng.sample(tg.EN_SCAM, n))
        np_ = tg.norm(p)
        if not ok(np_):
            continue
        used.add(np_)
        rules.append(tg.Rule(nid(), "scam_en", "lit", p, lang="en", sev=rng.choice([None, 2, 4])))
    # a few rules written with escapes (the file text differs from the pattern)
    for r in rules[:3]:
        c0 = r.pat[0]
        r.src = '"\\u{%X}%s"' % (ord(c0), tg.esc_lit(r.pat[1:]))
    r = rules[3]
    r.src = '"' + "".join("\\x%02X" % b for b in r.pat[:2].encode()) + tg.esc_lit(r.pat[2:]) + '"'
    rules[4].msg = 'sample "quoted" message'
    # pairs of rules that overlap in text: "w1 w2" and "w2 w3" (both must fire on "w1 w2 w3")
    for lang, vocab, sep, cat in (("cn", tg.CN_SCAM, "", "fraud"), ("en", tg.EN_SCAM, " ", "scam_en")):
        made = 0
        while made < 2:
            w1, w2, w3 = rng.sample(vocab, 3)
            p1, p2 = w1 + sep + w2, w2 + sep + w3
            n1, n2 = tg.norm(p1), tg.norm(p2)
            if n1 == n2 or not ok(n1) or not ok(n2) or n1 in n2 or n2 in n1:
                continue
            used.update([n1, n2])
            a = tg.Rule(nid(), cat, "lit", p1, lang=lang + "_ov")
            b = tg.Rule(nid(), cat, "lit", p2, lang=lang + "_ov")
            a.ov = (w1, w2, w3, sep)
            rules += [a, b]
            made += 1
    # max id
    rules[5].id = 4294967295
    # regexes: written so that they hit whether the engine runs them on decoded
    # text or on normalized text (separators dropped, case folded)
    rx = [
        (r"verify\s*your\s*(wallet|account)\s*within\s*\d+\s*hours", "i", "en"),
        (r"(免费|限时)领取(ai)?换脸", "i", "cn"),
        (r"recovery\s*phrase\s*[:=]?\s*([a-z]+\s*){5}", "i", "en"),
        (r"加微信[a-z0-9_-]{6,20}", "i", "cn"),
        (r"deep\s*fake\s*(video|voice)\s*(service|studio)", "i", "en"),
    ]
    for p, f, lang in rx:
        rules.append(tg.Rule(nid(), "regex", "re", p, flags=f, lang=lang, sev=4))
    # raw rules: exact bytes of the reassembled stream
    rules.append(tg.Rule(nid(), "marker", "lit", b"X-Tsf-Probe: 7c3e9a", raw=True, lang="raw"))
    rules.append(tg.Rule(nid(), "marker", "lit", "测试标记专用".encode("gbk"), raw=True, lang="raw"))
    rules.append(tg.Rule(nid(), "marker", "lit", b"\x00\x01TSFMAGIC\xfe", raw=True, lang="raw"))
    return rules


# ------------------------------------------------------------------ text

def filler(rng, lang, n, big5=False):
    if lang == "cn":
        vocab = FILL_B5 if big5 else tg.CN_FILL
        out = []
        for i in range(n):
            out.append(rng.choice(vocab))
            if rng.random() < 0.3:
                out.append(rng.choice(tg.CN_PUNCT))
        return "".join(out)
    words = [rng.choice(tg.EN_FILL) for _ in range(n)]
    return " ".join(words) + rng.choice([".", ",", "", " -"])


FILL_B5 = [w for w in tg.CN_FILL if tg.encodable(tg.to_trad(w), "big5")]


def mix_case(rng, s):
    while True:
        t = "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in s)
        if t != s.lower():
            return t


def insert_between(rng, s, pool, prob=1.0):
    out = [s[0]]
    for c in s[1:]:
        if rng.random() < prob:
            out.append(rng.choice(pool))
        out.append(c)
    return "".join(out)


def homoglyph(rng, s):
    cs = list(s)
    idx = [i for i, c in enumerate(cs) if c in tg.HOMO_REV]
    if not idx:
        raise Regen("no homoglyph candidate")
    for i in rng.sample(idx, max(1, len(idx) // 2)):
        cs[i] = rng.choice(tg.HOMO_REV[cs[i]])
    return "".join(cs)


def html_tags(rng, s):
    i = rng.randrange(1, len(s))
    if rng.random() < 0.3:
        return s[:i] + "<!-- %s -->" % rng.choice(["x", "ad", "note: 1 < 2"]) + s[i:]
    j = min(len(s), i + rng.randrange(1, 3))
    tag = rng.choice(["b", "i", "span", "em", "font color=red", "a href=\"#x\""])
    name = tag.split()[0]
    return s[:i] + "<%s>" % tag + s[i:j] + "</%s>" % name + s[j:]


def html_entities(rng, s):
    out = []
    for c in s:
        r = rng.random()
        if c == " ":
            out.append(rng.choice(["&nbsp;", " ", "&#32;"]))
        elif r < 0.35:
            out.append("&#x%X;" % ord(c))
        elif r < 0.7:
            out.append("&#%d;" % ord(c))
        else:
            out.append({"<": "&lt;", ">": "&gt;", "&": "&amp;"}.get(c, c))
    s2 = "".join(out)
    if s2 == s:
        return "&#%d;" % ord(s[0]) + s2[1:]
    return s2


def pct(b, all_=True):
    return "".join("%%%02X" % x if (all_ or x >= 0x80 or chr(x) in "%&=+#?/ ") else chr(x) for x in b)


# ------------------------------------------------------------------ HTTP

def http_req(method="GET", target="/", host="example.test", body=b"", ctype=None, extra=()):
    h = ["%s %s HTTP/1.1" % (method, target), "Host: " + host, "User-Agent: tsf-gen/1.0",
         "Accept: */*"]
    if ctype:
        h.append("Content-Type: " + ctype)
    if body or method == "POST":
        h.append("Content-Length: %d" % len(body))
    h += list(extra)
    return ("\r\n".join(h) + "\r\n\r\n").encode() + body, "\n".join(h)


def encode_body(body, encs):
    for e in encs:
        if e == "gzip":
            body = gzip.compress(body, mtime=0)
        elif e in ("gzip-named", "x-gzip"):
            import io
            buf = io.BytesIO()
            with gzip.GzipFile(filename="page.html", mode="wb", fileobj=buf, mtime=0) as gz:
                gz.write(body)
            body = buf.getvalue()
        elif e == "deflate":
            body = zlib.compress(body)
        elif e == "deflate-raw":
            c = zlib.compressobj(6, zlib.DEFLATED, -15)
            body = c.compress(body) + c.flush()
        elif e == "br":
            body = brotli.compress(body)
    return body


CHUNK_STYLE = {"upper": False}


def chunk(body, sizes, ext=False, trailer=False):
    out, i, k = [], 0, 0
    while i < len(body):
        n = sizes[k % len(sizes)]
        k += 1
        part = body[i:i + n]
        i += n
        size = b"%x" % len(part)
        if CHUNK_STYLE["upper"]:  # upper-case hex, leading zeros
            size = b"00" + (b"%X" % len(part))
        out.append(size + (b";x=1" if ext and k == 1 else b"") + b"\r\n" + part + b"\r\n")
    out.append(b"0\r\n" + (b"X-Trailer: done\r\n" if trailer else b"") + b"\r\n")
    return b"".join(out)


def http_resp(body, ctype="text/plain; charset=utf-8", encs=(), chunks=None, extra=(),
              status="200 OK", close_delimited=False):
    enc_body = encode_body(body, encs)
    h = ["HTTP/1.1 " + status, "Server: tsf-gen", "Content-Type: " + ctype]
    if encs:
        names = {"deflate-raw": "deflate", "gzip-named": "gzip"}
        h.append("Content-Encoding: " + ", ".join(names.get(e, e) for e in encs))
    if chunks:
        h.append("Transfer-Encoding: chunked")
        wire = chunk(enc_body, chunks, ext=True, trailer=True)
    elif close_delimited:
        h.append("Connection: close")
        wire = enc_body
    else:
        h.append("Content-Length: %d" % len(enc_body))
        wire = enc_body
    h += list(extra)
    return ("\r\n".join(h) + "\r\n\r\n").encode() + wire, "\n".join(h)


# ------------------------------------------------------------------ corpus

class Flow:
    """One flow instance.  msgs: list of (dir, bytes); text[dir]: list of decoded
    text units (the reference matcher runs on each); planted[dir]: rule ids."""

    def __init__(self, case, proto="tcp", negative=False):
        self.case, self.proto, self.negative = case, proto, negative
        self.msgs = []
        self.text = [[], []]
        self.planted = [set(), set()]
        self.raw_override = None  # per-direction list of byte pieces (gaps)
        self.net = None
        self.evs_hook = None
        self.seg = 1400
        self.cuts = None
        self.handshake = True
        self.close = "fin"
        self.isn = (None, None)
        self.v6 = False
        self.udp_payloads = None  # list of (dir, bytes) for UDP flows
        self.joinable = True  # text units of a direction form one stream (no gap)
        self.addr = None  # (cli, cport, srv, sport) to reuse a 5-tuple
        self.fin_first = None  # direction whose last data segment comes after its FIN
        self.udp_nocsum = False
        self.post_frames = None  # fn(frames, session, net, addrs) -> frames
        self.detail = ""  # free text copied to expected/negatives lines
        self.exp_offset = {}  # rule id -> expected verdict offset (plain text flows)
        self.data_opts = b""


class Gen:
    def __init__(self, seed, link=pg.LINK_ETHERNET, per_case=4):
        self.rng = random.Random(seed)
        self.link = link
        self.per_case = per_case
        self.rules = make_rules(self.rng)
        self.m = tg.RefMatcher(self.rules)
        self.byid = {r.id: r for r in self.rules}
        self.lit_cn = [r for r in self.rules if r.kind == "lit" and r.lang == "cn"]
        self.lit_en = [r for r in self.rules if r.kind == "lit" and r.lang == "en"]
        self.rx = [r for r in self.rules if r.kind == "re"]
        self.raws = [r for r in self.rules if r.raw]
        self.tuples = set()
        self.flows = []  # (Flow, frames, addr info)
        self.expected, self.negatives = [], []
        self.extra_frames = []

    # --- addresses
    def addr(self, v6=False):
        r = self.rng
        while True:
            if v6:
                c = "2001:db8:%x:%x::%x" % (r.randrange(1, 0xffff), r.randrange(0xffff), r.randrange(1, 0xffff))
                s = "2001:db8:ff%02x::%x" % (r.randrange(256), r.randrange(1, 0xffff))
            else:
                c = "10.%d.%d.%d" % (r.randrange(256), r.randrange(256), r.randrange(1, 255))
                s = "%s.%d" % (r.choice(["192.0.2", "198.51.100", "203.0.113"]), r.randrange(1, 255))
            cp = r.randrange(20000, 65000)
            sp = r.choice([80, 8080, 25, 110, 5222, 9000, 443, 8000, 3128])
            t = (c, cp, s, sp)
            if t not in self.tuples:
                self.tuples.add(t)
                return t

    def pick(self, lang, pred=None):
        pool = self.lit_cn if lang == "cn" else self.lit_en
        pool = [r for r in pool if pred is None or pred(r)]
        return self.rng.choice(pool)

    # --- building one flow
    def verify_and_emit(self, f):
        r = self.rng
        v6 = f.v6
        c, cp, s, sp = f.addr or self.addr(v6)
        net = f.net or pg.Net(self.link)
        frames = []
        if f.proto == "udp":
            for d, p in f.udp_payloads:
                a, b = ((c, cp), (s, sp)) if d == 0 else ((s, sp), (c, cp))
                frames += pg.udp_frames(net, a[0], b[0], a[1], b[1], [p], f.udp_nocsum)
            if f.post_frames:
                frames = f.post_frames(frames, None, net, (c, cp, s, sp))
            # reference check per datagram
            got = [set(), set()]
            for (d, p), units in zip(f.udp_payloads, f.udp_text):
                for u in units:
                    got[d] |= self.m.text_hits(u)
                got[d] |= self.m.raw_hits(p)
        else:
            evs = pg.segment_messages(f.msgs, f.seg, f.cuts)
            if f.evs_hook:
                evs = f.evs_hook(evs)
            sess = pg.TcpSession((c, cp), (s, sp), r, *f.isn)
            frames = sess.render(net, evs, handshake=f.handshake, close=f.close, data_opts=f.data_opts,
                                 fin_first=f.fin_first)
            if f.post_frames:
                frames = f.post_frames(frames, sess, net, (c, cp, s, sp))
            got = [set(), set()]
            for d in (0, 1):
                eff = pg.effective_stream(evs, d)
                whole = b"".join(m for dd, m in f.msgs if dd == d)
                if f.raw_override is None:
                    if whole and eff != [(0, whole)]:
                        raise AssertionError("effective stream differs: %s" % f.case)
                    pieces = [whole]
                else:
                    pieces = [p for _, p in eff]
                for u in f.text[d]:
                    got[d] |= self.m.text_hits(u)
                if f.joinable and len(f.text[d]) > 1:
                    got[d] |= self.m.text_hits("".join(f.text[d]))
                for p in pieces:
                    got[d] |= self.m.raw_hits(p)
                if f.raw_override is None:
                    for rr in self.raws:
                        if rr.id in f.planted[d] and whole.count(rr.pat) == 1:
                            f.exp_offset[rr.id] = whole.index(rr.pat) + len(rr.pat)
        for d in (0, 1):
            if got[d] != f.planted[d]:
                raise Regen("%s dir %d: got %s planted %s" % (f.case, d, got[d], f.planted[d]))
        ends = [(c, cp, s, sp), (s, sp, c, cp)]
        for d in (0, 1):
            src, spt, dst, dpt = ends[d]
            base = {"proto": f.proto, "src_ip": src, "src_port": spt, "dst_ip": dst, "dst_port": dpt}
            det = {"detail": f.detail} if f.detail else {}
            for rid in sorted(f.planted[d]):
                ex = dict(det)
                if rid in f.exp_offset:
                    ex["offset"] = f.exp_offset[rid]
                self.expected.append(dict(base, rule_id=rid, case=f.case, **ex))
            if f.negative and not f.planted[d]:
                self.negatives.append(dict(base, case=f.case, **det))
        self.flows.append(frames)
        return (c, cp, s, sp)

    def build(self, fn, case, n=None):
        for i in range(n or self.per_case):
            for attempt in range(50):
                try:
                    f = fn(i)
                    if f is None:
                        break
                    f.case = case
                    self.verify_and_emit(f)
                    break
                except Regen:
                    continue
            else:
                raise RuntimeError("could not build case %s" % case)

    # --- common shapes
    def text_flow(self, case, lang, sig_doc, rid, dir_=None, nb=None, na=None):
        """A plain-text (non-HTTP) exchange: greeting from each side, the
        signature in one direction inside filler."""
        r = self.rng
        d = r.randrange(2) if dir_ is None else dir_
        f = Flow(case)
        pre = filler(r, lang, nb if nb is not None else r.randrange(3, 40))
        post = filler(r, lang, na if na is not None else r.randrange(3, 40))
        hello = [filler(r, lang, r.randrange(2, 10)) + "\n", filler(r, lang, r.randrange(2, 10)) + "\n"]
        body = pre + sig_doc + post + "\n"
        f.msgs = [(0, hello[0].encode()), (1, hello[1].encode()), (d, body.encode())]
        if r.random() < 0.5:
            f.msgs.append((1 - d, (filler(r, lang, 5) + "\n").encode()))
        for dd in (0, 1):
            f.text[dd].append("".join(m.decode() for x, m in f.msgs if x == dd))
        if rid is not None:
            f.planted[d].add(rid)
        ru = self.byid.get(rid)
        if ru is not None and ru.kind == "lit" and not ru.raw:
            # end of the match in the direction's decoded (= received) stream
            f.exp_offset = {rid: len(hello[d].encode()) + len(pre.encode()) + len(sig_doc.encode())}
        f.sig_off = len(pre.encode())  # offset inside message sig_msg
        f.sig_len = len(sig_doc.encode())
        f.sig_msg = 2
        f.sig_dir = d
        return f

    def http_flow(self, case, lang, body_text, rid, visible=None, ctype="text/plain; charset=utf-8",
                  charset="utf-8", encs=(), chunks=None, html=False, meta=None, post=False, bom=b"",
                  close_delimited=False, meta_equiv=False):
        """GET (or POST with the text as the request body) + response."""
        r = self.rng
        f = Flow(case)
        f.visible = body_text if visible is None else visible
        if html:
            if meta and meta_equiv:
                head = ("<head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=%s\">"
                        "</head>" % meta)
            elif meta:
                head = "<head><meta charset=\"%s\"></head>" % meta
            else:
                head = "<head></head>"
            parts = body_text
            doc = "<!DOCTYPE html><html>%s<body><p>%s</p></body></html>" % (head, parts)
        else:
            doc = body_text
        body = bom + doc.encode(charset)
        if post:
            wire, htxt = http_req("POST", "/submit/%d" % r.randrange(1000), body=body, ctype=ctype)
            resp, rtxt = http_resp(filler(r, lang, 6).encode(), "text/plain; charset=utf-8")
            f.msgs = [(0, wire), (1, resp)]
            f.text[0] += [htxt, f.visible]
            f.text[1] += [rtxt, resp.split(b"\r\n\r\n", 1)[1].decode()]
            if rid is not None:
                f.planted[0].add(rid)
        else:
            req, qtxt = http_req("GET", "/page/%d.html" % r.randrange(1000))
            resp, rtxt = http_resp(body, ctype, encs, chunks, close_delimited=close_delimited)
            f.msgs = [(0, req), (1, resp)]
            f.text[0].append(qtxt)
            f.text[1] += [rtxt, f.visible]
            if rid is not None:
                f.planted[1].add(rid)
        return f


# ------------------------------------------------------------------ cases

def sig_text(g, r, lang, transform=None):
    """(rule, doc-form signature, visible text) for a literal rule."""
    rule = g.pick(lang)
    s = rule.pat
    return rule, (transform(s) if transform else s)


def case_builders(g):
    r = g.rng
    B = {}

    def lang():
        return r.choice(["cn", "en"])

    def simple(transform=None, lang_=None, pred=None):
        def fn(i):
            lg = lang_ or ("cn" if i % 2 == 0 else "en")
            rule = g.pick(lg, pred)
            doc = transform(rule.pat) if transform else rule.pat
            return g.text_flow("", lg, doc, rule.id)
        return fn

    B["plain"] = simple()

    def split(i):
        f = simple()(i)
        d = f.sig_dir
        off = f.sig_off
        L = f.sig_len
        mode = i % 4
        if mode == 0:  # every byte of the signature its own segment
            cuts = list(range(off, off + L + 1))
        elif mode == 1:  # cut in the middle of the signature (maybe mid-character)
            cuts = [off + L // 2 + (1 if L > 3 else 0)]
        elif mode == 2:  # random cuts
            cuts = sorted(r.sample(range(off + 1, off + L), min(3, L - 1)))
        else:
            f.seg = 1  # the whole exchange in 1-byte segments
            return f
        f.cuts = {f.sig_msg: cuts}
        return f
    B["split"] = split

    def ooo(i):
        f = simple()(i)
        f.seg = r.choice([1, 2, 3, 5, 7])
        w = r.choice([3, 4, 6, 10])
        f.evs_hook = lambda evs: pg.shuffle_window(evs, w, r)
        return f
    B["ooo"] = ooo

    def retrans(i):
        f = simple()(i)
        f.seg = r.choice([2, 3, 4, 8])
        if i % 2:
            f.evs_hook = lambda evs: pg.add_duplicates(evs, 0.5, r)
        else:  # repacketized retransmissions: same bytes, other boundaries
            def hook(evs, d=f.sig_dir):
                for _ in range(4):
                    evs = pg.coalesce_retransmit(evs, r, d)
                return evs
            f.evs_hook = hook
        return f
    B["retrans"] = retrans

    def fin_reorder(i):
        f = simple()(i)
        # the signature's last bytes arrive after the FIN of their direction
        f.msgs = [m for m in f.msgs[:3]]
        f.text = [[], []]
        for dd in (0, 1):
            f.text[dd].append("".join(m.decode() for x, m in f.msgs if x == dd))
        body = f.msgs[2][1]
        f.cuts = {2: [f.sig_off + f.sig_len - 2]}
        f.seg = 4000
        f.fin_first = f.sig_dir
        return f
    B["fin_reorder"] = fin_reorder

    def overlap_common(i, negative):
        lg = "cn" if i % 2 == 0 else "en"
        rule = g.pick(lg)
        sig = rule.pat
        # a filler run with the same UTF-8 length as the signature
        while True:
            if lg == "cn":
                alt = "".join(r.choice("".join(tg.CN_FILL)) for _ in sig)
            else:
                alt = "".join(r.choice("bdghkmqtuwz") if c != " " else " " for c in sig)
            if len(alt.encode()) == len(sig.encode()) and tg.norm(alt) != tg.norm(sig):
                break
        first, second = (alt, sig) if negative else (sig, alt)
        f = g.text_flow("", lg, first, None if negative else rule.id)
        f.negative = negative
        d, off, L, mi = f.sig_dir, f.sig_off, f.sig_len, f.sig_msg
        m = f.msgs[mi][1]
        mstart = sum(len(x) for dd, x in f.msgs[:mi] if dd == d)
        a = max(0, off - r.randrange(1, 6))
        b = min(len(m), off + L + r.randrange(1, 6))
        f.cuts = {mi: [x for x in (a, b) if 0 < x < len(m)] + ([a // 2] if a > 2 else [])}
        f.seg = 4000
        decoy = m[a:off] + second.encode() + m[off + L:b]
        assert len(decoy) == b - a
        mode = i % 3

        def hook(evs):
            # C = segment [a,b) of the signature message; C' = decoy of it
            idx = [k for k, e in enumerate(evs) if e.dir == d and e.off == mstart + a]
            k = idx[0]
            C = evs[k]
            Cp = pg.Ev(d, mstart + a, decoy, tag="decoy")
            if mode == 0:  # in order, then the decoy retransmit of delivered data
                return evs[:k + 1] + [Cp] + evs[k + 1:]
            # out of order: C arrives before the hole before it is filled
            hole = k - 1
            while hole >= 0 and evs[hole].dir != d:
                hole -= 1
            if hole < 0:
                return evs[:k + 1] + [Cp] + evs[k + 1:]
            H = evs[hole]
            rest = evs[:hole] + evs[hole + 1:k] + evs[k + 1:]
            pos = hole
            if mode == 1:
                seq = [C, Cp, H]
            else:  # the decoy covers only the tail of C
                cut = r.randrange(1, max(2, len(decoy) - 1))
                Cp2 = pg.Ev(d, mstart + a + cut, decoy[cut:], tag="decoy")
                seq = [C, Cp2, Cp, H]
            return rest[:pos] + seq + rest[pos:]
        f.evs_hook = hook
        return f
    B["overlap"] = lambda i: overlap_common(i, False)

    def udp(i):
        lg = "cn" if i % 2 == 0 else "en"
        rule = g.pick(lg)
        f = Flow("", proto="udp")
        f.v6 = i % 3 == 2
        d = r.randrange(2)
        pays, texts = [], []
        for k in range(3):
            t = filler(r, lg, r.randrange(3, 20))
            if k == 1:
                t = filler(r, lg, 4) + rule.pat + filler(r, lg, 4)
            pays.append(((d if k == 1 else r.randrange(2)), t.encode()))
            texts.append([t])
        f.udp_payloads, f.udp_text = pays, texts
        f.planted[d].add(rule.id)
        f.udp_nocsum = i % 4 == 3
        return f
    B["udp"] = udp

    # IP fragments: a UDP datagram or TCP segments cut into fragments, in
    # various orders (the reassembled bytes must carry the signature)
    frag_orders = ["inorder", "reverse", "shuffle", "first_last", "overlap_junk", "dup", "tiny"]

    def fragments(i):
        lg = "cn" if i % 2 == 0 else "en"
        order = frag_orders[(i + i // 4) % len(frag_orders)]
        size = 8 if order == "tiny" else r.choice([64, 128, 248, 512])
        rule = g.pick(lg)
        if (i // 2) % 2 == 0:
            f = Flow("", proto="udp")
            d = r.randrange(2)
            t = filler(r, lg, r.randrange(20, 80)) + rule.pat + filler(r, lg, r.randrange(20, 80))
            f.udp_payloads, f.udp_text = [(d, t.encode())], [[t]]
            f.planted[d].add(rule.id)
        else:
            f = g.text_flow("", lg, rule.pat, rule.id, nb=r.randrange(20, 60), na=r.randrange(20, 60))
        f.v6 = i % 3 == 2
        # the message with the signature must be cut: at least 2 fragments
        L = len(f.udp_payloads[0][1]) + 8 if f.proto == "udp" else len(f.msgs[f.sig_msg][1]) + 20
        size = min(size, max(8, L // 2 // 8 * 8))
        f.detail = "%s %s/%d" % (f.proto, order, size)
        f.post_frames = lambda frames, sess, net, addrs: pg.fragment_frames(net, frames, size, order, r)
        return f
    B["fragments"] = fragments

    def ipv6(i):
        f = simple()(i)
        f.v6 = True
        exts = [[], [("hop", 0)], [("dst", 1)], [("route", 1)], [("hop", 0), ("route", 1), ("dst", 0)]]
        f.net = pg.Net(g.link, v6ext=exts[i % len(exts)])
        if i % 2 == 1:
            f.seg = 5
        return f
    B["ipv6"] = ipv6

    if g.link == pg.LINK_ETHERNET:
        def vlan(i):
            f = simple()(i)
            f.net = pg.Net(g.link, vlans=[(0x8100, r.randrange(1, 4095))],
                           v4opts=(b"\x01\x01\x01\x00" if i % 2 else b""))
            f.v6 = i % 3 == 2
            return f
        B["vlan"] = vlan

        def qinq(i):
            f = simple()(i)
            outer = 0x88A8 if i % 3 else 0x8100
            f.net = pg.Net(g.link, vlans=[(outer, r.randrange(1, 4095)), (0x8100, r.randrange(1, 4095))])
            f.v6 = i % 2 == 1
            return f
        B["qinq"] = qinq

    def midstream(i):
        f = simple()(i)
        f.handshake = False
        f.close = r.choice(["fin", None, "rst"])
        return f
    B["midstream"] = midstream

    def rst_end(i):
        f = simple()(i)
        f.close = "rst"
        return f
    B["rst_end"] = rst_end

    def seqwrap(i):
        f = simple()(i)
        f.isn = ((1 << 32) - 1 - r.randrange(0, 40), (1 << 32) - 1 - r.randrange(0, 40))
        f.seg = r.choice([3, 16])
        return f
    B["seqwrap"] = seqwrap

    # --- HTTP
    def _hf(lg, visible, rid, body=None, **kw):
        return g.http_flow("", lg, body if body is not None else visible, rid, visible=visible, **kw)

    def sig_in_filler(lg, sigdoc, big5=False):
        a = filler(r, lg, r.randrange(3, 30), big5)
        b = filler(r, lg, r.randrange(3, 30), big5)
        return a, b

    def form_post(f, lg, text, raw, all_):
        """A urlencoded form POST of raw (text's bytes, no charset label) + reply."""
        enc = pct(raw, all_=all_).replace("%20", "+").replace(" ", "+")
        body = ("name=%s&msg=%s&submit=1" % (r.choice(["li", "wang", "amy"]), enc)).encode()
        req, htxt = http_req("POST", "/form", body=body, ctype="application/x-www-form-urlencoded")
        resp, rtxt = http_resp(filler(r, lg, 5).encode())
        f.msgs = [(0, req), (1, resp)]
        f.text[0] += [htxt, "name msg " + text + " submit 1"]
        f.text[1] += [rtxt, resp.split(b"\r\n\r\n", 1)[1].decode()]

    def http_chunked(i):
        lg = "cn" if i % 2 == 0 else "en"
        rule = g.pick(lg)
        a, b = sig_in_filler(lg, rule.pat)
        text = a + rule.pat + b
        body = text.encode()
        sp = len(a.encode()) + len(rule.pat.encode()) // 2 + (1 if i % 3 == 0 else 0)
        sizes = [sp, max(1, len(body) - sp)] if i % 2 == 0 else [r.choice([1, 2, 3, 5, 17])]
        CHUNK_STYLE["upper"] = i % 4 == 3
        try:
            f = _hf(lg, text, rule.id, chunks=sizes)
        finally:
            CHUNK_STYLE["upper"] = False
        return f
    B["http_chunked"] = http_chunked

    def malformed_inflow(i):
        # malformed frames on the flow's own 5-tuple, before the data, with bytes
        # at the signature's sequence numbers: accepted, they would win the
        # overlap (first copy) and destroy the signature
        f = simple()(i)
        d, off, L = f.sig_dir, f.sig_off, f.sig_len
        mstart = sum(len(x) for dd, x in f.msgs[:f.sig_msg] if dd == d)

        def post(frames, sess, net, addrs):
            c, cp, s, sp = addrs
            a, b = ((c, cp), (s, sp)) if d == 0 else ((s, sp), (c, cp))
            seq = sess.isn[d] + 1 + mstart + off
            ack = sess.isn[1 - d] + 1
            junk = b"Z" * L
            bad = []
            t_small = pg.tcp(a[0], b[0], a[1], b[1], seq - 12, ack, pg.ACK | pg.PSH, b"\0" * 12 + junk,
                             doff_override=2)
            bad.append(net.frame(net.ip(a[0], b[0], 6, t_small), d == 0))
            t_beyond = pg.tcp(a[0], b[0], a[1], b[1], seq, ack, pg.ACK | pg.PSH, junk[:4], doff_override=15)
            bad.append(net.frame(net.ip(a[0], b[0], 6, t_beyond), d == 0))
            seg = pg.tcp(a[0], b[0], a[1], b[1], seq, ack, pg.ACK | pg.PSH, junk)
            if ":" not in a[0]:
                bad.append(net.frame(pg.ipv4(a[0], b[0], 6, seg, ihl_override=3), d == 0))
                bad.append(net.frame(pg.ipv4(a[0], b[0], 6, seg, total_len_override=30), d == 0))
            bad.append(net.frame(net.ip(a[0], b[0], 6, seg[:13]), d == 0))
            k = 3 if f.handshake else 0
            return frames[:k] + bad + frames[k:]
        f.post_frames = post
        f.v6 = i % 3 == 2
        return f
    B["malformed_inflow"] = malformed_inflow

    def http_truncated(i):
        # the connection ends before the announced body does: what was decoded
        # (signature included) still counts
        lg = "cn" if i % 2 == 0 else "en"
        rule = g.pick(lg)
        a = filler(r, lg, r.randrange(3, 10))
        tail = filler(r, lg, 3000)
        text = a + rule.pat + tail
        encs = [(), ("gzip",), ("deflate",)][i % 3]
        f = _hf(lg, text, rule.id, encs=encs)
        head, body = f.msgs[1][1].split(b"\r\n\r\n", 1)
        # keep enough of the (compressed) body to hold the signature
        keep = len(body) // 2 if not encs else max(len(body) - 400, len(body) * 3 // 4)
        f.msgs[1] = (1, head + b"\r\n\r\n" + body[:keep])
        f.close = "fin" if i % 2 == 0 else "rst"
        # the reference text is what a streaming decoder can emit from the kept bytes
        if encs:
            import zlib as _z
            d = _z.decompressobj(31 if encs[0] == "gzip" else 15)
            vis = d.decompress(body[:keep]).decode("utf-8", "ignore")
        else:
            vis = body[:keep].decode("utf-8", "ignore")
        if rule.pat not in vis:
            raise Regen("signature not in the kept part")
        f.text[1] = [f.text[1][0], vis]
        return f
    B["http_truncated"] = http_truncated

    def http_enc(encs_choices, ctype="text/plain; charset=utf-8"):
        def fn(i):
            lg = "cn" if i % 2 == 0 else "en"
            rule = g.pick(lg)
            a, b = sig_in_filler(lg, rule.pat)
            text = a + rule.pat + b
            encs = encs_choices[i % len(encs_choices)]
            chunks = [r.choice([7, 13, 40])] if i % 3 == 2 else None
            return _hf(lg, text, rule.id, encs=encs, chunks=chunks, ctype=ctype)
        return fn
    B["http_gzip"] = http_enc([("gzip",), ("gzip-named",), ("gzip",), ("x-gzip",)])
    B["http_deflate"] = http_enc([("deflate",), ("deflate-raw",)])
    if brotli is not None:
        B["http_br"] = http_enc([("br",)])
    B["http_stacked"] = http_enc([("deflate", "gzip"), ("gzip", "gzip")] +
                                 ([("br", "gzip")] if brotli is not None else []))

    def http_gbk(i):
        rule = g.pick("cn")
        a, b = sig_in_filler("cn", rule.pat)
        text = a + rule.pat + b
        v = i % 6
        if v == 2:  # charset only in <meta charset>
            return _hf("cn", text, rule.id, ctype="text/html", charset="gbk", html=True,
                       meta="gbk")
        if v == 5:  # charset only in <meta http-equiv>
            return _hf("cn", text, rule.id, ctype="text/html", charset="gbk", html=True,
                       meta="GB2312", meta_equiv=True)
        label = {0: "gbk", 1: "GBK; format=flowed", 3: '"gb2312"', 4: "GB18030"}[v]
        return _hf("cn", text, rule.id, ctype=("text/plain;charset=" if v != 1 else "Text/Plain; Charset=")
                   + label, charset="gbk")
    B["http_gbk"] = http_gbk

    def gbk_unlabeled(i):
        # GBK with no charset label anywhere: a text/plain body, a page whose
        # first non-ASCII byte comes after KiBs of ASCII, a form post
        rule = g.pick("cn")
        a, b = sig_in_filler("cn", rule.pat)
        text = a + rule.pat + b
        v = i % 3
        if v == 0:
            return _hf("cn", text, rule.id, ctype="text/plain", charset="gbk")
        if v == 1:
            pre = filler(r, "en", 300) + " "
            while len(pre) < 1500:
                pre += filler(r, "en", 50) + " "
            return _hf("cn", pre + text, rule.id, ctype="text/html", charset="gbk", html=True)
        f = Flow("")
        form_post(f, "cn", text, text.encode("gbk"), i % 2 == 0)
        f.planted[0].add(rule.id)
        return f
    B["gbk_unlabeled"] = gbk_unlabeled

    def http_big5(i):
        rule = g.pick("cn", lambda ru: tg.trad_chars(ru.pat) > 0 and
                      tg.encodable(tg.to_trad(ru.pat), "big5"))
        a = tg.to_trad(filler(r, "cn", r.randrange(3, 30), True))
        b = tg.to_trad(filler(r, "cn", r.randrange(3, 30), True))
        text = a + tg.to_trad(rule.pat) + b
        if not tg.encodable(text, "big5"):
            raise Regen("big5")
        label = ["big5", "Big5", "BIG5"][i % 3]
        return _hf("cn", text, rule.id, ctype="text/plain; charset=" + label, charset="big5")
    B["http_big5"] = http_big5

    def http_utf16(i):
        lg = "cn" if i % 2 == 0 else "en"
        rule = g.pick(lg)
        a, b = sig_in_filler(lg, rule.pat)
        text = a + rule.pat + b
        v = i % 3
        if v == 0:
            return _hf(lg, text, rule.id, ctype="text/plain; charset=utf-16", charset="utf-16-le",
                       bom=b"\xff\xfe")
        if v == 1:
            return _hf(lg, text, rule.id, ctype="text/plain; charset=utf-16", charset="utf-16-be",
                       bom=b"\xfe\xff")
        return _hf(lg, text, rule.id, ctype="text/plain; charset=utf-16le", charset="utf-16-le")
    B["http_utf16"] = http_utf16

    def html_case(transform):
        def fn(i):
            lg = "cn" if i % 2 == 0 else "en"
            rule = g.pick(lg)
            a, b = sig_in_filler(lg, rule.pat)
            body = a + transform(rule.pat) + b
            return _hf(lg, a + rule.pat + b, rule.id, body=body, ctype="text/html; charset=utf-8",
                       html=True)
        return fn
    B["html_tags"] = html_case(lambda s: html_tags(r, s))
    B["html_entity"] = html_case(lambda s: html_entities(r, s))

    def urlenc(i):
        lg = "cn" if i % 2 == 0 else "en"
        rule = g.pick(lg)
        a, b = filler(r, lg, 3), filler(r, lg, 3)
        text = a + rule.pat + b
        f = Flow("")
        if i % 2 == 0:  # query string
            q = pct(text.encode(), all_=(i % 4 == 0)).replace("%20", "+")
            req, htxt = http_req("GET", "/search?q=%s&page=%d" % (q, r.randrange(9)))
            resp, rtxt = http_resp(filler(r, lg, 5).encode())
            f.msgs = [(0, req), (1, resp)]
            f.text[0] += [htxt.replace(q, text)]
            f.text[1] += [rtxt, resp.split(b"\r\n\r\n", 1)[1].decode()]
        else:  # form body
            form_post(f, lg, text, text.encode(), i % 4 == 1)
        f.planted[0].add(rule.id)
        return f
    B["urlenc"] = urlenc

    def http_interim(i):
        # 100 Continue before the final response
        lg = "cn" if i % 2 == 0 else "en"
        rule = g.pick(lg)
        a, b = sig_in_filler(lg, rule.pat)
        text = a + rule.pat + b
        f = Flow("")
        pbody = ("data=" + filler(r, "en", 4).replace(" ", "+")).encode()
        req, qt = http_req("POST", "/upload", body=pbody, ctype="application/x-www-form-urlencoded",
                           extra=["Expect: 100-continue"])
        head, body = req.split(b"\r\n\r\n", 1)
        cont = b"HTTP/1.1 100 Continue\r\n\r\n"
        resp, rt = http_resp(text.encode(), chunks=([6] if i % 2 else None))
        f.msgs = [(0, head + b"\r\n\r\n"), (1, cont), (0, body), (1, resp)]
        f.text[0] += [qt, pbody.decode().replace("+", " ")]
        f.text[1] += ["HTTP/1.1 100 Continue", rt, text]
        f.planted[1].add(rule.id)
        return f
    B["http_interim"] = http_interim

    def http_post_chunked(i):
        # chunked request body, signature across a chunk boundary
        lg = "cn" if i % 2 == 0 else "en"
        rule = g.pick(lg)
        a, b = sig_in_filler(lg, rule.pat)
        text = a + rule.pat + b
        body = text.encode()
        sp = len(a.encode()) + len(rule.pat.encode()) // 2
        wire = chunk(body, [sp, 4000], ext=False)
        h = ["POST /api/msg HTTP/1.1", "Host: chat.test", "Content-Type: text/plain; charset=utf-8",
             "Transfer-Encoding: chunked"]
        req = ("\r\n".join(h) + "\r\n\r\n").encode() + wire
        resp, rt = http_resp(b"{}", ctype="application/json")
        f = Flow("")
        f.msgs = [(0, req), (1, resp)]
        f.text[0] += ["\n".join(h), text]
        f.text[1] += [rt, "{}"]
        f.planted[0].add(rule.id)
        return f
    B["http_post_chunked"] = http_post_chunked

    def utf16_plain(i):
        # a non-HTTP stream in UTF-16 with a BOM
        lg = "cn" if i % 2 == 0 else "en"
        rule = g.pick(lg)
        a, b = sig_in_filler(lg, rule.pat)
        text = a + rule.pat + b
        le = i % 2 == 0
        data = (b"\xff\xfe" + text.encode("utf-16-le")) if le else (b"\xfe\xff" + text.encode("utf-16-be"))
        f = Flow("")
        f.msgs = [(0, data)]
        f.text[0].append(text)
        f.planted[0].add(rule.id)
        f.seg = r.choice([3, 1400])
        return f
    B["utf16_plain"] = utf16_plain

    def html_named(i):
        # named character references as separators / invisibles between characters
        lg = "cn" if i % 2 == 0 else "en"
        rule = g.pick(lg)
        a, b = sig_in_filler(lg, rule.pat)
        ents = [("&nbsp;", "\u00a0"), ("&middot;", "\u00b7"), ("&ensp;", "\u2002"),
                ("&emsp;", "\u2003"), ("&bull;", "\u2022"), ("&thinsp;", "\u2009"),
                ("&shy;", "\u00ad"), ("&zwj;", "\u200d"), ("&amp;", "&"), ("&quot;", '"')]
        body, vis = rule.pat[0], rule.pat[0]
        for ch in rule.pat[1:]:
            e, v = r.choice(ents)
            body += e + ch
            vis += v + ch
        return _hf(lg, a + vis + b, rule.id, body=a + body + b, ctype="text/html; charset=utf-8", html=True)
    B["html_named"] = html_named

    B["sep_symbols"] = simple(lambda s: insert_between(r, s, ["★", "【", "】", "→", "♥", "©", "🔥", "👉",
                                                              "「", "」", "…", "—"], 0.8))

    def upper_homoglyph(s):
        s = s.upper()
        m = {"A": "АΑ", "E": "Е", "O": "ОΟ", "P": "РΡ", "C": "С", "X": "Х", "Y": "У", "I": "І"}
        cs = list(s)
        idx = [k for k, ch in enumerate(cs) if ch in m]
        if not idx:
            raise Regen("no upper homoglyph")
        for k in r.sample(idx, max(1, len(idx) // 2)):
            cs[k] = r.choice(m[cs[k]])
        return "".join(cs)
    B["homoglyph_upper"] = simple(upper_homoglyph, "en")

    B["fullwidth"] = simple(tg.fullwidth, "en")
    B["case"] = simple(lambda s: mix_case(r, s), "en")
    B["zwsp"] = simple(lambda s: insert_between(r, s, tg.ZW, 0.8))
    B["sep"] = simple(lambda s: insert_between(r, s, tg.SEPS, 0.8))
    B["traditional"] = simple(tg.to_trad, "cn", lambda ru: tg.trad_chars(ru.pat) > 0)
    B["homoglyph"] = simple(lambda s: homoglyph(r, s), "en")

    def combined(i):
        v = i % 4
        if v == 0:  # gzip + GBK + full-width + zero-width (Chinese with Latin digits around)
            rule = g.pick("cn")
            a, b = sig_in_filler("cn", rule.pat)
            # GBK has no zero-width characters: they travel as references
            pool = [("&#8203;", "\u200b"), ("&#xFEFF;", "\ufeff"), ("\u3000", "\u3000"),
                    ("&#x200D;", "\u200d"), ("\uff0a", "*")]
            body, vis = rule.pat[0], rule.pat[0]
            for ch in rule.pat[1:]:
                e, v = r.choice(pool)
                body += e + ch
                vis += v + ch
            return _hf("cn", a + vis + b, rule.id, body=a + body + b, ctype="text/html; charset=gbk",
                       charset="gbk", html=True, encs=("gzip",), chunks=[r.choice([5, 11, 64])])
        if v == 1:  # deflate + big5 + traditional + HTML entities
            rule = g.pick("cn", lambda ru: tg.trad_chars(ru.pat) > 0 and
                          tg.encodable(tg.to_trad(ru.pat), "big5"))
            a = tg.to_trad(filler(r, "cn", 8, True))
            b = tg.to_trad(filler(r, "cn", 8, True))
            t = tg.to_trad(rule.pat)
            body = a + html_entities(r, t) + b
            if not tg.encodable(body, "big5"):
                raise Regen("big5")
            return _hf("cn", a + t + b, rule.id, body=body, ctype="text/html; charset=big5",
                       charset="big5", encs=("deflate",), html=True)
        if v == 2:  # English: full-width + homoglyph + separators + mixed case, gzip, chunked
            rule = g.pick("en")
            s = tg.fullwidth(mix_case(r, insert_between(r, rule.pat, ["-", ".", "*"], 0.5)))
            a, b = sig_in_filler("en", rule.pat)
            return _hf("en", a + s + b, rule.id, encs=("gzip",), chunks=[3])
        # urlenc form + traditional + zero-width
        rule = g.pick("cn", lambda ru: tg.trad_chars(ru.pat) > 0)
        t = insert_between(r, tg.to_trad(rule.pat), tg.ZW, 0.6)
        enc = pct(t.encode())
        body = ("msg=%s&x=1" % enc).encode()
        f = Flow("")
        req, htxt = http_req("POST", "/post", body=body, ctype="application/x-www-form-urlencoded")
        resp, rtxt = http_resp(b"ok")
        f.msgs = [(0, req), (1, resp)]
        f.text[0] += [htxt, "msg " + t + " x 1"]
        f.text[1] += [rtxt, "ok"]
        f.planted[0].add(rule.id)
        return f
    B["combined"] = combined

    def pipelined(i):
        lg = "cn" if i % 2 == 0 else "en"
        rule = g.pick(lg)
        f = Flow("")
        q1, t1 = http_req("GET", "/a%d" % i)
        q2, t2 = http_req("GET", "/b%d" % i)
        b1 = filler(r, lg, 20)
        a, b = sig_in_filler(lg, rule.pat)
        b2 = a + rule.pat + b
        r1, rt1 = http_resp(b1.encode(), encs=(("gzip",) if i % 2 else ()))
        if i % 3 == 2:  # a body-less 304 first
            r1 = b"HTTP/1.1 304 Not Modified\r\nServer: tsf-gen\r\nETag: \"x%d\"\r\n\r\n" % i
            rt1 = "HTTP/1.1 304 Not Modified\nServer: tsf-gen\nETag: x"
            b1 = ""
        r2, rt2 = http_resp(b2.encode(), chunks=([9] if i % 3 == 0 else None))
        if i % 2 == 0:
            f.msgs = [(0, q1 + q2), (1, r1 + r2)]
        else:
            f.msgs = [(0, q1), (1, r1), (0, q2), (1, r2)]
        f.text[0] += [t1, t2]
        f.text[1] += [rt1, b1, rt2, b2]
        f.planted[1].add(rule.id)
        return f
    B["http_pipelined"] = pipelined

    def regex(i):
        rx = g.rx[i % len(g.rx)]
        samples = {
            0: lambda: "Verify your %s within %d hours" % (r.choice(["wallet", "account"]), r.choice([24, 48, 72])),
            1: lambda: "%s领取%s换脸" % (r.choice(["免费", "限时"]), r.choice(["AI", "ai", ""])),
            2: lambda: "recovery phrase: " + " ".join(r.sample(tg.EN_FILL, 6)),
            3: lambda: "加微信" + r.choice(["kefu", "vip", "wx_"]) + "".join(r.choice("2345678") for _ in range(5)),
            4: lambda: "deep fake %s %s" % (r.choice(["video", "voice"]), r.choice(["service", "studio"])),
        }
        s = samples[i % len(g.rx)]()
        lg = "en" if rx.lang == "en" else "cn"
        return g.text_flow("", lg, s, rx.id)
    B["regex"] = lambda i: regex(i)

    def raw(i):
        v = i % 3
        rr = g.raws[v]
        f = Flow("")
        if v == 0:  # header in the request, split into 1-byte segments
            req, htxt = http_req("GET", "/r%d" % i, extra=["X-Tsf-Probe: 7c3e9a"])
            resp, rtxt = http_resp(filler(r, "en", 6).encode())
            f.msgs = [(0, req), (1, resp)]
            f.text[0].append(htxt)
            f.text[1] += [rtxt, resp.split(b"\r\n\r\n", 1)[1].decode()]
            f.seg = 1 if i >= 3 else 1400
            f.planted[0].add(rr.id)
        elif v == 1:  # GBK bytes in a plain GBK body
            t = filler(r, "cn", 5) + "测试标记专用" + filler(r, "cn", 5)
            f = _hf("cn", t, rr.id, ctype="text/plain; charset=gbk", charset="gbk")
        else:  # binary marker in a non-HTTP stream
            blob = b"\x10\x20" + bytes(r.randrange(256) for _ in range(30)) + rr.pat + b"\x30" * 10
            f.msgs = [(0, b"HELO bin\r\n"), (1, blob)]
            f.text[0].append("HELO bin")
            f.text[1].append(blob.decode("utf-8", "ignore"))
            f.seg = 7
            f.planted[1].add(rr.id)
        return f
    B["raw"] = raw

    def tcp_options(i):
        f = simple()(i)
        # NOP NOP timestamps (12 bytes) on every data segment: data offset 8
        f.data_opts = b"\x01\x01\x08\x0a" + bytes(r.randrange(256) for _ in range(8))
        f.seg = r.choice([2, 5, 1400])
        return f
    B["tcp_options"] = tcp_options

    def padding(i):
        f = simple()(i)
        # short frames padded with junk letters after the IP packet: the
        # engine must use the IP length, not the captured length
        f.net = pg.Net(g.link, trailer=r.choice([b"xq", b"ZZZZ", b"\x00ab"]))
        f.seg = r.choice([1, 2, 3])
        f.v6 = i % 3 == 2
        return f
    B["padding"] = padding

    def deep(i):
        lg = "cn" if i % 2 == 0 else "en"
        rule = g.pick(lg)
        nwords = r.randrange(60000, 120000) if lg == "cn" else r.randrange(50000, 100000)
        if i % 2 == 0:
            f = g.text_flow("", lg, rule.pat, rule.id, nb=nwords, na=5)
            return f
        a = filler(r, lg, nwords)
        text = a + rule.pat + filler(r, lg, 5)
        return _hf(lg, text, rule.id, encs=("gzip",))
    B["deep"] = deep

    def http_close(i):
        lg = "cn" if i % 2 == 0 else "en"
        rule = g.pick(lg)
        a, b = sig_in_filler(lg, rule.pat)
        return _hf(lg, a + rule.pat + b, rule.id, close_delimited=True,
                   encs=(("gzip",) if i % 2 else ()))
    B["http_close"] = http_close

    def clean(i):
        lg = "cn" if i % 2 == 0 else "en"
        if i % 3 == 0:
            f = g.text_flow("", lg, filler(r, lg, 30), None)
        else:
            f = _hf(lg, filler(r, lg, r.randrange(50, 400)), None,
                    encs=r.choice([(), ("gzip",)]), chunks=r.choice([None, [100]]))
        f.negative = True
        return f
    B["clean"] = clean

    # --- negatives
    def near_miss(i):
        lg = "cn" if i % 2 == 0 else "en"
        rule = g.pick(lg)
        s = rule.pat
        k = r.randrange(len(s))
        if lg == "cn":
            s2 = s[:k] + (r.choice("".join(tg.CN_FILL)) if i % 4 < 2 else "") + s[k + 1:]
        else:
            while s[k] == " ":
                k = r.randrange(len(s))
            s2 = s[:k] + (r.choice("bdghkmqtuwz") if i % 4 < 2 else "") + s[k + 1:]
        f = g.text_flow("", lg, s2, None)
        f.negative = True
        return f
    B["near_miss"] = near_miss

    def cross_direction(i):
        lg = "cn" if i % 2 == 0 else "en"
        rule = g.pick(lg)
        s = rule.pat
        k = r.randrange(1, len(s))
        f = Flow("", negative=True)
        m0 = filler(r, lg, 5) + s[:k]
        m1 = s[k:] + filler(r, lg, 5)
        f.msgs = [(0, m0.encode()), (1, m1.encode())]
        f.text[0].append(m0)
        f.text[1].append(m1)
        f.seg = r.choice([1, 3, 1400])
        return f
    B["cross_direction"] = cross_direction

    def gap(i):
        f = simple()(i)
        f.planted = [set(), set()]
        f.negative = True
        d, off, L, mi = f.sig_dir, f.sig_off, f.sig_len, f.sig_msg
        mstart = sum(len(x) for dd, x in f.msgs[:mi] if dd == d)
        m = f.msgs[mi][1]
        # drop a segment in the middle of the signature
        a = off + L // 2 - 1
        b = a + 2 if L > 4 else a + 1
        f.cuts = {mi: [a, b]}
        f.seg = 4000
        f.raw_override = True
        f.joinable = False

        def hook(evs):
            return [e for e in evs if not (e.dir == d and e.off == mstart + a)]
        f.evs_hook = hook
        # text units: the stream split at the hole
        whole = b"".join(x for dd, x in f.msgs if dd == d)
        f.text[d] = [whole[:mstart + a].decode("utf-8", "ignore"),
                     whole[mstart + b:].decode("utf-8", "ignore")]
        return f
    B["gap"] = gap

    B["overlap_decoy"] = lambda i: overlap_common(i, True)

    def raw_neg(i):
        v = i % 3
        if v == 0:  # raw marker only inside a gzip body
            t = filler(r, "en", 5) + " X-Tsf-Probe: 7c3e9a " + filler(r, "en", 5)
            f = _hf("en", t, None, encs=("gzip",))
        elif v == 1:  # GBK marker bytes split by chunk framing
            t = filler(r, "cn", 5) + "测试标记专用" + filler(r, "cn", 5)
            body = t.encode("gbk")
            k = body.index(g.raws[1].pat) + 5
            f = _hf("cn", t, None, ctype="text/plain; charset=gbk", charset="gbk",
                    chunks=[k, 4000])
        else:  # marker text in UTF-8 (the raw rule holds GBK bytes)
            t = filler(r, "cn", 5) + "测试标记专用" + filler(r, "cn", 5)
            f = _hf("cn", t, None)
        f.negative = True
        return f
    B["raw_neg"] = raw_neg

    def udp_split(i):
        lg = "cn" if i % 2 == 0 else "en"
        rule = g.pick(lg)
        s = rule.pat
        k = r.randrange(1, len(s))
        f = Flow("", proto="udp", negative=True)
        d = r.randrange(2)
        t1, t2 = filler(r, lg, 4) + s[:k], s[k:] + filler(r, lg, 4)
        f.udp_payloads = [(d, t1.encode()), (d, t2.encode())]
        f.udp_text = [[t1], [t2]]
        return f
    B["udp_split"] = udp_split

    def multi(i):
        # one direction: rule A twice and rule B once; the other direction: A once.
        # Expect exactly (d, A), (d, B), (1-d, A): dedup per direction, not per flow.
        lg = "cn" if i % 2 == 0 else "en"
        A = g.pick(lg)
        Bq = g.pick(lg, lambda x: x.id != A.id)
        d = r.randrange(2)
        t1 = filler(r, lg, 5) + A.pat + filler(r, lg, 8) + Bq.pat + filler(r, lg, 300) + A.pat + \
            filler(r, lg, 5) + "\n"
        t2 = filler(r, lg, 5) + A.pat + filler(r, lg, 5) + "\n"
        f = Flow("")
        f.msgs = [(d, t1.encode()), (1 - d, t2.encode())]
        f.text[d].append(t1)
        f.text[1 - d].append(t2)
        f.planted[d] |= {A.id, Bq.id}
        f.planted[1 - d].add(A.id)
        f.seg = r.choice([5, 100, 1400])
        return f
    B["multi"] = multi

    def overlapping_rules(i):
        lg = "cn" if i % 2 == 0 else "en"
        pairs = [ru for ru in g.rules if getattr(ru, "ov", None) and ru.lang == lg + "_ov"]
        a = pairs[i % len(pairs)]
        b = g.rules[g.rules.index(a) + 1]
        return _ov_flow(lg, a, b)

    def _ov_flow(lg, a, b):
        w1, w2, w3, sep = a.ov
        f = g.text_flow("", lg, w1 + sep + w2 + sep + w3, a.id)
        f.planted[f.sig_dir].add(b.id)
        f.exp_offset = {}
        f.seg = r.choice([1, 3, 1400])
        return f
    B["overlapping_rules"] = overlapping_rules

    def udp_raw(i):
        rr = g.raws[2]
        f = Flow("", proto="udp")
        f.v6 = i % 2 == 1
        blob = bytes(r.randrange(256) for _ in range(12)) + rr.pat + b"\x7f" * 6
        f.udp_payloads = [(0, b"ping"), (1, blob)]
        f.udp_text = [["ping"], [blob.decode("utf-8", "ignore")]]
        f.planted[1].add(rr.id)
        return f
    B["udp_raw"] = udp_raw

    # --- matrix: a content case under random transport conditions
    content = [k for k in ("plain", "http_chunked", "http_gzip", "http_deflate", "http_br", "http_stacked",
                           "http_gbk", "http_big5", "http_utf16", "html_tags", "html_entity", "html_named",
                           "urlenc", "fullwidth", "case", "zwsp", "sep", "traditional", "homoglyph",
                           "combined", "http_pipelined", "regex", "raw", "http_close", "http_interim",
                           "http_post_chunked", "utf16_plain") if k in B]
    negcontent = ["near_miss", "cross_direction", "raw_neg", "clean"]

    def perturb(f, i):
        f.seg = r.choice([1, 2, 3, 7, 64, 536, 1400])
        ops = []
        shuffled = r.random() < 0.6
        if shuffled:
            w = r.choice([2, 3, 5, 8])
            ops.append(lambda evs: pg.shuffle_window(evs, w, r))
        if r.random() < 0.5:
            ops.append(lambda evs: pg.add_duplicates(evs, 0.3, r))
        if r.random() < 0.4:
            ops.append(lambda evs: pg.coalesce_retransmit(evs, r))

        def hook(evs, prev=f.evs_hook):
            if prev:
                evs = prev(evs)
            for op in ops:
                evs = op(evs)
            return evs
        f.evs_hook = hook
        f.v6 = r.random() < 0.3
        vl = r.choice([[], [], [(0x8100, 7)], [(0x88A8, 5), (0x8100, 9)]])
        if g.link != pg.LINK_ETHERNET:
            vl = []
        f.net = pg.Net(g.link, vlans=vl, v6ext=r.choice([[], [("hop", 0)], [("dst", 0), ("route", 1)]]),
                       trailer=r.choice([b"", b"", b"pad"]))
        if r.random() < 0.3:
            f.data_opts = b"\x01\x01\x08\x0a" + bytes(8)
        if r.random() < 0.2 and not shuffled:
            # midstream pickup: the first segment seen of each direction must be
            # its first one (reordering at the very start is not recoverable)
            f.handshake = False
        f.close = r.choice(["fin", "fin", "rst", None])
        f.detail += " seg=%d ops=%d v6=%d vlans=%d opts=%d hs=%d close=%s trailer=%d" % (
            f.seg, len(ops), f.v6, len(vl), bool(f.data_opts), f.handshake, f.close, bool(f.net.trailer))
        return f

    def matrix(i):
        name = content[(i * 7 + r.randrange(len(content))) % len(content)]
        k = r.randrange(12)
        f = B[name](k)
        f.detail = "%s#%d" % (name, k)
        if f.proto != "tcp":
            return f
        return perturb(f, i)
    B["matrix"] = matrix

    def matrix_neg(i):
        k = r.randrange(12)
        f = B[negcontent[i % len(negcontent)]](k)
        f.detail = "%s#%d" % (negcontent[i % len(negcontent)], k)
        f.negative = True
        return perturb(f, i)
    B["matrix_neg"] = matrix_neg
    return B


# cases made of several flows: cross_flow (halves in two flows, packets
# alternating) and port_reuse (two connections on one 5-tuple, one after the other)
def build_multi(g, case, n, fn, mode):
    r = g.rng
    for i in range(n):
        for _ in range(50):
            fs = fn(i)
            marks = (len(g.flows), len(g.expected), len(g.negatives), set(g.tuples))
            try:
                for f in fs:
                    f.case = case
                    g.verify_and_emit(f)
                k = marks[0]
                if mode == "alt":
                    a, b = g.flows[k], g.flows[k + 1]
                    g.flows[k:] = [[x for pair in zip(a, b) for x in pair] + a[len(b):] + b[len(a):]]
                else:
                    g.flows[k:] = [[x for fl in g.flows[k:] for x in fl]]
                break
            except Regen:
                del g.flows[marks[0]:]
                del g.expected[marks[1]:]
                del g.negatives[marks[2]:]
                g.tuples = marks[3]
        else:
            raise RuntimeError("could not build case %s" % case)


def cross_flow_flows(g, i):
    r = g.rng
    lg = "cn" if i % 2 == 0 else "en"
    s = g.pick(lg).pat
    k = r.randrange(1, len(s))
    d = r.randrange(2)
    fs = []
    for part in (filler(r, lg, 5) + s[:k], s[k:] + filler(r, lg, 5)):
        f = Flow("cross_flow", negative=True)
        f.msgs = [(1 - d, b"hi\n"), (d, part.encode())]
        f.text[1 - d].append("hi\n")
        f.text[d].append(part)
        f.seg = r.choice([2, 1400])
        fs.append(f)
    return fs


def port_reuse_flows(g, i, split):
    """Two connections on the same 5-tuple: the second after the first closed.
    split: first half of a signature at the end of connection 1, second half
    at the start of connection 2 (must not match); else connection 2 holds a
    whole signature (must match, the new SYN starts a new flow)."""
    r = g.rng
    lg = "cn" if i % 2 == 0 else "en"
    rule = g.pick(lg)
    s = rule.pat
    addr = g.addr(False)
    d = r.randrange(2)
    k = r.randrange(1, len(s))
    if split:
        parts = [filler(r, lg, 6) + s[:k], s[k:] + filler(r, lg, 6)]
    else:
        parts = [filler(r, lg, 6), filler(r, lg, 3) + s + filler(r, lg, 3)]
    fs = []
    for n, part in enumerate(parts):
        f = Flow("", negative=split)
        f.addr = addr
        if n == 0 or split:
            f.msgs = [(1 - d, b"hi\n"), (d, part.encode())] if n == 0 else [(d, part.encode()), (1 - d, b"hi\n")]
        else:
            f.msgs = [(1 - d, b"hi\n"), (d, part.encode())]
        for dd in (0, 1):
            f.text[dd].append("".join(m.decode() for x, m in f.msgs if x == dd))
        if not split and n == 1:
            f.planted[d].add(rule.id)
        f.close = "fin" if n == 0 else r.choice(["fin", "rst"])
        fs.append(f)
    return fs


def build_frag_neg(g, n):
    """Fragments that only together with fragments of another datagram
    would carry a signature: a reassembler must key on (addresses, protocol,
    IP id) and keep each UDP datagram apart.  Negatives.
      frag_mixed: the first fragment of one datagram, the rest under another
        IP id (or protocol, or source address): two incomplete datagrams.
      frag_two_dgrams: two complete fragmented datagrams of one UDP flow, the
        signature's first half ending one and its second half starting the
        next."""
    r = g.rng
    for i in range(n):
        lg = "cn" if i % 2 == 0 else "en"
        v6 = i % 3 == 1
        for attempt in range(50):
            rule = g.pick(lg)
            pat = rule.pat.encode()
            if len(pat) >= 16:
                break
        pre = filler(r, lg, r.randrange(10, 40)).encode()
        post = filler(r, lg, r.randrange(10, 40)).encode()
        c, cp, s, sp = g.addr(v6)
        net = pg.Net(g.link)
        dg = pg.udp(c, s, cp, sp, pre + pat + post)
        ip = net.ip(c, s, 17, dg)
        # a fragment boundary inside the signature
        size = (8 + len(pre) + len(pat) // 2) // 8 * 8
        frags = pg.ip_fragments(ip, size, ident=300 + i)
        how = ["id", "src", "proto"][i % 3]  # "proto" on IPv4 only: IPv6 keys ignore it (RFC 8200 4.5)
        if how == "id":
            rest = pg.ip_fragments(ip, size, ident=400 + i)[1:]
        elif how == "proto":
            rest = pg.ip_fragments(ip, size, ident=300 + i, proto=6)[1:]
        else:
            other = net.ip(g.addr(v6)[0], s, 17, dg)
            rest = pg.ip_fragments(other, size, ident=300 + i)[1:]
        g.flows.append([[net.frame(x) for x in frags[:1] + rest]])
        g.negatives.append({"proto": "udp", "src_ip": c, "src_port": cp, "dst_ip": s, "dst_port": sp,
                            "case": "frag_mixed", "detail": how})
        # two whole datagrams, the signature across them
        c, cp, s, sp = g.addr(v6)
        half = len(rule.pat) // 2
        t1 = filler(r, lg, r.randrange(20, 60)) + rule.pat[:half]
        t2 = rule.pat[half:] + filler(r, lg, r.randrange(20, 60))
        if g.m.text_hits(t1) or g.m.text_hits(t2) or g.m.raw_hits(t1.encode()) or \
                g.m.raw_hits(t2.encode()):
            continue
        frames = []
        for t in (t1, t2):
            ip = net.ip(c, s, 17, pg.udp(c, s, cp, sp, t.encode()))
            frames.append([net.frame(x) for x in
                           pg.reorder_fragments(pg.ip_fragments(ip, 128), "shuffle", r)])
        g.flows.append(frames)
        g.negatives.append({"proto": "udp", "src_ip": c, "src_port": cp, "dst_ip": s, "dst_port": sp,
                            "case": "frag_two_dgrams"})


def build_frag_malformed(g, n):
    """Incomplete IPv4/IPv6 fragmented datagrams (a hole before the last
    fragment: never reassembled) and malformed frames carrying a signature:
    nothing may match.  Each uses its own 5-tuple, listed as a negative."""
    r = g.rng
    for i in range(n):
        rule = g.pick("cn" if i % 2 == 0 else "en")
        payload = (filler(r, rule.lang, 3) + rule.pat + filler(r, rule.lang, 3)).encode()
        for v6 in (False, True):
            c, cp, s, sp = g.addr(v6)
            net = pg.Net(g.link)
            frames = []
            seg = pg.tcp(c, s, cp, sp, 1000, 1, pg.ACK | pg.PSH, payload)
            if v6:
                # first fragment (offset 0, M=1) holding the whole TCP segment,
                # after hop-by-hop, and a last one past a hole: incomplete
                frames.append(net.frame(pg.ipv6(c, s, 6, seg, ext=[("hop", 0), ("frag", 0, 1, 77 + i)])))
                frames.append(net.frame(pg.ipv6(c, s, 6, b"\0" * 8, ext=[("frag", len(seg) // 8 + 1, 0, 77 + i)])))
                g.negatives.append({"proto": "tcp", "src_ip": c, "src_port": cp, "dst_ip": s,
                                    "dst_port": sp, "case": "fragment"})
            else:
                frames.append(net.frame(pg.ipv4(c, s, 6, seg, df=False, mf=True, ident=900 + i)))
                frames.append(net.frame(pg.ipv4(c, s, 6, b"\0" * 8, df=False, frag_off=len(seg) // 8 + 1,
                                                ident=900 + i)))
                g.negatives.append({"proto": "tcp", "src_ip": c, "src_port": cp, "dst_ip": s,
                                    "dst_port": sp, "case": "fragment"})
            g.flows.append(frames)
            # malformed frames, each on its own new 5-tuple
            c, cp, s, sp = g.addr(v6)
            mal = pg.malformed_frames(net, c, s, cp, sp, payload)
            g.flows.append([fr for _, fr in mal])
            g.negatives.append({"proto": "tcp", "src_ip": c, "src_port": cp, "dst_ip": s,
                                "dst_port": sp, "case": "malformed"})
    # a few non-IP frames (ARP) and ICMP
    if g.link == pg.LINK_ETHERNET:
        g.flows.append([pg.link_frame(pg.LINK_ETHERNET, b"\x00\x01\x08\x00\x06\x04\x00\x01" + b"\0" * 20, 0x0806)])
    icmp = b"\x08\x00\xf7\xff\x00\x00\x00\x00" + "免费领取".encode()
    g.flows.append([pg.Net(g.link).frame(pg.ipv4("10.9.9.9", "192.0.2.9", 1, icmp))])


CASES_NEG = {"near_miss", "cross_direction", "cross_flow", "gap", "overlap_decoy", "raw_neg", "udp_split",
             "matrix_neg",
             "clean", "port_reuse_split", "fragment", "malformed", "frag_mixed", "frag_two_dgrams"}


def generate(out, seed=1, link="ethernet", fmt="pcap", per_case=4, cases=None, nanos=False,
             endian="<"):
    linkno = {"ethernet": pg.LINK_ETHERNET, "sll": pg.LINK_SLL, "sll2": pg.LINK_SLL2,
              "raw": pg.LINK_RAW}[link]
    g = Gen(seed, linkno, per_case)
    B = case_builders(g)
    names = list(B) + ["cross_flow", "port_reuse", "port_reuse_split", "fragment", "malformed",
                       "frag_mixed", "frag_two_dgrams"]
    for name, fn in B.items():
        if cases and name not in cases:
            continue
        n = per_case * (2 if name in ("combined", "regex", "raw", "raw_neg", "overlap",
                                      "overlap_decoy", "clean") else 1)
        if name in ("matrix", "matrix_neg"):
            n = per_case * 6
        if name == "fragments":
            n = per_case * 3
        if name == "deep":
            n = 2
        g.build(fn, name, n)
    if not cases or "cross_flow" in cases:
        build_multi(g, "cross_flow", per_case, lambda i: cross_flow_flows(g, i), "alt")
    if not cases or "port_reuse" in cases:
        build_multi(g, "port_reuse", per_case, lambda i: port_reuse_flows(g, i, False), "seq")
    if not cases or "port_reuse_split" in cases:
        build_multi(g, "port_reuse_split", per_case, lambda i: port_reuse_flows(g, i, True), "seq")
    if not cases or "fragment" in cases or "malformed" in cases:
        build_frag_malformed(g, max(1, per_case // 2))
    if not cases or "frag_mixed" in cases or "frag_two_dgrams" in cases:
        build_frag_neg(g, per_case)
    os.makedirs(out, exist_ok=True)
    # interleave flows, keeping each flow's own order
    r = g.rng
    queues = [list(f) for f in g.flows if f]
    order = []
    active = list(range(len(queues)))
    pos = [0] * len(queues)
    # start flows at staggered times: a window of at most 12 concurrent flows
    pending = list(range(len(queues)))
    r.shuffle(pending)
    live = []
    while pending or live:
        while pending and len(live) < 12:
            live.append(pending.pop())
        k = r.choice(live)
        order.append(queues[k][pos[k]])
        pos[k] += 1
        if pos[k] == len(queues[k]):
            live.remove(k)
    del active
    ts = 1_700_000_000_000_000_000 + seed * 1_000_000_000
    with open(os.path.join(out, "traffic.pcap"), "wb") as fh:
        w = pg.PcapngWriter(fh, linkno) if fmt == "pcapng" else \
            pg.PcapWriter(fh, linkno, nanos=nanos, endian=endian)
        for fr in order:
            ts += r.randrange(20_000, 200_000)
            # a list: the fragments of one datagram, back to back
            for x in (fr if isinstance(fr, list) else [fr]):
                ts += 10_000
                w.write(ts, x)
    with open(os.path.join(out, "rules.rules"), "w", encoding="utf-8") as fh:
        fh.write("# generated by tests/gen/corpus.py --seed %d\n" % seed)
        for ru in g.rules:
            fh.write(ru.line() + "\n")
    with open(os.path.join(out, "expected.jsonl"), "w", encoding="utf-8") as fh:
        for e in g.expected:
            fh.write(json.dumps(e, ensure_ascii=False) + "\n")
    with open(os.path.join(out, "negatives.jsonl"), "w", encoding="utf-8") as fh:
        for e in g.negatives:
            fh.write(json.dumps(e, ensure_ascii=False) + "\n")
    return g, names


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--link", default="ethernet", choices=["ethernet", "sll", "sll2", "raw"])
    ap.add_argument("--nanos", action="store_true", help="nanosecond pcap")
    ap.add_argument("--big-endian", action="store_true")
    ap.add_argument("--format", default="pcap", choices=["pcap", "pcapng"])
    ap.add_argument("--per-case", type=int, default=4)
    ap.add_argument("--cases", default="")
    a = ap.parse_args()
    g, names = generate(a.out, a.seed, a.link, a.format, a.per_case,
                        set(a.cases.split(",")) if a.cases else None, a.nanos,
                        ">" if a.big_endian else "<")
    print("%s: %d flows, %d expected verdicts, %d negative directions, %d rules" % (
        a.out, len(g.flows), len(g.expected), len(g.negatives), len(g.rules)), file=sys.stderr)


if __name__ == "__main__":
    main()
