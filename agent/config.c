/* ternd's config: one schema table (key, type, field, default, limits,
 * help) that drives defaults, loading, validation and the printed schema. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/config.h"
#include "agent/doc.h"

enum opt_type {
	OPT_STRING,   /* char *; .choices, when set, restricts the value */
	OPT_ENUM,     /* int: the value's index in .choices */
	OPT_STRLIST,  /* char **, its count (size_t) at .off_n */
	OPT_U32,      /* uint32_t in min..max */
	OPT_DURATION, /* uint32_t seconds in min..max: 30, 30s, 5m, 1h30m */
	OPT_BOOL,     /* int 0/1: true/false (also yes/no/on/off) */
	OPT_PORT_RANGE, /* struct tern_port_range: "MIN-MAX" within min..max,
	                 * at least .span ports */
};

struct opt {
	const char *key;                 /* dotted path in the YAML */
	enum opt_type type;
	size_t off;                      /* the field in struct tern_config */
	size_t off_n;                    /* OPT_STRLIST: the count's field */
	const char *def;                 /* default, written as in the file */
	void (*def_fn)(char *buf, size_t len); /* a computed default instead */
	uint32_t min, max;               /* OPT_U32, OPT_DURATION, OPT_PORT_RANGE */
	uint32_t span;                   /* OPT_PORT_RANGE: the fewest ports */
	const char *const *choices;      /* NULL-terminated */
	/* Further checks of a string or of each list item: 0, or -EINVAL
	 * with why filled. */
	int (*check)(const char *s, char *why, size_t len);
	const char *help;
};

#define F(field) offsetof(struct tern_config, field)
#define STR_(x) #x
#define STR(x) STR_(x)
#define HOUR 3600U
#define DAY (24 * HOUR)
/* A workload interface is named prefix + this many hex digits of a hash. */
#define WL_HASH_DIGITS 11
#define WL_PREFIX_MAX (IFNAMSIZ - 1 - WL_HASH_DIGITS)
/* A config file is a few hundred bytes; anything this big is a mistake. */
#define CONFIG_MAX_SIZE (1 << 20)
/* Source NAT holds at most one flow per port for each backend address,
 * port and protocol, and drops a new flow once eight random tries find
 * their ports taken: with fewer ports than this a busy backend (its closed
 * flows linger through tcpFinWait) runs out. */
#define SNAT_PORTS_MIN_SPAN 1000

/* OPT_ENUM stores the choice's index as an int */
_Static_assert(sizeof(enum datastore_type) == sizeof(int), "datastore_type is an int");

/* indexed by enum datastore_type */
static const char *const datastore_types[] = { "files", "kubernetes", NULL };
/* the names log_level_parse() takes */
static const char *const log_levels[] = { "error", "warn", "info", "debug", NULL };

static void node_name_default(char *buf, size_t len);
static int check_nonempty(const char *s, char *why, size_t len);
static int check_abs_path(const char *s, char *why, size_t len);
static int check_prefix(const char *s, char *why, size_t len);
static int check_ifname(const char *s, char *why, size_t len);
static int check_listen(const char *s, char *why, size_t len);

