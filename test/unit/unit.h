/* A tiny unit-test harness: each test_*.c is one program; every TEST
 * prints "ok unit/<file>/<name>" or "FAIL unit/<file>/<name>: why". */
#ifndef TERN_UNIT_H
#define TERN_UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_failed_checks;
static const char *unit_file;

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "  %s:%d: CHECK(%s) failed\n",         \
				__FILE__, __LINE__, #cond);                    \
			unit_failed_checks++;                                  \
		}                                                              \
	} while (0)

#define CHECK_STR(got, want)                                                   \
	do {                                                                   \
		const char *g_ = (got), *w_ = (want);                          \
		if (!g_ || !w_ || strcmp(g_, w_) != 0) {                       \
			fprintf(stderr, "  %s:%d: got \"%s\", want \"%s\"\n",  \
				__FILE__, __LINE__, g_ ? g_ : "(null)",        \
				w_ ? w_ : "(null)");                           \
			unit_failed_checks++;                                  \
		}                                                              \
	} while (0)

#define CHECK_INT(got, want)                                                   \
	do {                                                                   \
		long long g_ = (long long)(got), w_ = (long long)(want);       \
		if (g_ != w_) {                                                \
			fprintf(stderr, "  %s:%d: %s = %lld, want %lld\n",     \
				__FILE__, __LINE__, #got, g_, w_);             \
			unit_failed_checks++;                                  \
		}                                                              \
	} while (0)

static int unit_passed, unit_failed;

static inline void unit_run(const char *name, void (*fn)(void))
{
	int before = unit_failed_checks;

	fn();
	if (unit_failed_checks == before) {
		printf("ok unit/%s/%s\n", unit_file, name);
		unit_passed++;
	} else {
		printf("FAIL unit/%s/%s\n", unit_file, name);
		unit_failed++;
	}
	fflush(stdout);
}

#define RUN(fn) unit_run(#fn, fn)
#define UNIT_BEGIN(file) (unit_file = (file))
#define UNIT_END() (unit_failed ? 1 : 0)

#endif
