/* fuzz_defrag.c - IP fragment reassembly on hostile fragment sequences.
 *
 * The input is a sequence of fragments: [u8 flags][u16 offset/8 or raw]
 * [u16 length][u8 time step][data...]; flags pick the IP version, the MF
 * bit, a cut-short capture, one of a few ids/protocols/addresses (so that
 * datagrams collide and interleave) and whether the offset is aligned.  A
 * small memcap, table and timeout make every limit trip.  Checked: memory
 * held stays under the memcap, a completed datagram is at most 65535 bytes
 * and parses (or is refused) as L4 without reading out of bounds, and
 * everything is released at the end.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "defrag.h"
#include "packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tsf_stats st;
	struct defrag_config c;
	defrag_config_default(&c);
	/* the input's length picks the memcap, down to less than one
	 * datagram's bookkeeping (nothing to evict then) */
	static const size_t caps[] = {64 << 10, 100, 4096, 200000};
	c.memcap = caps[size % 4];
	c.max_datagrams = 8;
	c.timeout_s = 2;
	struct defrag *d = defrag_new(&c, &st);
	if (!d)
		return 0;
	uint64_t ts = 1000000000ull;
	while (size >= 6) {
		uint8_t fl = data[0];
		uint32_t off = (uint32_t)data[1] << 8 | data[2];
		uint32_t len = (uint32_t)data[3] << 8 | data[4];
		ts += (uint64_t)data[5] * 50000000ull; /* up to 12.75 s a step */
		data += 6;
		size -= 6;
		if (len > size)
			len = (uint32_t)size;
		struct tsf_frag f;
		memset(&f, 0, sizeof(f));
		f.ipver = fl & 1 ? 6 : 4;
		f.more = (fl >> 1) & 1;
		f.truncated = (fl & 0xfc) == 0xfc; /* rare */
		f.id = (fl >> 2) & 3;
		f.proto = (fl >> 4) & 1 ? TSF_PROTO_TCP : TSF_PROTO_UDP;
		f.src[0] = (uint8_t)((fl >> 5) & 1);
		f.offset = (fl >> 6) & 1 ? off : (off & 0x1fff) * 8; /* raw: maybe unaligned */
		f.hdr_len = (fl >> 7) & 1 ? 20 : 40;
		f.data = data;
		f.len = len;
		struct defrag_dgram g;
		if (defrag_add(d, &f, ts, 0, &g)) {
			if (g.len > 65535)
				abort();
			/* read it all: ASan catches a short buffer */
			volatile uint8_t x = 0;
			for (uint32_t i = 0; i < g.len; i++)
				x ^= g.data[i];
			(void)x;
			struct tsf_pkt p;
			memset(&p, 0, sizeof(p));
			if (pkt_parse_l4(g.ipver, g.proto, g.data, g.len, &p) == PKT_OK &&
			    (p.payload < g.data || p.payload + p.len > g.data + g.len))
				abort();
		}
		if (defrag_used(d) > c.memcap || defrag_count(d) > c.max_datagrams)
			abort();
		data += len;
		size -= len;
	}
	defrag_flush(d);
	if (defrag_used(d) != 0 || defrag_count(d) != 0)
		abort();
	defrag_free(d);
	return 0;
}
