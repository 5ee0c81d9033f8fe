/* ternctl: what its subcommands share: the run context, reading pinned maps,
 * text formatting (addresses, durations, aligned tables) and JSON output. */
#ifndef TERN_CTL_H
#define TERN_CTL_H

#include <stddef.h>
#include <stdio.h>
#include <json-c/json.h>
#include <linux/types.h>
#include <tern/addr.h>

struct ctl {
	const char *pin_path; /* no trailing slash */
	int json;             /* -o json */
	int all;              /* --all: also what is zero or empty */
	int asm_listing;      /* --asm: policy programs' instructions too */
	const char *wl_prefix; /* workload interface prefix (bpf.workloadInterfacePrefix) */
	int argc;             /* positional arguments after the command words */
	char **argv;
};

/* The subcommands, one per file. 0 or -errno; they print their own errors. */
int ct__dump(struct ctl *c);
int counters__show(struct ctl *c);
int status__show(struct ctl *c);
int nat__dump(struct ctl *c);
int nat__affinity(struct ctl *c);
int policy__dump(struct ctl *c);
int ipsets__dump(struct ctl *c);

/* "ternctl: " + message on stderr. */
void ctl__err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* dir/name into buf; 0 or -ENAMETOOLONG. */
int ctl__path(char *buf, size_t len, const char *dir, const char *name);
/* Print why opening PIN/name failed, with a hint; returns err. */
int ctl__open_failed(const char *path, int err);

/* Whether fd is a BPF object of kind "map", "prog" or "link" (pinned
 * objects of every kind look alike in bpffs); 1 when /proc cannot tell. */
int ctl__fd_is(int fd, const char *kind);

/* Open the pinned map PIN/name read-only and check its key and value sizes
 * against this build's ABI (0: any), so a map of another layout is never
 * misread. fd, or -errno after printing why. */
int ctl__map_open(const struct ctl *c, const char *name, __u32 key_size, __u32 value_size);

/* One batch of entries; per-CPU maps hold one 8-byte-aligned value per
 * possible CPU in each entry's value. Return non-zero to stop the walk. */
struct map_walk {
	__u32 type;
	__u32 key_size;
	__u32 value_size; /* bytes per entry in values */
};
typedef int (*map_walk_fn)(const struct map_walk *w, const void *keys, const void *values,
			   __u32 n, void *arg);
/* Every entry of the map, in batches where the map type has batch ops (a
 * bucket-by-bucket pass that entries changing meanwhile cannot restart),
 * key by key where not (LPM tries). 0, fn's non-zero return, or -errno. */
int ctl__map_walk(int fd, map_walk_fn fn, void *arg);

/* The whole map in memory. */
struct map_dump {
	struct map_walk w;
	size_t n;
	void *keys;
	void *values;
};
int ctl__map_dump(int fd, struct map_dump *d);
void map_dump__free(struct map_dump *d);
/* Entries in use: max_entries for arrays (always full), else a walk. */
long ctl__map_count(int fd);

/* CLOCK_MONOTONIC now, the clock bpf_ktime_get_ns reads. */
__u64 ctl__now_ns(void);

/* Print o to stdout (pretty, '/' unescaped) and release it. 0 or -ENOMEM. */
int ctl__json_print(struct json_object *o);

/* A JSON array printed element by element, so a map of a million entries
 * never sits in memory as one json-c tree (5x faster for a big conntrack). */
struct json_stream {
	size_t n;
};
void ctl__json_array_begin(struct json_stream *js);
/* Print o as the next element and release it. 0 or -ENOMEM. */
int ctl__json_array_add(struct json_stream *js, struct json_object *o);
void ctl__json_array_end(struct json_stream *js);

/* Formatting: each writes into buf and returns it. */
#define FMT_ADDR_LEN 46 /* INET6_ADDRSTRLEN */
#define FMT_EP_LEN 56   /* "[" addr "]:" port */
const char *fmt_addr(const struct tern_addr *a, char *buf, size_t len);
/* addr:port, IPv6 in brackets; port in host order. */
const char *fmt_endpoint(const struct tern_addr *a, __u16 port, char *buf, size_t len);
/* "45s", "3m07s", "2h05m", "4d03h". */
const char *fmt_duration(__u64 ns, char *buf, size_t len);
/* TCP flag bits as letters in bit order (FSRPAUEC), "-" for none. */
const char *fmt_tcp_flags(__u8 flags, char *buf, size_t len);
/* The name of TCP flag bit 0..7: "FIN" .. "CWR". */
const char *tcp_flag_name(int bit);
/* "tcp", "udp", "icmp", ... or the number. */
const char *fmt_proto(__u8 proto, char *buf, size_t len);

/* An aligned text table: rows of strings, columns as wide as their widest
 * cell, two spaces apart; the first row is the heading. */
struct table {
	size_t ncols;
	size_t nrows;
	size_t cap;
	unsigned right; /* bit i: column i is right-aligned (numbers) */
	char **cells;
};
void table__init(struct table *t, size_t ncols, unsigned right);
/* Append a row of ncols strings (copied; NULL shows as "-"). 0 or -ENOMEM. */
int table__row(struct table *t, ...);
void table__print(const struct table *t, FILE *f, const char *indent);
void table__free(struct table *t);

#endif
