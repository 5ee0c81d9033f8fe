/* ternctl's text formatting: addresses, endpoints, durations, TCP flags,
 * protocol names, and aligned tables. Pure functions, no map access. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl.h"

const char *fmt_addr(const struct tern_addr *a, char *buf, size_t len)
{
	const void *src = tern_addr_is_v4(a) ? (const void *)&a->w[3] : (const void *)a->b;

	if (!inet_ntop(tern_addr_is_v4(a) ? AF_INET : AF_INET6, src, buf, len))
		snprintf(buf, len, "?");
	return buf;
}

const char *fmt_endpoint(const struct tern_addr *a, __u16 port, char *buf, size_t len)
{
	char ip[FMT_ADDR_LEN];

	fmt_addr(a, ip, sizeof(ip));
	snprintf(buf, len, tern_addr_is_v4(a) ? "%s:%u" : "[%s]:%u", ip, port);
	return buf;
}

const char *fmt_duration(__u64 ns, char *buf, size_t len)
{
	unsigned long long s = ns / 1000000000ULL;

	if (s < 60)
		snprintf(buf, len, "%llus", s);
	else if (s < 3600)
		snprintf(buf, len, "%llum%02llus", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%lluh%02llum", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, len, "%llud%02lluh", s / 86400, s % 86400 / 3600);
	return buf;
}

static const char tcp_letters[] = "FSRPAUEC";
static const char *const tcp_names[] = { "FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR" };

const char *tcp_flag_name(int bit)
{
	return bit >= 0 && bit < 8 ? tcp_names[bit] : "?";
}

const char *fmt_tcp_flags(__u8 flags, char *buf, size_t len)
{
	size_t n = 0;

	if (len < 9) {
		snprintf(buf, len, "?");
		return buf;
	}
	for (int bit = 0; bit < 8; bit++)
		if (flags & (1U << bit))
			buf[n++] = tcp_letters[bit];
	if (!n)
		buf[n++] = '-';
	buf[n] = '\0';
	return buf;
}

const char *fmt_proto(__u8 proto, char *buf, size_t len)
{
	switch (proto) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_SCTP:
		return "sctp";
	case IPPROTO_ICMP:
		return "icmp";
	case IPPROTO_ICMPV6:
		return "icmpv6";
	}
	snprintf(buf, len, "%u", proto);
	return buf;
}

void table__init(struct table *t, size_t ncols, unsigned right)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
	t->right = right;
}

int table__row(struct table *t, ...)
{
	va_list ap;
	int err = 0;

	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **cells = realloc(t->cells, cap * t->ncols * sizeof(*cells));

		if (!cells)
			return -ENOMEM;
		t->cells = cells;
		t->cap = cap;
	}
	char **row = t->cells + t->nrows * t->ncols;

	va_start(ap, t);
	for (size_t i = 0; i < t->ncols; i++) {
		const char *s = va_arg(ap, const char *);

		row[i] = strdup(s ? s : "-");
		if (!row[i])
			err = -ENOMEM;
	}
	va_end(ap);
	if (err) {
		for (size_t i = 0; i < t->ncols; i++)
			free(row[i]);
		return err;
	}
	t->nrows++;
	return 0;
}

void table__print(const struct table *t, FILE *f, const char *indent)
{
	size_t width[32] = { 0 };
	size_t ncols = t->ncols < 32 ? t->ncols : 32;

	for (size_t r = 0; r < t->nrows; r++)
		for (size_t i = 0; i < ncols; i++) {
			size_t w = strlen(t->cells[r * t->ncols + i]);

			if (w > width[i])
				width[i] = w;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		fputs(indent, f);
		for (size_t i = 0; i < ncols; i++) {
			const char *s = t->cells[r * t->ncols + i];
			int last = i + 1 == ncols;

			if (t->right & (1U << i))
				fprintf(f, "%*s", (int)width[i], s);
			else if (last)
				fputs(s, f); /* no trailing blanks */
			else
				fprintf(f, "%-*s", (int)width[i], s);
			if (!last)
				fputs("  ", f);
		}
		fputc('\n', f);
	}
}

void table__free(struct table *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}
