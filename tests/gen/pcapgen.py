"""pcapgen - write pcap / pcapng captures from Python (stdlib only).

Pieces:
  PcapWriter / PcapngWriter     file formats (classic pcap LE/BE, us/ns; pcapng)
  Net                           how a packet is framed: link type (Ethernet, Linux
                                SLL, raw IP), 802.1Q / QinQ tags, IPv4 options,
                                IPv6 extension headers
  ipv4() ipv6() tcp() udp()     header builders with correct checksums
  TcpSession                    client<->server byte streams -> TCP segments with
                                handshake, segmentation, reordering, duplicates,
                                overlapping retransmits with different bytes, gaps,
                                midstream start, FIN / RST end
  effective_stream()            what a first-copy-wins reassembler sees per direction
                                (list of contiguous pieces; a gap splits pieces)
"""
import ipaddress
import struct

LINK_ETHERNET = 1
LINK_RAW = 101
LINK_SLL = 113
LINK_SLL2 = 276

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10

# ---------------------------------------------------------------- file formats


class PcapWriter:
    """Classic libpcap file.  endian '<' or '>', nanos selects the ns magic."""

    def __init__(self, f, linktype=LINK_ETHERNET, nanos=False, endian="<", snaplen=262144):
        self.f, self.nanos, self.e = f, nanos, endian
        magic = 0xA1B23C4D if nanos else 0xA1B2C3D4
        f.write(struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype))
        self.count = 0

    def write(self, ts_ns, frame, orig_len=None):
        sec, ns = divmod(ts_ns, 1_000_000_000)
        frac = ns if self.nanos else ns // 1000
        olen = len(frame) if orig_len is None else orig_len
        self.f.write(struct.pack(self.e + "IIII", sec, frac, len(frame), olen))
        self.f.write(frame)
        self.count += 1

    def write_raw(self, data):
        """Arbitrary bytes (for corrupt-file tests)."""
        self.f.write(data)


class PcapngWriter:
    """Minimal pcapng: one SHB, one IDB (microsecond resolution), EPBs."""

    def __init__(self, f, linktype=LINK_ETHERNET, snaplen=262144):
        self.f = f
        shb_body = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)
        self._block(0x0A0D0D0A, shb_body)
        self._block(0x00000001, struct.pack("<HHI", linktype, 0, snaplen))
        self.count = 0

    def _block(self, btype, body):
        pad = (-len(body)) % 4
        total = 12 + len(body) + pad
        self.f.write(struct.pack("<II", btype, total) + body + b"\0" * pad + struct.pack("<I", total))

    def write(self, ts_ns, frame, orig_len=None):
        us = ts_ns // 1000
        olen = len(frame) if orig_len is None else orig_len
        body = struct.pack("<IIIII", 0, us >> 32, us & 0xFFFFFFFF, len(frame), olen) + frame
        self._block(0x00000006, body)
        self.count += 1


# ---------------------------------------------------------------- headers


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def _ip(a):
    return ipaddress.ip_address(a)


def pseudo_header(src, dst, proto, length):
    s, d = _ip(src), _ip(dst)
    if s.version == 4:
        return s.packed + d.packed + struct.pack("!BBH", 0, proto, length)
    return s.packed + d.packed + struct.pack("!IxxxB", length, proto)


def tcp(src, dst, sport, dport, seq, ack, flags, payload=b"", window=65535, options=b"",
        doff_override=None):
    """TCP header + payload with a correct checksum (computed before any override)."""
    options += b"\0" * ((-len(options)) % 4)
    doff = (20 + len(options)) // 4
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      doff << 4, flags, window, 0, 0) + options
    c = csum(pseudo_header(src, dst, 6, len(hdr) + len(payload)) + hdr + payload)
    hdr = hdr[:16] + struct.pack("!H", c) + hdr[18:]
    if doff_override is not None:
        hdr = hdr[:12] + bytes([doff_override << 4]) + hdr[13:]
    return hdr + payload


def udp(src, dst, sport, dport, payload, no_csum=False):
    ln = 8 + len(payload)
    hdr = struct.pack("!HHHH", sport, dport, ln, 0)
    c = 0 if no_csum else (csum(pseudo_header(src, dst, 17, ln) + hdr + payload) or 0xFFFF)
    return struct.pack("!HHHH", sport, dport, ln, c) + payload