static const struct opt opts[] = {
	{ "nodeName", OPT_STRING, F(node_name), .def_fn = node_name_default, .check = check_nonempty,
	  .help = "this node's name, as in its Node object (default: $NODE_NAME, else the host "
		  "name, lowercased)" },
	{ "logLevel", OPT_STRING, F(log_level), .def = "info", .choices = log_levels,
	  .help = "the least severe messages logged" },
	{ "datastore.type", OPT_ENUM, F(datastore_type), .def = "files", .choices = datastore_types,
	  .help = "where pods, services and policies come from" },
	{ "datastore.path", OPT_STRING, F(datastore_path), .def = "/etc/tern/state",
	  .check = check_nonempty,
	  .help = "files: a directory of Kubernetes manifests, watched" },
	{ "datastore.kubeconfig", OPT_STRING, F(kubeconfig), .def = "",
	  .help = "kubernetes: a kubeconfig file; \"\" uses the in-cluster service account" },
	{ "bpf.pinPath", OPT_STRING, F(pin_path), .def = "/sys/fs/bpf/tern", .check = check_abs_path,
	  .help = "bpffs directory every map and link is pinned below" },
	{ "bpf.cgroupPath", OPT_STRING, F(cgroup_path), .def = "/sys/fs/cgroup", .check = check_abs_path,
	  .help = "cgroup v2 directory the sock_addr programs attach to" },
	{ "bpf.workloadInterfacePrefix", OPT_STRING, F(wl_prefix), .def = "tern", .check = check_prefix,
	  .help = "pods' host-side interfaces are this + 11 hex digits; 1..4 characters" },
	{ "bpf.dataInterfaces", OPT_STRLIST, F(data_ifaces), .off_n = F(n_data_ifaces),
	  .check = check_ifname,
	  .help = "host data interfaces the tc programs attach to" },
	{ "bpf.maxInterfaces", OPT_U32, F(max_interfaces), .def = "1024", .min = 2, .max = 65536,
	  .help = "interface state and counter slots" },
	{ "bpf.maxEndpoints", OPT_U32, F(max_endpoints), .def = "65536", .min = 16, .max = 16777216,
	  .help = "endpoint map entries (local and remote pods)" },
	{ "conntrack.maxEntries", OPT_U32, F(ct_max_entries), .def = STR(TERN_CT_DEFAULT_MAX),
	  .min = 1024, .max = 67108864,
	  .help = "conntrack map entries (one per flow)" },
	{ "conntrack.gcInterval", OPT_DURATION, F(ct_gc_interval), .def = "10s", .min = 1, .max = HOUR,
	  .help = "how often expired flows are removed" },
	{ "conntrack.timeouts.tcpSynSent", OPT_DURATION, F(ct_timeouts.tcp_syn), .def = "20s",
	  .min = 1, .max = 30 * DAY,
	  .help = "TCP flow idle timeout during the handshake" },
	{ "conntrack.timeouts.tcpEstablished", OPT_DURATION, F(ct_timeouts.tcp_established),
	  .def = "1h", .min = 1, .max = 30 * DAY,
	  .help = "established TCP flow idle timeout" },
	{ "conntrack.timeouts.tcpFinWait", OPT_DURATION, F(ct_timeouts.tcp_fin), .def = "30s",
	  .min = 1, .max = 30 * DAY,
	  .help = "TCP flow idle timeout once a FIN is seen" },
	{ "conntrack.timeouts.tcpReset", OPT_DURATION, F(ct_timeouts.tcp_rst), .def = "10s",
	  .min = 1, .max = 30 * DAY,
	  .help = "TCP flow timeout after a RST" },
	{ "conntrack.timeouts.udp", OPT_DURATION, F(ct_timeouts.udp), .def = "60s",
	  .min = 1, .max = 30 * DAY,
	  .help = "UDP flow idle timeout" },
	{ "conntrack.timeouts.icmp", OPT_DURATION, F(ct_timeouts.icmp), .def = "5s",
	  .min = 1, .max = 30 * DAY,
	  .help = "ICMP echo flow idle timeout" },
	{ "conntrack.timeouts.other", OPT_DURATION, F(ct_timeouts.other), .def = "10m",
	  .min = 1, .max = 30 * DAY,
	  .help = "idle timeout of flows of other protocols" },
	{ "services.connectTimeLB.tcp", OPT_BOOL, F(ctlb_tcp), .def = "true",
	  .help = "balance TCP services when sockets connect (off: NAT in tc)" },
	{ "services.connectTimeLB.udp", OPT_BOOL, F(ctlb_udp), .def = "true",
	  .help = "balance UDP services when sockets connect or send (off: NAT in tc)" },
	{ "services.connectTimeLB.sctp", OPT_BOOL, F(ctlb_sctp), .def = "true",
	  .help = "balance SCTP services when sockets connect (tc does not NAT SCTP)" },
	{ "services.snatPorts", OPT_PORT_RANGE, F(snat_ports), .def = "20000-29999",
	  .min = 1024, .max = 65535, .span = SNAT_PORTS_MIN_SPAN,
	  .help = "MIN-MAX, at least " STR(SNAT_PORTS_MIN_SPAN) " ports: the source ports of "
		  "traffic source-NATed to other nodes' endpoints; keep it clear of the host's "
		  "net.ipv4.ip_local_port_range" },
	{ "health.address", OPT_STRING, F(health_address), .def = "", .check = check_listen,
	  .help = "host:port or :port to serve health checks on; \"\" = off" },
};

