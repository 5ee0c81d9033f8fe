/* Leveled logging to stderr; libbpf's own messages go through it one level down. */
#ifndef TERN_LOG_H
#define TERN_LOG_H

enum tern_log_level {
	TERN_LOG_ERROR = 0,
	TERN_LOG_WARN = 1,
	TERN_LOG_INFO = 2,
	TERN_LOG_DEBUG = 3,
};

void log_set_level(enum tern_log_level lvl);
enum tern_log_level log_get_level(void);
/* "error" "warn" "info" "debug" -> level; -EINVAL for anything else */
int log_level_parse(const char *s, enum tern_log_level *out);
void log_msg(enum tern_log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Route libbpf's print callback through log_msg, one level down
 * (libbpf warnings become our info, its info our debug). */
void log_route_libbpf(void);

#define log_error(...) log_msg(TERN_LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(TERN_LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(TERN_LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(TERN_LOG_DEBUG, __VA_ARGS__)

/* Hint for errnos with a known cause, or "" (E2BIG: map full, EPERM: caps). */
const char *errno_hint(int err);

#endif