def ipv4(src, dst, proto, l4, ttl=64, ident=0, options=b"", df=True, mf=False, frag_off=0,
         ihl_override=None, total_len_override=None):
    options += b"\0" * ((-len(options)) % 4)
    ihl = 5 + len(options) // 4
    flags = (0x4000 if df else 0) | (0x2000 if mf else 0) | (frag_off & 0x1FFF)
    tl = 20 + len(options) + len(l4)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, tl, ident & 0xFFFF, flags, ttl, proto, 0,
                      _ip(src).packed, _ip(dst).packed) + options
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    if ihl_override is not None or total_len_override is not None:
        b = bytearray(hdr)
        if ihl_override is not None:
            b[0] = 0x40 | ihl_override
        if total_len_override is not None:
            b[2:4] = struct.pack("!H", total_len_override)
        b[10:12] = b"\0\0"
        b[10:12] = struct.pack("!H", csum(bytes(b[:20])))
        hdr = bytes(b)
    return hdr + l4


# IPv6 extension header specs: ("hop", n_pad8) ("dst", n_pad8) ("route", n_addrs)
# ("frag", offset8, more, ident)
def _ext(kind, nh, spec, final_dst=b"\0" * 16):
    if kind in ("hop", "dst"):
        n = spec[1] if len(spec) > 1 else 0
        body = bytes([1, 4 + 8 * n]) + b"\0" * (4 + 8 * n)  # one PadN option filling it
        return bytes([nh, n]) + body
    if kind == "route":
        n = spec[1] if len(spec) > 1 else 1
        # type 4 (segment routing) with segments_left 0: nodes must process nothing
        # segment list[0] is the final destination (= the IPv6 dst, so the
        # TCP/UDP pseudo-header is the same with or without this header)
        return bytes([nh, 2 * n, 4, 0, n - 1, 0, 0, 0]) + final_dst + b"\0" * (16 * (n - 1))
    if kind == "frag":
        off8, more, ident = spec[1], spec[2], spec[3]
        return struct.pack("!BBHI", nh, 0, (off8 << 3) | (1 if more else 0), ident)
    raise ValueError(kind)


_EXT_NH = {"hop": 0, "route": 43, "frag": 44, "dst": 60}


def ipv6(src, dst, proto, l4, hlim=64, ext=(), flow=0):
    """ext: sequence of extension header specs, outermost first."""
    nh_chain = [_EXT_NH[e[0]] for e in ext] + [proto]
    exts = b""
    for i, e in enumerate(ext):
        exts += _ext(e[0], nh_chain[i + 1], e, _ip(dst).packed)
    plen = len(exts) + len(l4)
    hdr = struct.pack("!IHBB16s16s", (6 << 28) | (flow & 0xFFFFF), plen, nh_chain[0], hlim,
                      _ip(src).packed, _ip(dst).packed)
    return hdr + exts + l4


MAC_A = bytes.fromhex("020000000001")
MAC_B = bytes.fromhex("020000000002")


class Net:
    """Framing of IP packets: link type + VLAN tags + IP options / extension headers.

    vlans: list of (tpid, vid), outermost first, e.g. [(0x88a8, 100), (0x8100, 200)].
    v6ext: IPv6 extension header specs added to every IPv6 packet of the flow.
    v4opts: IPv4 options bytes (e.g. NOPs + EOL) added to every IPv4 packet.
    """

    def __init__(self, link=LINK_ETHERNET, vlans=(), v6ext=(), v4opts=b"", trailer=b""):
        self.link, self.vlans, self.v6ext, self.v4opts = link, list(vlans), list(v6ext), v4opts
        self.trailer = trailer  # junk after the IP packet (Ethernet padding, FCS...)
        self.ident = 1

    def ip(self, src, dst, proto, l4, **kw):
        if _ip(src).version == 4:
            self.ident += 1
            kw.setdefault("ident", self.ident)
            kw.setdefault("options", self.v4opts)
            return ipv4(src, dst, proto, l4, **kw)
        kw.setdefault("ext", self.v6ext)
        return ipv6(src, dst, proto, l4, **kw)

    def frame(self, ippkt, outbound=True):
        ver = ippkt[0] >> 4
        etype = 0x0800 if ver == 4 else 0x86DD
        f = link_frame(self.link, ippkt, etype, self.vlans, outbound)
        if self.trailer:
            # pad short Ethernet frames to 60 bytes with junk; other links get the trailer
            if self.link == LINK_ETHERNET:
                if len(f) < 60:
                    f += (self.trailer * 60)[:60 - len(f)]
            else:
                f += self.trailer
        return f