#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

/* $NODE_NAME, which the DaemonSet sets from the pod's spec.nodeName (the
 * downward API): right even where kubelet registered the node under
 * another name (--hostname-override, cloud providers). Else kubelet's
 * default: the lowercased host name. */
static void node_name_default(char *buf, size_t len)
{
	const char *env = getenv("NODE_NAME");

	if (env && *env) {
		snprintf(buf, len, "%s", env);
		return;
	}
	if (gethostname(buf, len) || !buf[0])
		snprintf(buf, len, "localhost");
	buf[len - 1] = '\0';
	for (char *p = buf; *p; p++)
		*p = (char)tolower((unsigned char)*p);
}

static int check_nonempty(const char *s, char *why, size_t len)
{
	if (*s)
		return 0;
	snprintf(why, len, "must not be empty");
	return -EINVAL;
}

static int check_abs_path(const char *s, char *why, size_t len)
{
	if (s[0] == '/')
		return 0;
	snprintf(why, len, "expected an absolute path, got \"%s\"", s);
	return -EINVAL;
}

/* The kernel's rules (dev_valid_name), but for a name's characters only. */
static bool ifname_chars_ok(const char *s)
{
	for (; *s; s++) {
		if (*s == '/' || *s == ':' || isspace((unsigned char)*s))
			return false;
	}
	return true;
}

static int check_prefix(const char *s, char *why, size_t len)
{
	size_t n = strlen(s);

	if (n >= 1 && n <= WL_PREFIX_MAX && ifname_chars_ok(s))
		return 0;
	snprintf(why, len,
		 "expected 1..%d characters, no '/', ':' or whitespace (interface names are "
		 "the prefix and %d hex digits, at most %d), got \"%s\"",
		 WL_PREFIX_MAX, WL_HASH_DIGITS, IFNAMSIZ - 1, s);
	return -EINVAL;
}

static int check_ifname(const char *s, char *why, size_t len)
{
	size_t n = strlen(s);

	if (n >= 1 && n < IFNAMSIZ && ifname_chars_ok(s) && strcmp(s, ".") && strcmp(s, ".."))
		return 0;
	snprintf(why, len,
		 "expected an interface name (1..%d characters, no '/', ':' or whitespace), "
		 "got \"%s\"", IFNAMSIZ - 1, s);
	return -EINVAL;
}

/* "", ":port", "host:port", "[v6addr]:port" */
static int check_listen(const char *s, char *why, size_t len)
{
	const char *colon = strrchr(s, ':');
	char host[INET6_ADDRSTRLEN + 2];
	struct in6_addr a6;
	size_t hlen;
	int64_t port;

	if (!*s)
		return 0;
	if (!colon || colon[1] < '0' || colon[1] > '9' ||
	    doc_parse_int(colon + 1, 1, 65535, &port))
		goto bad;
	hlen = (size_t)(colon - s);
	if (hlen == 0)
		return 0;
	if (s[0] == '[') {
		if (hlen < 3 || s[hlen - 1] != ']' || hlen - 2 >= sizeof(host))
			goto bad;
		memcpy(host, s + 1, hlen - 2);
		host[hlen - 2] = '\0';
		if (inet_pton(AF_INET6, host, &a6) != 1)
			goto bad;
		return 0;
	}
	for (size_t i = 0; i < hlen; i++) {
		if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '-')
			goto bad;
	}
	return 0;
