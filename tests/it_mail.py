#!/usr/bin/env python3
"""it_mail.py - mail decoding end to end: `tapsift scan --pcap` on SMTP
sessions generated here (tests/gen/pcapgen.py), small segments so the
base64 lines and encoded-words cross packets.

- a GBK text/plain body in base64 inside multipart/alternative (with a
  quoted-printable UTF-8 HTML part) and a GB2312 B-encoded Subject: the
  rules only match the decoded text, so a verdict proves base64 + GBK (and
  the encoded-word) decoding; the excerpt must be the decoded text;
- the raw base64 of the body is not text any more: a rule on it is silent;
- the same words in a chat stream with no mail structure still match as
  plain text, and a chat stream with the base64 letters still matches them
  (non-mail streams are as before);
- the counters mime_parts and mime_encoded_words are reported.
"""
import base64, json, os, quopri, random, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "gen"))
import pcapgen as pg  # noqa: E402

BUILD = os.environ.get("TSF_BUILD", "build")
TSF = os.path.join(ROOT, BUILD, "tapsift")
failed = 0


def check(name, ok, detail=""):
    global failed
    print(f"ok - mail:{name}" if ok else f"not ok - mail:{name} {detail}", flush=True)
    failed += not ok


BODY = "您好，本周特惠：免费领取AI换脸软件，点击链接验证你的钱包。\r\n"
SUBJ = "中奖通知"
B64_BODY = base64.b64encode(BODY.encode("gbk")).decode()


def smtp_client():
    subj = "=?gb2312?B?" + base64.b64encode(SUBJ.encode("gb2312")).decode() + "?="
    html = "<html><body><p>请<b>立即</b>联系客服 &amp; 领奖</p></body></html>".encode()
    lines = [
        "EHLO mail.example.com", "MAIL FROM:<promo@example.com>", "RCPT TO:<u@example.org>",
        "DATA", "From: promo@example.com", "To: u@example.org", "Subject: " + subj,
        "MIME-Version: 1.0",
        'Content-Type: multipart/alternative; boundary="=_alt_7"', "",
        "--=_alt_7", "Content-Type: text/plain; charset=GBK",
        "Content-Transfer-Encoding: base64", "",
    ]
    b = B64_BODY
    lines += [b[i:i + 40] for i in range(0, len(b), 40)]
    lines += ["", "--=_alt_7", "Content-Type: text/html; charset=utf-8",
              "Content-Transfer-Encoding: quoted-printable", ""]
    lines += quopri.encodestring(html).decode().split("\n")
    lines += ["--=_alt_7--", ".", "QUIT", ""]
    return "\r\n".join(lines).encode()


def main():
    t = tempfile.mkdtemp(prefix="tsf-mail.")
    rng = random.Random(11)
    net = pg.Net()
    frames = []
    s = pg.TcpSession(("10.9.0.5", 41000), ("192.0.2.25", 25), rng)
    srv = b"220 mx ESMTP\r\n250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n221 bye\r\n"
    frames += s.render(net, pg.segment_messages([(0, smtp_client()), (1, srv)], 37))
    # a chat stream: the same words as plain text, and the base64 letters
    c = pg.TcpSession(("10.9.0.6", 41001), ("192.0.2.26", 6667), rng)
    chat = ("PRIVMSG #x :免费领取AI换脸软件\r\nNote: " + B64_BODY[:24] + "\r\n").encode()
    frames += c.render(net, pg.segment_messages([(0, chat)], 9))
    pcap = os.path.join(t, "mail.pcap")
    with open(pcap, "wb") as f:
        w = pg.PcapWriter(f)
        for i, fr in enumerate(frames):
            w.write(1_700_000_000_000_000_000 + i * 1000_000, fr)
    rules = os.path.join(t, "mail.rules")
    with open(rules, "w") as f:
        f.write('900001 fraud "免费领取AI换脸软件"\n')
        f.write('900002 fraud "中奖通知"\n')
        f.write('900003 fraud "立即联系客服"\n')
        f.write(f'900004 encoded "{B64_BODY[:24]}"\n')
    out = subprocess.run([TSF, "scan", "--rules", rules, "--pcap", pcap, "--format", "json"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    check("scan-exit-0", out.returncode == 0, out.stderr.decode(errors="replace")[-400:])
    got = {}
    for line in out.stdout.decode().splitlines():
        v = json.loads(line)
        got.setdefault((v["dst_port"], v["rule_id"]), []).append(v)
    check("smtp-base64-gbk-body", (25, 900001) in got, str(sorted(got)))
    ex = got.get((25, 900001), [{}])[0].get("excerpt", "")
    check("smtp-excerpt-decoded", "免费领取AI换脸软件" in ex, ex)
    check("smtp-encoded-word-subject", (25, 900002) in got, str(sorted(got)))
    check("smtp-qp-html-part", (25, 900003) in got, str(sorted(got)))
    check("smtp-raw-base64-not-text", (25, 900004) not in got, str(sorted(got)))
    check("chat-plain-unchanged", (6667, 900001) in got and (6667, 900004) in got,
          str(sorted(got)))
    err = out.stderr.decode(errors="replace")
    stats = dict(l.split()[:2] for l in err.splitlines() if len(l.split()) == 2)
    check("stats-mime-parts", stats.get("mime_parts") == "2", err[-600:])
    check("stats-encoded-words", stats.get("mime_encoded_words") == "1", err[-600:])
    check("stats-no-errors", "mime_b64_errors" not in stats and "mime_qp_errors" not in stats,
          err[-600:])
    subprocess.run(["rm", "-rf", t], check=False)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