def link_frame(link, payload, etype, vlans=(), outbound=True):
    if link == LINK_ETHERNET:
        dst, src = (MAC_B, MAC_A) if outbound else (MAC_A, MAC_B)
        h = dst + src
        for tpid, vid in vlans:
            h += struct.pack("!H", tpid) + struct.pack("!H", vid & 0xFFF)
        return h + struct.pack("!H", etype) + payload
    if link == LINK_SLL:
        # packet type 4 = sent by us, 0 = to us; ARPHRD_ETHER; 6-byte address padded to 8
        ptype = 4 if outbound else 0
        return struct.pack("!HHH", ptype, 1, 6) + (MAC_A if outbound else MAC_B) + b"\0\0" + \
            struct.pack("!H", etype) + payload
    if link == LINK_SLL2:
        ptype = 4 if outbound else 0
        return struct.pack("!HHIHBB", etype, 0, 2, 1, ptype, 6) + (MAC_A if outbound else MAC_B) + \
            b"\0\0" + payload
    if link == LINK_RAW:
        return payload
    raise ValueError(link)


# ---------------------------------------------------------------- TCP sessions


class Ev:
    """One TCP segment to send: direction 0 = client->server, 1 = server->client,
    off = offset of data[0] in that direction's byte stream (0 = first data byte)."""
    __slots__ = ("dir", "off", "data", "flags", "tag")

    def __init__(self, d, off, data, flags=ACK | PSH, tag=""):
        self.dir, self.off, self.data, self.flags, self.tag = d, off, data, flags, tag

    def __repr__(self):
        return "Ev(%d,%d,%r,%s)" % (self.dir, self.off, self.data[:16], self.tag)


def segment_messages(msgs, seg=1400, cuts=None):
    """msgs: list of (dir, bytes) in conversation order.  Returns the event list.
    seg: max segment size, or a callable(dir, msg_index) -> size.
    cuts: optional {msg_index: [absolute cut offsets inside that message]}."""
    evs, pos = [], [0, 0]
    for i, (d, data) in enumerate(msgs):
        if cuts and i in cuts:
            points = sorted(set([0] + [c for c in cuts[i] if 0 < c < len(data)] + [len(data)]))
            pieces = [(points[k], points[k + 1]) for k in range(len(points) - 1)]
        else:
            s = seg(d, i) if callable(seg) else seg
            pieces = [(k, min(k + s, len(data))) for k in range(0, len(data), s)]
        # further split any piece larger than the seg limit (when cuts are given)
        limit = seg(d, i) if callable(seg) else seg
        for a, b in pieces:
            for k in range(a, b, limit):
                evs.append(Ev(d, pos[d] + k, data[k:min(k + limit, b)]))
        pos[d] += len(data)
    return evs


def shuffle_window(evs, window, rng, direction=None):
    """Reorders events inside consecutive windows of the same direction."""
    out, i = [], 0
    while i < len(evs):
        j = i
        while j < len(evs) and j - i < window and evs[j].dir == evs[i].dir:
            j += 1
        blk = evs[i:j]
        if direction is None or blk[0].dir == direction:
            for _ in range(4):
                rng.shuffle(blk)
                if len(blk) < 2 or [e.off for e in blk] != sorted(e.off for e in blk):
                    break
        out.extend(blk)
        i = j
    return out


def coalesce_retransmit(evs, rng, d=None):
    """Adds a retransmission that repacketizes several consecutive segments of
    one direction into one (identical bytes, different boundaries)."""
    cand = [k for k in range(len(evs) - 2) if evs[k].dir == evs[k + 1].dir == evs[k + 2].dir
            and (d is None or evs[k].dir == d)
            and evs[k].off + len(evs[k].data) == evs[k + 1].off
            and evs[k + 1].off + len(evs[k + 1].data) == evs[k + 2].off]
    if not cand:
        return evs
    k = rng.choice(cand)
    a, b, c = evs[k], evs[k + 1], evs[k + 2]
    start = a.off + len(a.data) // 2
    end = c.off + len(c.data) // 2 + 1
    blob = (a.data + b.data + c.data)[start - a.off:end - a.off]
    return evs[:k + 3] + [Ev(a.dir, start, blob, tag="coalesced")] + evs[k + 3:]


def add_duplicates(evs, prob, rng, delay=3):
    """Retransmits some segments (identical bytes) a few events later."""
    out = list(evs)
    for e in evs:
        if rng.random() < prob:
            idx = out.index(e) + 1 + rng.randrange(delay + 1)
            out.insert(min(idx, len(out)), Ev(e.dir, e.off, e.data, e.flags, "dup"))
    return out


