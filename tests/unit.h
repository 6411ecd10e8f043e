/* unit.h - a minimal test harness.
 *
 * Each TEST prints "ok - name" or "not ok - name" (TAP-like); tests/run.sh
 * counts these lines across every test program and script.
 */
#ifndef TSF_UNIT_H
#define TSF_UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_failed_checks;
static int unit_passed, unit_failed;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "  %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			unit_failed_checks++;                                                      \
		}                                                                                  \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
	do {                                                                                       \
		long long _a = (long long)(a), _b = (long long)(b);                                \
		if (_a != _b) {                                                                    \
			fprintf(stderr, "  %s:%d: %s == %lld, expected %s == %lld\n", __FILE__,    \
			        __LINE__, #a, _a, #b, _b);                                         \
			unit_failed_checks++;                                                      \
		}                                                                                  \
	} while (0)

#define CHECK_STR(a, b)                                                                            \
	do {                                                                                       \
		const char *_a = (a), *_b = (b);                                                   \
		if (!_a || !_b || strcmp(_a, _b)) {                                                \
			fprintf(stderr, "  %s:%d: \"%s\" != \"%s\"\n", __FILE__, __LINE__,         \
			        _a ? _a : "(null)", _b ? _b : "(null)");                           \
			unit_failed_checks++;                                                      \
		}                                                                                  \
	} while (0)

#define RUN(fn)                                                                                    \
	do {                                                                                       \
		int _before = unit_failed_checks;                                                  \
		fn();                                                                              \
		if (unit_failed_checks == _before) {                                               \
			unit_passed++;                                                             \
			printf("ok - %s\n", #fn);                                                  \
		} else {                                                                           \
			unit_failed++;                                                             \
			printf("not ok - %s\n", #fn);                                              \
		}                                                                                  \
		fflush(stdout);                                                                    \
	} while (0)

#define UNIT_DONE() (unit_failed ? 1 : 0)

#endif
