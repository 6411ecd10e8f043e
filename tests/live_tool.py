#!/usr/bin/env python3
"""live_tool.py - traffic and checks for the live-capture tests (tests/it_live*.sh).

Runs inside `ip netns exec`; only ever talks to the addresses it is given,
which the tests put on veths in namespaces they create.

  tcp-server ADDR PORT [--conns N] [--reply TEXT]
      serve N connections one after another: read to EOF, send the reply, close
  tcp-client ADDR PORT [--data TEXT] [--bulk N] [--flows N] [--go-file F --after N]
      per flow: connect, send data, N bulk bytes and --tail, half-close, read the reply.
      --go-file: after the first send, wait until F exists, then send --after bytes
  udp-send ADDR PORT --data TEXT [--count N] [--pad-before N] [--pad-after N] [--no-df]
      --pad-*: N bulk bytes around the text; --no-df: IPv4 without DF, so the
      sending stack fragments a datagram larger than the MTU (IPv6 always does)
  udp-server ADDR PORT --count N
  udp-flood ADDR PORT --rate PPS --flows N --data TEXT [--probe TEXT --probe-ms MS]
            --stop-file F [--max-seconds S] [--probe-log FILE] [--probe-port P]
            [--flood-port P] [--flow-life S]
      steady datagrams until F exists; a probe from a new socket every MS
  udp-sink ADDR PORT [--ready F]   count datagrams until SIGTERM
  raw-send IFACE SRC DST --data TEXT [--vlan ID ...] [--ipv6 [--hbh]] [--frag]
  dump-check FILE ...   (see the functions below)
"""
import argparse
import json
import os
import re
import socket
import sys
import time

BULK = b"0123456789abcdefghijklmnopqrstuvwxyz" * 64


def bulk(n):
    out = bytearray()
    while len(out) < n:
        out += BULK
    return bytes(out[:n])


def unescape(text):
    """Backslash escapes (\\r, \\n, \\x16) as in C; other text as UTF-8."""
    out = bytearray()
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            n = text[i + 1]
            if n == "x":
                out.append(int(text[i + 2:i + 4], 16))
                i += 4
                continue
            out += {"r": b"\r", "n": b"\n", "t": b"\t", "\\": b"\\", "0": b"\0"}.get(n, n.encode())
            i += 2
            continue
        out += c.encode()
        i += 1
    return bytes(out)


def ready(a):
    """Tells the test the socket is bound (no sleeping on a guess)."""
    if a.ready:
        open(a.ready, "w").close()


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def connect(addr, port, deadline):
    # The server starts in parallel: retry until it listens (bounded).
    while True:
        try:
            return socket.create_connection((addr, port), timeout=10)
        except (ConnectionRefusedError, OSError):
            if time.time() > deadline:
                raise
            time.sleep(0.05)