bad:
	snprintf(why, len, "expected host:port or :port (port 1..65535), got \"%s\"", s);
	return -EINVAL;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Seconds: a bare number, or number+unit groups with units in the order
 * h, m, s, each at most once: "30", "30s", "5m", "1h30m". */
static int parse_duration(const char *s, uint64_t *out)
{
	static const struct {
		char unit;
		uint32_t secs;
	} units[] = { { 'h', HOUR }, { 'm', 60 }, { 's', 1 } };
	size_t next_unit = 0;
	uint64_t total = 0;
	const char *p = s;

	if (!is_digit(*p))
		return -EINVAL;
	while (*p) {
		uint64_t v = 0;
		size_t u;

		if (!is_digit(*p))
			return -EINVAL;
		for (; is_digit(*p); p++) {
			v = v * 10 + (uint64_t)(*p - '0');
			if (v > UINT32_MAX)
				return -EINVAL;
		}
		if (!*p && p != s && total == 0 && next_unit == 0) {
			total = v; /* bare seconds */
			break;
		}
		for (u = next_unit; u < 3 && units[u].unit != *p; u++)
			;
		if (u == 3)
			return -EINVAL;
		p++;
		next_unit = u + 1;
		total += v * units[u].secs;
		if (total > UINT32_MAX)
			return -EINVAL;
	}
	*out = total;
	return 0;
}

/* 5400 -> "1h30m" */
static void fmt_duration(uint32_t secs, char *buf, size_t len)
{
	unsigned h = secs / HOUR, m = secs % HOUR / 60, s = secs % 60;
	int n = 0;

	buf[0] = '\0';
	if (h)
		n += snprintf(buf + n, len - (size_t)n, "%uh", h);
	if (m)
		n += snprintf(buf + n, len - (size_t)n, "%um", m);
	if (s || !secs)
		snprintf(buf + n, len - (size_t)n, "%us", s);
}

/* A port: 1..5 digits, no leading zero (as integers, see doc_parse_int). */
static int parse_port(const char **s, uint32_t *out)
{
	const char *start = *s;
	uint32_t v = 0;
	int n = 0;

	for (; is_digit(**s) && n < 6; (*s)++, n++)
		v = v * 10 + (uint32_t)(**s - '0');
	if (n == 0 || n > 5 || (n > 1 && *start == '0'))
		return -EINVAL;
	*out = v;
	return 0;
}

/* "MIN-MAX" into r, within o's min..max and at least o->span ports:
 * 0, or -EINVAL with why. */
static int parse_port_range(const struct opt *o, const char *s, struct tern_port_range *r,
			    char *why, size_t len)
{
	const char *p = s;
	uint32_t lo, hi;

	if (parse_port(&p, &lo) || *p++ != '-' || parse_port(&p, &hi) || *p) {
		snprintf(why, len, "expected MIN-MAX (like %s), got \"%s\"", o->def, s);
		return -EINVAL;
	}
	if (lo < o->min || hi > o->max) {
		snprintf(why, len, "ports must lie in %u..%u, got \"%s\"", o->min, o->max, s);
		return -EINVAL;
	}
	if (lo > hi) {
		snprintf(why, len, "MIN must not exceed MAX, got \"%s\"", s);
		return -EINVAL;
	}
	if (hi - lo + 1 < o->span) {
		snprintf(why, len, "at least %u ports, got %u in \"%s\"", o->span, hi - lo + 1, s);
		return -EINVAL;
	}
	r->min = (uint16_t)lo;
	r->max = (uint16_t)hi;
	return 0;
}

