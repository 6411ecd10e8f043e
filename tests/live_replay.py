#!/usr/bin/env python3
"""live_replay.py PCAP IFACE - replays a capture's frames onto a veth, for the
live demo (ebpf/live-demo.sh) and tests.

Runs inside `ip netns exec` on one end of a veth pair whose other end
tapsift watches.  Every address in the capture is first rewritten into
private test ranges (10.201.0.0/16, fd00:201::/64) so that nothing of the
recorded traffic's addresses is ever used; the frames stay on the veth pair
(the receiving side drops them after TC: they are not addressed to it).
"""
import socket
import struct
import sys

ETH_IP, ETH_IP6, ETH_VLAN = 0x0800, 0x86DD, 0x8100


def frames(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        e = "<"
    elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
        e = ">"
    else:
        sys.exit("not a classic pcap file (pcapng is not supported here)")
    linktype = struct.unpack(e + "I", data[20:24])[0]
    off = 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(e + "IIII", data[off:off + 16])
        yield linktype, data[off + 16:off + 16 + incl]
        off += 16 + incl


class Mapper:
    def __init__(self):
        self.v4, self.v6 = {}, {}

    def map4(self, a):
        if a not in self.v4:
            n = len(self.v4) + 1
            self.v4[a] = bytes([10, 201, n >> 8 & 255, n & 255])
        return self.v4[a]

    def map6(self, a):
        if a not in self.v6:
            n = len(self.v6) + 1
            self.v6[a] = socket.inet_pton(socket.AF_INET6, "fd00:201::%x" % n)
        return self.v6[a]


def ip_csum(h):
    s = sum(struct.unpack("!%dH" % (len(h) // 2), h))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def rewrite(linktype, fr, m):
    if linktype == 1:
        eth, l3 = fr[:14], bytearray(fr[14:])
        etype = struct.unpack("!H", fr[12:14])[0]
        if etype == ETH_VLAN:
            eth, l3 = fr[:18], bytearray(fr[18:])
            etype = struct.unpack("!H", fr[16:18])[0]
    elif linktype in (101, 12, 228, 229):
        l3 = bytearray(fr)
        etype = ETH_IP6 if l3 and l3[0] >> 4 == 6 else ETH_IP
        eth = b"\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02" + struct.pack("!H", etype)
    else:
        return None
    if etype == ETH_IP and len(l3) >= 20:
        l3[12:16] = m.map4(bytes(l3[12:16]))
        l3[16:20] = m.map4(bytes(l3[16:20]))
        ihl = (l3[0] & 15) * 4
        l3[10:12] = b"\0\0"
        l3[10:12] = struct.pack("!H", ip_csum(bytes(l3[:ihl])))
    elif etype == ETH_IP6 and len(l3) >= 40:
        l3[8:24] = m.map6(bytes(l3[8:24]))
        l3[24:40] = m.map6(bytes(l3[24:40]))
    else:
        return None
    return bytes(eth) + bytes(l3)


def main():
    path, iface = sys.argv[1], sys.argv[2]
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    m = Mapper()
    n = 0
    for lt, fr in frames(path):
        out = rewrite(lt, fr, m)
        if out:
            s.send(out)
            n += 1
    print("replayed %d frames onto %s" % (n, iface), file=sys.stderr)


if __name__ == "__main__":
    main()
