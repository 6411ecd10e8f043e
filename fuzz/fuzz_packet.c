/* fuzz_packet.c - packet parsing and the whole flow engine behind it.
 *
 * The input is a sequence of frames: [u8 linktype selector][u16 length]
 * [frame bytes]...; each parsed frame goes through the engine (one worker),
 * so IP and TCP reassembly, decoding, normalization and matching all see
 * hostile data.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "match.h"
#include "normalize.h"
#include "packet.h"
#include "ruleset.h"

static struct ruleset rs;
static struct matcher *m;

static void drop(struct vsink *s, const struct tsf_verdict *v)
{
	(void)s;
	char buf[4096];
	verdict_to_json(v, buf, sizeof(buf)); /* exercise formatting too */
}

static struct vsink sink = {drop, NULL, NULL};

static const int links[4] = {TSF_LINK_ETHERNET, TSF_LINK_RAW, TSF_LINK_SLL, TSF_LINK_SLL2};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!m) {
		static const char rules[] =
		    "1 a \"free\"\n2 b \"免费领取\"\n3 c /ab+c/i\n4 d \"GET\" raw\n";
		char err[256];
		ruleset_init(&rs);
		ruleset_add_buffer(&rs, "f", rules, sizeof(rules) - 1, err, sizeof(err));
		ruleset_finish(&rs);
		m = matcher_build(&rs, NORM_ALL, err, sizeof(err));
		if (!m)
			return 0;
	}
	struct engine_config cfg;
	engine_config_default(&cfg);
	cfg.threads = 1;
	cfg.max_flows = 64;
	cfg.reasm_memcap_flow = 4096;
	cfg.reasm_memcap_global = 16384;
	struct engine *e = engine_new(&cfg, m, &sink);
	if (!e)
		return 0;
	uint64_t ts = 1;
	while (size >= 3) {
		int lt = links[data[0] & 3];
		size_t len = (size_t)data[1] << 8 | data[2];
		data += 3;
		size -= 3;
		if (len > size)
			len = size;
		struct tsf_pkt p;
		struct tsf_frag fr;
		enum pkt_result r = pkt_parse_frag(data, len, lt, &p, &fr);
		if (r == PKT_OK) {
			p.ts_ns = ts++ * 1000000000ull;
			engine_packet(e, &p);
		} else if (r == PKT_FRAGMENT) {
			engine_fragment(e, &fr, ts++ * 1000000000ull, 0);
		} else {
			engine_count(e, r, len);
		}
		data += len;
		size -= len;
	}
	engine_free(e);
	return 0;
}