/* What a value of o looks like, for "expected ..." messages. */
static void opt_expect(const struct opt *o, char *buf, size_t len)
{
	char lo[32], hi[32];
	size_t n = 0;

	if (o->choices) {
		n = (size_t)snprintf(buf, len, "one of ");
		for (size_t i = 0; o->choices[i] && n < len; i++)
			n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? "|" : "", o->choices[i]);
		return;
	}
	switch (o->type) {
	case OPT_U32:
		snprintf(buf, len, "an integer in %u..%u", o->min, o->max);
		break;
	case OPT_DURATION:
		fmt_duration(o->min, lo, sizeof(lo));
		fmt_duration(o->max, hi, sizeof(hi));
		snprintf(buf, len, "a duration in %s..%s (like 30s, 5m, 1h30m)", lo, hi);
		break;
	case OPT_STRLIST:
		snprintf(buf, len, "a list");
		break;
	case OPT_BOOL:
		snprintf(buf, len, "true or false");
		break;
	case OPT_PORT_RANGE:
		snprintf(buf, len, "a port range MIN-MAX");
		break;
	default:
		snprintf(buf, len, "a string");
		break;
	}
}

static int set_str(char **field, const char *s)
{
	char *dup = strdup(s);

	if (!dup)
		return -ENOMEM;
	free(*field);
	*field = dup;
	return 0;
}

/* Set a scalar option from its text: 0, -ENOMEM, or -EINVAL with why. */
static int opt_set(const struct opt *o, struct tern_config *c, const char *s,
		   char *why, size_t len)
{
	char *field = (char *)c + o->off;
	char expect[128];
	int64_t i64;
	uint64_t u64;
	int idx = 0;

	opt_expect(o, expect, sizeof(expect));
	if (o->choices) {
		while (o->choices[idx] && strcmp(o->choices[idx], s))
			idx++;
		if (!o->choices[idx])
			goto bad;
	}
	if (o->check && o->check(s, why, len))
		return -EINVAL;
	switch (o->type) {
	case OPT_STRING:
		return set_str((char **)field, s);
	case OPT_ENUM:
		*(int *)field = idx;
		return 0;
	case OPT_U32:
		if (doc_parse_int(s, o->min, o->max, &i64))
			goto bad;
		*(uint32_t *)field = (uint32_t)i64;
		return 0;
	case OPT_DURATION:
		if (parse_duration(s, &u64) || u64 < o->min || u64 > o->max)
			goto bad;
		*(uint32_t *)field = (uint32_t)u64;
		return 0;
	case OPT_BOOL: {
		static const char *const yes[] = { "true", "True", "TRUE", "yes", "on", NULL };
		static const char *const no[] = { "false", "False", "FALSE", "no", "off", NULL };

		for (int i = 0; yes[i]; i++)
			if (!strcmp(s, yes[i]))
				return *(int *)field = 1, 0;
		for (int i = 0; no[i]; i++)
			if (!strcmp(s, no[i]))
				return *(int *)field = 0, 0;
		goto bad;
	}
	case OPT_PORT_RANGE:
		return parse_port_range(o, s, (struct tern_port_range *)field, why, len);
	case OPT_STRLIST:
		break;
	}
	snprintf(why, len, "cannot be set from text");
	return -EINVAL;
bad:
	snprintf(why, len, "expected %s, got \"%s\"", expect, s);
	return -EINVAL;
}

static void list_free(char ***items, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		free((*items)[i]);
	free(*items);
	*items = NULL;
	*n = 0;
}

void config_defaults(struct tern_config *c)
{
	char why[256], buf[256];
	int ret;

	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < N_OPTS; i++) {
		const struct opt *o = &opts[i];
		const char *def = o->def;

		if (o->type == OPT_STRLIST)
			continue; /* lists start empty */
		if (o->def_fn) {
			o->def_fn(buf, sizeof(buf));
			def = buf;
		}
		/* a default that does not parse is a bug in the table; there
		 * is no error to return, and nothing works without memory */
		ret = opt_set(o, c, def, why, sizeof(why));
		if (ret) {
			fprintf(stderr, "tern: config default of %s: %s\n", o->key,
				ret == -EINVAL ? why : strerror(-ret));
			abort();
		}
	}
}