def effective_stream(evs, d):
    """First-copy-wins view of direction d: list of (start_off, bytes) pieces."""
    got = {}
    for e in evs:
        if e.dir != d:
            continue
        for k, b in enumerate(e.data):
            got.setdefault(e.off + k, b)
    if not got:
        return []
    pieces, cur, start, prev = [], bytearray(), None, None
    for off in sorted(got):
        if prev is not None and off != prev + 1:
            pieces.append((start, bytes(cur)))
            cur = bytearray()
            start = None
        if start is None:
            start = off
        cur.append(got[off])
        prev = off
    pieces.append((start, bytes(cur)))
    return pieces


class TcpSession:
    """Renders events of one TCP connection as IP packets."""

    def __init__(self, cli, srv, rng, isn_c=None, isn_s=None):
        self.cli, self.srv = cli, srv  # (ip, port)
        self.isn = [rng.randrange(1 << 32) if isn_c is None else isn_c,
                    rng.randrange(1 << 32) if isn_s is None else isn_s]

    def _pkt(self, net, d, seq, ack, flags, data=b"", **tkw):
        a, b = (self.cli, self.srv) if d == 0 else (self.srv, self.cli)
        seg = tcp(a[0], b[0], a[1], b[1], seq, ack, flags, data, **tkw)
        return net.frame(net.ip(a[0], b[0], 6, seg), outbound=(d == 0))

    def render(self, net, evs, handshake=True, close="fin", data_opts=b"", fin_first=None):
        """Returns a list of link-layer frames.  close: "fin", "rst", None.
        data_opts: TCP options on every data segment (e.g. timestamps)."""
        frames = []
        base = [self.isn[0] + 1, self.isn[1] + 1]
        total = [0, 0]
        for e in evs:
            total[e.dir] = max(total[e.dir], e.off + len(e.data))
        seen = [0, 0]  # highest byte sent so far per direction (for acks)
        if handshake:
            frames.append(self._pkt(net, 0, self.isn[0], 0, SYN, options=b"\x02\x04\x05\xb4"))
            frames.append(self._pkt(net, 1, self.isn[1], base[0], SYN | ACK,
                                    options=b"\x02\x04\x05\xb4"))
            frames.append(self._pkt(net, 0, base[0], base[1], ACK))
        late = None
        if fin_first is not None:
            # the last data segment of direction fin_first arrives after its FIN
            k = max(i for i, e in enumerate(evs) if e.dir == fin_first)
            late = evs[k]
            evs = evs[:k] + evs[k + 1:]

        def data(e):
            o = 1 - e.dir
            frames.append(self._pkt(net, e.dir, base[e.dir] + e.off, base[o] + seen[o], e.flags, e.data,
                                    options=data_opts))
            seen[e.dir] = max(seen[e.dir], e.off + len(e.data))
        for e in evs:
            data(e)
        end = [base[0] + total[0], base[1] + total[1]]
        if late is not None:
            d = late.dir
            frames.append(self._pkt(net, d, end[d], end[1 - d], FIN | ACK))
            data(late)
            frames.append(self._pkt(net, 1 - d, end[1 - d], end[d] + 1, FIN | ACK))
            frames.append(self._pkt(net, d, end[d] + 1, end[1 - d] + 1, ACK))
        elif close == "fin":
            frames.append(self._pkt(net, 0, end[0], end[1], FIN | ACK))
            frames.append(self._pkt(net, 1, end[1], end[0] + 1, FIN | ACK))
            frames.append(self._pkt(net, 0, end[0] + 1, end[1] + 1, ACK))
        elif close == "rst":
            frames.append(self._pkt(net, 1, end[1], end[0], RST | ACK))
        return frames


def udp_frames(net, src, dst, sport, dport, payloads, no_csum=False):
    return [net.frame(net.ip(src, dst, 17, udp(src, dst, sport, dport, p, no_csum and _ip(src).version == 4)))
            for p in payloads]


# ---------------------------------------------------------------- IP fragments


def link_header_len(net):
    """Bytes of link header Net.frame puts before the IP packet."""
    if net.link == LINK_ETHERNET:
        return 14 + 4 * len(net.vlans)
    return {LINK_SLL: 16, LINK_SLL2: 20, LINK_RAW: 0}[net.link]


