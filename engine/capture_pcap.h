/* capture_pcap.h - reading capture files (pcap, pcapng via libpcap). */
#ifndef TSF_CAPTURE_PCAP_H
#define TSF_CAPTURE_PCAP_H

#include <signal.h>

#include "engine.h"

/* Feeds every packet of the file to the engine.  Returns 0, or -1 if the
 * file cannot be opened (message printed).  A corrupt record stops the file
 * with a warning and counts capture_errors; what was read stays processed. */
int capture_pcap_file(struct engine *e, const char *path, volatile sig_atomic_t *stop,
                      struct tsf_stats *st);

#endif