def tcp_server(a):
    ls = socket.socket(family(a.addr), socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((a.addr, a.port))
    ls.listen(128)
    ls.settimeout(30)
    ready(a)
    total = 0
    for _ in range(a.conns):
        c, _ = ls.accept()
        c.settimeout(30)
        while True:
            d = c.recv(1 << 16)
            if not d:
                break
            total += len(d)
        c.sendall(unescape(a.reply))
        c.close()
    print(total)


def tcp_client(a):
    deadline = time.time() + 10
    for i in range(a.flows):
        s = connect(a.addr, a.port, deadline)
        data = unescape(a.data.replace("{i}", str(i)))
        s.sendall(data + bulk(a.bulk) + unescape(a.tail))
        if a.go_file:
            end = time.time() + 20
            while not os.path.exists(a.go_file):
                if time.time() > end:
                    sys.exit("go file never appeared")
                time.sleep(0.02)
            s.sendall(bulk(a.after))
        s.shutdown(socket.SHUT_WR)
        while s.recv(1 << 16):
            pass
        s.close()


def udp_send(a):
    s = socket.socket(family(a.addr), socket.SOCK_DGRAM)
    if a.no_df and family(a.addr) == socket.AF_INET:
        # IP_MTU_DISCOVER = IP_PMTUDISC_DONT: no DF, fragment locally
        s.setsockopt(socket.IPPROTO_IP, getattr(socket, "IP_MTU_DISCOVER", 10),
                     getattr(socket, "IP_PMTUDISC_DONT", 0))
    data = bulk(a.pad_before) + unescape(a.data) + bulk(a.pad_after)
    for _ in range(a.count):
        s.sendto(data, (a.addr, a.port))


def udp_server(a):
    s = socket.socket(family(a.addr), socket.SOCK_DGRAM)
    s.bind((a.addr, a.port))
    s.settimeout(20)
    ready(a)
    for _ in range(a.count):
        s.recvfrom(65536)


def udp_flood(a):
    """Datagrams at a steady rate (paced per millisecond) over --flows
    sockets until the stop file appears; with --flow-life S the sockets are
    replaced every S seconds (flows that end, as real ones do).  Every
    --probe-ms one --probe datagram from a socket of its own (a new flow, so
    it gets its own verdicts).  --probe-port / --flood-port: source ports
    from P on (20000 of them, never reused while the flow may be alive)
    instead of ephemeral ones.  Prints {"sent", "probes", "seconds"} as
    JSON; --probe-log gets one line per probe: source port and
    CLOCK_MONOTONIC send time."""
    fam = family(a.addr)
    gen = [0]

    def flood_socks():
        out = []
        for i in range(a.flows):
            fs = socket.socket(fam, socket.SOCK_DGRAM)
            if a.flood_port:
                fs.bind(("", a.flood_port + (gen[0] * a.flows + i) % 20000))
            out.append(fs)
        gen[0] += 1
        return out

    socks = flood_socks()
    data, probe = unescape(a.data), unescape(a.probe) if a.probe else b""
    dst = (a.addr, a.port)
    log = open(a.probe_log, "w") if a.probe_log else None
    t0 = time.monotonic()
    sent = probes = 0
    next_probe, next_check = t0, t0
    next_flows = t0 + a.flow_life if a.flow_life else float("inf")
    while True:
        now = time.monotonic()
        if now >= next_check:
            if os.path.exists(a.stop_file) or now - t0 > a.max_seconds:
                break
            next_check = now + 0.01
        if now >= next_flows:
            for fs in socks:
                fs.close()
            socks = flood_socks()
            next_flows += a.flow_life
        if probe and now >= next_probe:
            ps = socket.socket(fam, socket.SOCK_DGRAM)
            if a.probe_port:
                ps.bind(("", a.probe_port + probes % 20000))
            ps.sendto(probe, dst)
            if log:
                log.write("%d %.6f\n" % (ps.getsockname()[1], time.monotonic()))
            ps.close()
            probes += 1
            next_probe += a.probe_ms / 1000.0
        due = int((now - t0) * a.rate) - sent
        if due <= 0:
            time.sleep(0.0005)
            continue
        for _ in range(min(due, 200)):
            socks[sent % a.flows].sendto(data, dst)
            sent += 1
    secs = time.monotonic() - t0
    if log:
        log.close()
    print(json.dumps({"sent": sent, "probes": probes, "seconds": round(secs, 3)}))


def udp_sink(a):
    import signal
    s = socket.socket(family(a.addr), socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind((a.addr, a.port))
    n = [0]
    stop = [False]

    def on_term(*_):
        stop[0] = True

    signal.signal(signal.SIGTERM, on_term)
    s.settimeout(0.2)
    ready(a)
    while not stop[0]:
        try:
            s.recv(65536)
            n[0] += 1
        except (socket.timeout, InterruptedError):
            pass
    print(n[0], flush=True)


def raw_send(a):
    """One hand-made UDP frame onto an interface (AF_PACKET): VLAN tags,
    IPv6 hop-by-hop options, IPv4 fragments - shapes the peer stack would
    not produce on its own, to exercise the kernel-side parser."""
    import struct
    payload = unescape(a.data)
    sport, dport = a.sport, a.dport
    if a.ipv6:
        src = socket.inet_pton(socket.AF_INET6, a.src)
        dst = socket.inet_pton(socket.AF_INET6, a.dst)
        udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
        nh, ext = 17, b""
        if a.hbh:
            # hop-by-hop header: next header UDP, length 0 (8 bytes), PadN
            ext = bytes([17, 0, 1, 4, 0, 0, 0, 0])
            nh = 0
        l3 = struct.pack("!IHBB", 6 << 28, len(ext) + len(udp), nh, 64) + src + dst + ext + udp
        etype = 0x86DD
    else:
        src = socket.inet_aton(a.src)
        dst = socket.inet_aton(a.dst)
        udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
        frag = 0x2000 if a.frag else 0  # MF: the first fragment of a datagram
        hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, frag, 64, 17, 0, src, dst)
        csum = sum(struct.unpack("!10H", hdr))
        while csum >> 16:
            csum = (csum & 0xFFFF) + (csum >> 16)
        hdr = hdr[:10] + struct.pack("!H", ~csum & 0xFFFF) + hdr[12:]
        l3 = hdr + udp
        etype = 0x0800
    tags = b"".join(struct.pack("!HH", 0x8100, v) for v in a.vlan or [])
    eth = b"\x02\x00\x00\x00\x00\x01" + b"\x02\x00\x00\x00\x00\x02" + tags + struct.pack("!H", etype)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((a.iface, 0))
    s.send(eth + l3)


REC = re.compile(
    r'^rec if=(\d+) (ingress|egress) (tcp|udp) (\S+):(\d+) > (\S+):(\d+) seq=(\d+) flags=0x(\w+) '
    r'off=(\d+) len=(\d+) pkt=(\d+)((?: \S+)*) "(.*)"$')


def parse_dump(path):
    recs = []
    with open(path, encoding="latin-1") as f:
        for line in f:
            m = REC.match(line.rstrip("\n"))
            if m:
                g = m.groups()
                recs.append(dict(ifindex=int(g[0]), dir=g[1], proto=g[2], src=g[3], sport=int(g[4]),
                                 dst=g[5], dport=int(g[6]), seq=int(g[7]), flags=int(g[8], 16),
                                 off=int(g[9]), len=int(g[10]), pkt=int(g[11]), extra=g[12].split(),
                                 text=g[13]))
    return recs


def summary(a):
    """Per flow direction: records, bytes, and the TCP sequence ranges
    covered merged (so a complete capture of N bytes shows one range of N)."""
    flows = {}
    for r in parse_dump(a.file):
        k = "%s %s:%d>%s:%d" % (r["proto"], r["src"], r["sport"], r["dst"], r["dport"])
        f = flows.setdefault(k, dict(records=0, bytes=0, ranges=[], multi_chunk=0, text="",
                                     dirs=set()))
        f["records"] += 1
        f["bytes"] += r["len"]
        f["dirs"].add(r["dir"])
        if r["off"] > 0:
            f["multi_chunk"] += 1
        if r["off"] == 0 and r["len"] and not f["text"]:
            f["text"] = r["text"]
        if r["proto"] == "tcp" and r["len"]:
            f["ranges"].append((r["seq"], r["seq"] + r["len"]))
    for f in flows.values():
        rs = sorted(f["ranges"])
        merged = []
        for s, e in rs:
            if merged and s <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], e)
            else:
                merged.append([s, e])
        f["covered"] = [e - s for s, e in merged]
        f["dirs"] = sorted(f["dirs"])
        del f["ranges"]
    json.dump(flows, sys.stdout, indent=1, sort_keys=True)
    print()


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("tcp-server")
    s.add_argument("addr")
    s.add_argument("port", type=int)
    s.add_argument("--conns", type=int, default=1)
    s.add_argument("--reply", default="HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    s.add_argument("--ready")
    s = sub.add_parser("tcp-client")
    s.add_argument("addr")
    s.add_argument("port", type=int)
    s.add_argument("--data", default="")
    s.add_argument("--bulk", type=int, default=0)
    s.add_argument("--tail", default="")
    s.add_argument("--flows", type=int, default=1)
    s.add_argument("--go-file")
    s.add_argument("--after", type=int, default=0)
    s = sub.add_parser("udp-send")
    s.add_argument("addr")
    s.add_argument("port", type=int)
    s.add_argument("--data", required=True)
    s.add_argument("--count", type=int, default=1)
    s.add_argument("--pad-before", type=int, default=0)
    s.add_argument("--pad-after", type=int, default=0)
    s.add_argument("--no-df", action="store_true")
    s = sub.add_parser("udp-server")
    s.add_argument("addr")
    s.add_argument("port", type=int)
    s.add_argument("--count", type=int, default=1)
    s.add_argument("--ready")
    s = sub.add_parser("udp-flood")
    s.add_argument("addr")
    s.add_argument("port", type=int)
    s.add_argument("--rate", type=int, default=20000)
    s.add_argument("--flows", type=int, default=16)
    s.add_argument("--data", required=True)
    s.add_argument("--probe")
    s.add_argument("--probe-ms", type=float, default=10)
    s.add_argument("--probe-log")
    s.add_argument("--probe-port", type=int, default=0)
    s.add_argument("--flood-port", type=int, default=0)
    s.add_argument("--flow-life", type=float, default=0)
    s.add_argument("--stop-file", required=True)
    s.add_argument("--max-seconds", type=float, default=300)
    s = sub.add_parser("udp-sink")
    s.add_argument("addr")
    s.add_argument("port", type=int)
    s.add_argument("--ready")
    s = sub.add_parser("raw-send")
    s.add_argument("iface")
    s.add_argument("src")
    s.add_argument("dst")
    s.add_argument("--sport", type=int, default=40000)
    s.add_argument("--dport", type=int, default=5353)
    s.add_argument("--data", required=True)
    s.add_argument("--vlan", type=int, action="append")
    s.add_argument("--ipv6", action="store_true")
    s.add_argument("--hbh", action="store_true")
    s.add_argument("--frag", action="store_true")
    s = sub.add_parser("summary")
    s.add_argument("file")
    a = p.parse_args()
    {"tcp-server": tcp_server, "tcp-client": tcp_client, "udp-send": udp_send,
     "udp-server": udp_server, "udp-flood": udp_flood,
     "udp-sink": udp_sink, "raw-send": raw_send, "summary": summary}[a.cmd](a)


if __name__ == "__main__":
    main()