void config_free(struct tern_config *c)
{
	for (size_t i = 0; i < N_OPTS; i++) {
		const struct opt *o = &opts[i];
		char *field = (char *)c + o->off;

		if (o->type == OPT_STRING)
			free(*(char **)field);
		else if (o->type == OPT_STRLIST)
			list_free((char ***)field, (size_t *)((char *)c + o->off_n));
	}
	free(c->file);
	memset(c, 0, sizeof(*c));
}

struct load {
	const char *file;
	struct tern_config *c;
	char *err;
	size_t errlen;
};

/* "FILE:LINE:COL: KEY: problem" (no KEY for the top level) */
__attribute__((format(printf, 5, 6)))
static int load_fail(struct load *ld, int line, int col, const char *key, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (key)
		snprintf(ld->err, ld->errlen, "%s:%d:%d: %s: %s", ld->file, line, col, key, msg);
	else
		snprintf(ld->err, ld->errlen, "%s:%d:%d: %s", ld->file, line, col, msg);
	return -EINVAL;
}

static int load_nomem(struct load *ld)
{
	snprintf(ld->err, ld->errlen, "%s: %s", ld->file, strerror(ENOMEM));
	return -ENOMEM;
}

static const char *node_kind(const struct doc_node *n)
{
	switch (n->type) {
	case DOC_MAP:
		return "a map";
	case DOC_SEQ:
		return "a list";
	case DOC_SCALAR:
		return n->quoted ? "a quoted string" : "a value";
	default:
		return "null";
	}
}

static int apply_list(struct load *ld, const struct opt *o, const struct doc_node *n,
		      const char *key)
{
	char ikey[160], why[256];
	char **items = NULL;
	size_t count = 0;
	int ret = 0;

	if (n->type != DOC_SEQ)
		return load_fail(ld, n->line, n->col, key, "expected a list, got %s", node_kind(n));
	items = calloc(n->n ? n->n : 1, sizeof(*items));
	if (!items)
		return load_nomem(ld);
	for (; count < n->n; count++) {
		const struct doc_node *it = n->items[count];

		snprintf(ikey, sizeof(ikey), "%s[%zu]", key, count);
		if (it->type != DOC_SCALAR) {
			ret = load_fail(ld, it->line, it->col, ikey, "expected a string, got %s",
					node_kind(it));
			goto out;
		}
		if (o->check && o->check(it->str, why, sizeof(why))) {
			ret = load_fail(ld, it->line, it->col, ikey, "%s", why);
			goto out;
		}
		for (size_t j = 0; j < count; j++) {
			if (strcmp(items[j], it->str))
				continue;
			ret = load_fail(ld, it->line, it->col, ikey, "\"%s\" is listed twice",
					it->str);
			goto out;
		}
		items[count] = strdup(it->str);
		if (!items[count]) {
			ret = load_nomem(ld);
			goto out;
		}
	}
	list_free((char ***)((char *)ld->c + o->off), (size_t *)((char *)ld->c + o->off_n));
	*(char ***)((char *)ld->c + o->off) = items;
	*(size_t *)((char *)ld->c + o->off_n) = count;
	items = NULL;
out:
	if (items)
		list_free(&items, &count);
	return ret;
}

static int opt_apply(struct load *ld, const struct opt *o, const struct doc_node *n,
		     const char *key)
{
	char why[512], expect[128];
	int ret;

	if (n->type == DOC_NULL)
		return 0; /* null keeps the default, as in Kubernetes objects */
	if (o->type == OPT_STRLIST)
		return apply_list(ld, o, n, key);
	opt_expect(o, expect, sizeof(expect));
	if (n->type != DOC_SCALAR)
		return load_fail(ld, n->line, n->col, key, "expected %s, got %s", expect,
				 node_kind(n));
	/* "1024" in quotes is a string, as it is to kubectl */
	if (o->type == OPT_U32 && n->quoted)
		return load_fail(ld, n->line, n->col, key, "expected %s, got the quoted string \"%s\"",
				 expect, n->str);
	ret = opt_set(o, ld->c, n->str, why, sizeof(why));
	if (ret == -EINVAL)
		return load_fail(ld, n->line, n->col, key, "%s", why);
	if (ret)
		return load_nomem(ld);
	return 0;
}