def ip_fragments(ippkt, size, ident=None, proto=None):
    """Splits an IP packet (IPv4, or IPv6 without extension headers) into
    fragments of at most size payload bytes (rounded down to a multiple of 8),
    as a router would: DF cleared, MF/M on all but the last.  ident/proto
    override the IP id and the protocol field (for decoys)."""
    size = max(8, size // 8 * 8)
    out = []
    if ippkt[0] >> 4 == 4:
        ihl = (ippkt[0] & 15) * 4
        tot = struct.unpack("!H", ippkt[2:4])[0]
        hdr, data = bytearray(ippkt[:ihl]), ippkt[ihl:tot]
        if ident is not None:
            hdr[4:6] = struct.pack("!H", ident & 0xFFFF)
        if proto is not None:
            hdr[9] = proto
        for off in range(0, len(data), size):
            piece = data[off:off + size]
            h = bytearray(hdr)
            h[2:4] = struct.pack("!H", ihl + len(piece))
            h[6:8] = struct.pack("!H", (0x2000 if off + size < len(data) else 0) | off // 8)
            h[10:12] = b"\0\0"
            h[10:12] = struct.pack("!H", csum(bytes(h)))
            out.append(bytes(h) + piece)
        return out
    plen = struct.unpack("!H", ippkt[4:6])[0]
    nh, data = ippkt[6], ippkt[40:40 + plen]
    if nh in _EXT_NH.values():
        raise ValueError("ip_fragments: IPv6 extension headers not supported")
    ident = 0x5eed0000 | len(data) if ident is None else ident
    for off in range(0, len(data), size):
        piece = data[off:off + size]
        h = bytearray(ippkt[:40])
        h[4:6] = struct.pack("!H", 8 + len(piece))
        h[6] = 44
        more = 1 if off + size < len(data) else 0
        fh = struct.pack("!BBHI", nh if proto is None else proto, 0, off | more, ident & 0xFFFFFFFF)
        out.append(bytes(h) + fh + piece)
    return out


def reorder_fragments(frags, order, rng):
    """inorder, reverse, shuffle, first_last (the first fragment arrives
    last), overlap_junk (every fragment again afterwards, its bytes replaced
    by junk: first copy wins), dup (some fragments twice)."""
    f = list(frags)
    if order == "reverse":
        f.reverse()
    elif order == "shuffle":
        rng.shuffle(f)
    elif order == "first_last":
        f = f[1:] + f[:1]
    elif order == "overlap_junk":
        junk = []
        for x in f:
            hl = (x[0] & 15) * 4 if x[0] >> 4 == 4 else 48
            junk.append(x[:hl] + b"Z" * (len(x) - hl))
        f = f + junk
    elif order == "dup":
        f = [x for x in f for _ in range(1 + (rng.random() < 0.5))]
    return f


def fragment_frames(net, frames, size, order, rng):
    """Replaces every frame whose IP payload is longer than size by a list of
    fragment frames (kept together: the writer puts them back to back)."""
    lh = link_header_len(net)
    out = []
    for fr in frames:
        ip = fr[lh:]
        v = ip[0] >> 4
        body = (struct.unpack("!H", ip[2:4])[0] - (ip[0] & 15) * 4) if v == 4 else \
            struct.unpack("!H", ip[4:6])[0]
        if body <= size:
            out.append(fr)
            continue
        frs = reorder_fragments(ip_fragments(ip, size), order, rng)
        out.append([fr[:lh] + x for x in frs])  # same link header (no length in it)
    return out


# ---------------------------------------------------------------- malformed


def malformed_frames(net, src, dst, sport, dport, payload):
    """Frames every parser must reject; each carries payload where a sloppy
    parser might look for it."""
    out = []
    v4 = _ip(src).version == 4
    seg = tcp(src, dst, sport, dport, 1000, 1, ACK | PSH, payload)
    if v4:
        good = ipv4(src, dst, 6, seg)
        out.append(("truncated_ip", net.frame(good[:14])))  # IP header cut short
        out.append(("bad_ihl", net.frame(ipv4(src, dst, 6, seg, ihl_override=3))))
        out.append(("ihl_beyond", net.frame(ipv4(src, dst, 6, seg, ihl_override=15)[:20 + 12])))
        out.append(("total_len_short", net.frame(ipv4(src, dst, 6, seg, total_len_override=12))))
    else:
        good = ipv6(src, dst, 6, seg)
        out.append(("truncated_ip", net.frame(good[:30])))
    bad_doff = tcp(src, dst, sport, dport, 1000, 1, ACK | PSH, payload[:8], doff_override=15)
    out.append(("tcp_doff_beyond", net.frame(net.ip(src, dst, 6, bad_doff))))
    bad_doff2 = tcp(src, dst, sport, dport, 1000, 1, ACK | PSH, payload, doff_override=2)
    out.append(("tcp_doff_small", net.frame(net.ip(src, dst, 6, bad_doff2))))
    out.append(("truncated_tcp", net.frame(net.ip(src, dst, 6, seg[:11]))))
    return out
