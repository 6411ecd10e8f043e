/* fuzz_control.c - one control-socket request (the frames after the
 * routing envelope) must never crash the gateway: any frame count, topic
 * and body, including bundles whose hash was recomputed after mutation and
 * chunked uploads (begin/part/end; state carries over between inputs).
 * Input: frames separated by the 4 bytes "\n--\n"; a body frame whose first
 * byte is '#' gets its bundle hash fixed first (the byte is dropped). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"

static void drop(void *ud, struct matcher *m)
{
	(void)ud;
	matcher_unref(m);
}

static void quiet(void *ud, const char *line)
{
	(void)ud, (void)line;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct control *c;
	char err[512], reply[1400];
	if (!c) {
		/* no socket: requests go straight to control_handle; rollback is
		 * allowed so every version reaches the loader */
		struct control_config cc = {.allow_rollback = 1, .log = quiet};
		c = control_start(&cc, drop, NULL, err, sizeof(err));
		if (!c)
			abort();
	}
	uint8_t *copy = malloc(size + 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	const uint8_t *fr[8];
	size_t fl[8];
	int n = 0;
	size_t start = 0;
	for (size_t i = 0; i <= size && n < 8; i++) {
		if (i == size || (i + 4 <= size && !memcmp(copy + i, "\n--\n", 4))) {
			fr[n] = copy + start;
			fl[n] = i - start;
			if (fl[n] && fr[n][0] == '#') {
				fr[n]++;
				fl[n]--;
				bundle_fix_hash((uint8_t *)fr[n], fl[n]);
			}
			n++;
			start = i + 4;
			i += 3;
		}
	}
	control_handle(c, n, fr, fl, reply, sizeof(reply));
	if (!memchr(reply, 0, sizeof(reply)))
		abort();
	free(copy);
	return 0;
}
