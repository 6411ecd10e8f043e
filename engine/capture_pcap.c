/* capture_pcap.c - capture files through libpcap (classic pcap and pcapng,
 * nanosecond timestamps when the file has them). */
#include "capture_pcap.h"

#include <pcap/pcap.h>
#include <stdio.h>

int capture_pcap_file(struct engine *e, const char *path, volatile sig_atomic_t *stop,
                      struct tsf_stats *st)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	pcap_t *pc =
	    pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, errbuf);
	if (!pc) {
		fprintf(stderr, "tapsift: %s: %s\n", path, errbuf);
		st->capture_errors++;
		return -1;
	}
	int dlt = pcap_datalink(pc);
	struct pcap_pkthdr *h;
	const u_char *data;
	int rc = 0;
	while (!*stop && (rc = pcap_next_ex(pc, &h, &data)) >= 0) {
		if (rc == 0)
			continue;
		st->packets++;
		st->bytes += h->caplen;
		struct tsf_pkt p;
		struct tsf_frag frag;
		enum pkt_result r = pkt_parse_frag(data, h->caplen, dlt, &p, &frag);
		uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000000ull + (uint64_t)h->ts.tv_usec;
		if (r == PKT_FRAGMENT) {
			engine_fragment(e, &frag, ts, 0);
			continue;
		}
		if (r != PKT_OK) {
			engine_count(e, r, h->caplen);
			continue;
		}
		p.ts_ns = ts;
		p.ifindex_dir = 0;
		engine_packet(e, &p);
	}
	if (!*stop && rc == PCAP_ERROR) {
		fprintf(stderr, "tapsift: %s: %s (packets before it were processed)\n", path,
		        pcap_geterr(pc));
		st->capture_errors++;
	}
	pcap_close(pc);
	return 0;
}