static const struct opt *opt_find(const char *key)
{
	for (size_t i = 0; i < N_OPTS; i++) {
		if (!strcmp(opts[i].key, key))
			return &opts[i];
	}
	return NULL;
}

/* A key some options are nested under ("bpf", "conntrack.timeouts"). */
static bool is_section(const char *key)
{
	size_t len = strlen(key);

	for (size_t i = 0; i < N_OPTS; i++) {
		if (!strncmp(opts[i].key, key, len) && opts[i].key[len] == '.')
			return true;
	}
	return false;
}

/* Optimal string alignment distance: a swap of two neighbours costs 1. */
static int edit_distance(const char *a, size_t la, const char *b, size_t lb)
{
	enum { MAX = 64 };
	int d[MAX + 1][MAX + 1];

	if (la > MAX || lb > MAX)
		return MAX;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = (int)i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (int)j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			int cost = a[i - 1] != b[j - 1];
			int v = d[i - 1][j] + 1;

			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[la][lb];
}

static size_t count_dots(const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += s[i] == '.';
	return n;
}

/* The known key or section at the same depth closest to key, if within
 * 2 edits; its length in *len. */
static const char *suggest(const char *key, size_t *len)
{
	size_t klen = strlen(key), depth = count_dots(key, klen);
	const char *best = NULL;
	int best_d = 3;

	for (size_t i = 0; i < N_OPTS; i++) {
		const char *cand = opts[i].key;
		size_t clen = 0;

		/* every prefix ending at a dot, and the whole key */
		do {
			const char *dot = strchr(cand + clen, '.');
			int d;

			clen = dot ? (size_t)(dot - cand) : strlen(cand);
			if (count_dots(cand, clen) == depth) {
				d = edit_distance(key, klen, cand, clen);
				if (d < best_d) {
					best_d = d;
					best = cand;
					*len = clen;
				}
			}
			clen++;
		} while (cand[clen - 1]);
	}
	return best;
}

static int unknown_key(struct load *ld, int line, int col, const char *key)
{
	size_t len = 0;
	const char *s = suggest(key, &len);

	if (s)
		return load_fail(ld, line, col, key, "unknown key (did you mean %.*s?)", (int)len, s);
	return load_fail(ld, line, col, key, "unknown key");
}

static int walk_map(struct load *ld, const struct doc_node *map, const char *prefix)
{
	char key[128];
	int ret = 0;

	for (size_t i = 0; i < map->n && !ret; i++) {
		const struct doc_node *v = map->items[i];
		int line = map->key_pos ? map->key_pos[i].line : v->line;
		int col = map->key_pos ? map->key_pos[i].col : v->col;
		const struct opt *o;

		snprintf(key, sizeof(key), "%s%s%s", prefix, *prefix ? "." : "", map->keys[i]);
		/* "bpf.pinPath: x" at the top would dodge the duplicate check
		 * against a nested bpf: map; one spelling only */
		if (strchr(map->keys[i], '.')) {
			ret = load_fail(ld, line, col, key, "a key must not contain '.'; nest it as a map");
			break;
		}
		o = opt_find(key);
		if (o)
			ret = opt_apply(ld, o, v, key);
		else if (!is_section(key))
			ret = unknown_key(ld, line, col, key);
		else if (v->type == DOC_MAP)
			ret = walk_map(ld, v, key);
		else if (v->type != DOC_NULL)
			ret = load_fail(ld, v->line, v->col, key, "expected a map of settings, got %s",
					node_kind(v));
	}
	return ret;
}

