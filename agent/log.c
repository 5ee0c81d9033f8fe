/* Leveled logging to stderr, with a timestamp and level on each line. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <bpf/libbpf.h>

#include "agent/log.h"

static enum tern_log_level cur_level = TERN_LOG_INFO;
static const char *const level_names[] = { "error", "warn", "info", "debug" };

void log_set_level(enum tern_log_level lvl)
{
	cur_level = lvl;
}

enum tern_log_level log_get_level(void)
{
	return cur_level;
}

int log_level_parse(const char *s, enum tern_log_level *out)
{
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	return -EINVAL;
}

static void log_vmsg(enum tern_log_level lvl, const char *fmt, va_list ap)
{
	struct timespec ts;
	struct tm tm;
	char stamp[32];
	char line[4096];
	size_t n;

	if (lvl > cur_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = '\0';
	fprintf(stderr, "%s.%03ld %-5s %s\n", stamp, ts.tv_nsec / 1000000,
		level_names[lvl], line);
}

void log_msg(enum tern_log_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(lvl, fmt, ap);
	va_end(ap);
}

static int libbpf_print(enum libbpf_print_level lvl, const char *fmt, va_list ap)
{
	enum tern_log_level ours = lvl == LIBBPF_WARN ? TERN_LOG_INFO : TERN_LOG_DEBUG;

	if (ours > cur_level)
		return 0;
	char buf[4096];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	log_msg(ours, "libbpf: %s", buf);
	return 0;
}

void log_route_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}

const char *errno_hint(int err)
{
	if (err < 0)
		err = -err;
	switch (err) {
	case E2BIG:
		return " (map full: raise its size in the config)";
	case EPERM:
		return " (needs root or CAP_BPF+CAP_NET_ADMIN, and a high enough RLIMIT_MEMLOCK)";
	case ENOENT:
		return " (not found: is bpffs mounted and the pin path right?)";
	case EINVAL:
		return " (rejected by the kernel: too old a kernel, or a wrong argument)";
	}
	return "";
}
