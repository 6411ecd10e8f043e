/* stats.c - summing and printing the counters declared in stats.h. */
#include "stats.h"

#include <inttypes.h>

void stats_add(struct tsf_stats *dst, const struct tsf_stats *src)
{
#define TSF_STATS_ADD(name, desc) dst->name += src->name;
	TSF_STATS(TSF_STATS_ADD)
#undef TSF_STATS_ADD
}

void stats_print(FILE *f, const struct tsf_stats *s, int all)
{
#define TSF_STATS_PRINT(name, desc)                                                                \
	if (all || s->name)                                                                        \
		fprintf(f, "  %-22s %12" PRIu64 "\n", #name, s->name);
	TSF_STATS(TSF_STATS_PRINT)
#undef TSF_STATS_PRINT
}