static int read_file(const char *path, char **out, size_t *out_len)
{
	size_t len = 0, cap = 4096;
	char *buf = NULL, *p;
	int fd, ret = 0;
	ssize_t n;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		if (len == cap || !buf) {
			if (buf)
				cap *= 2;
			if (cap > CONFIG_MAX_SIZE) {
				ret = -EFBIG;
				goto out;
			}
			p = realloc(buf, cap);
			if (!p) {
				ret = -ENOMEM;
				goto out;
			}
			buf = p;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	*out = buf;
	*out_len = len;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return ret;
}

int config_load(const char *path, struct tern_config *c, char *err, size_t errlen)
{
	struct load ld = { .file = path, .c = c, .err = err, .errlen = err ? errlen : 0 };
	struct doc_node *root = NULL;
	struct doc_error derr;
	char *buf = NULL;
	size_t len = 0;
	int ret;

	if (ld.errlen)
		err[0] = '\0';
	ret = set_str(&c->file, path);
	if (ret)
		return load_nomem(&ld);
	ret = read_file(path, &buf, &len);
	if (ret) {
		snprintf(ld.err, ld.errlen, "%s: %s", path, strerror(-ret));
		return ret;
	}
	ret = doc_parse_yaml(buf, len, &root, &derr);
	if (ret == -EINVAL) {
		snprintf(ld.err, ld.errlen, "%s:%d:%d: %s", path, derr.line, derr.col, derr.msg);
		goto out;
	}
	if (ret) {
		ret = load_nomem(&ld);
		goto out;
	}
	if (root->type == DOC_MAP)
		ret = walk_map(&ld, root, "");
	else if (root->type != DOC_NULL) /* an empty file: all defaults */
		ret = load_fail(&ld, root->line, root->col, NULL,
				"the top level must be a map of settings, got %s", node_kind(root));
out:
	doc_free(root);
	free(buf);
	return ret;
}

static const char *opt_type_name(const struct opt *o, char *buf, size_t len)
{
	size_t n = 0;

	if (o->choices) {
		for (size_t i = 0; o->choices[i] && n < len; i++)
			n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? "|" : "", o->choices[i]);
		return buf;
	}
	switch (o->type) {
	case OPT_STRLIST:
		return "list of strings";
	case OPT_BOOL:
		return "boolean";
	case OPT_PORT_RANGE:
		snprintf(buf, len, "port range %u..%u", o->min, o->max);
		return buf;
	case OPT_U32:
		snprintf(buf, len, "integer %u..%u", o->min, o->max);
		return buf;
	case OPT_DURATION: {
		char lo[32], hi[32];

		fmt_duration(o->min, lo, sizeof(lo));
		fmt_duration(o->max, hi, sizeof(hi));
		snprintf(buf, len, "duration %s..%s", lo, hi);
		return buf;
	}
	default:
		return "string";
	}
}

static const char *opt_default(const struct opt *o, char *buf, size_t len)
{
	if (o->def_fn) {
		o->def_fn(buf, len);
		return buf;
	}
	if (o->type == OPT_STRLIST)
		return "[]";
	if (!o->def || !o->def[0])
		return "\"\"";
	return o->def;
}

void config_print_schema(FILE *f)
{
	char tbuf[128], dbuf[256];
	int wk = 3, wt = 4, wd = 7;

	for (size_t i = 0; i < N_OPTS; i++) {
		int k = (int)strlen(opts[i].key);
		int t = (int)strlen(opt_type_name(&opts[i], tbuf, sizeof(tbuf)));
		int d = (int)strlen(opt_default(&opts[i], dbuf, sizeof(dbuf)));

		wk = k > wk ? k : wk;
		wt = t > wt ? t : wt;
		wd = d > wd ? d : wd;
	}
	fprintf(f, "%-*s  %-*s  %-*s  %s\n", wk, "KEY", wt, "TYPE", wd, "DEFAULT", "HELP");
	for (size_t i = 0; i < N_OPTS; i++) {
		const struct opt *o = &opts[i];

		fprintf(f, "%-*s  %-*s  %-*s  %s\n", wk, o->key,
			wt, opt_type_name(o, tbuf, sizeof(tbuf)),
			wd, opt_default(o, dbuf, sizeof(dbuf)), o->help);
	}
}
