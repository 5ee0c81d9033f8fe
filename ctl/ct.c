/* `ternctl conntrack dump`: every flow in tern_ct_v1, shown in the direction
 * it was opened (the opener first), with state, flags, age and idle time. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <tern/ct.h>

#include "ctl/ctl.h"

/* A flow as shown: the key's normalised ends put back in opening order. */
struct flow {
	struct tern_addr src, dst;
	__u16 sport, dport;      /* host order */
	__u8 proto;
	__u8 state;
	__u8 seen_src, seen_dst; /* TCP flags each end sent */
	__u32 flags;
	__u64 age_ns, idle_ns;
	int echo;                /* ICMP echo: ports hold the identifier */
	__u16 icmp_id;
	int nat;
	struct tern_addr nat_addr;
	__u16 nat_port;
};

static const char *const state_names[TERN_CT_STATE_MAX] = {
	[TERN_CT_NEW] = "NEW",
	[TERN_CT_ESTABLISHED] = "ESTABLISHED",
	[TERN_CT_SYN_SENT] = "SYN_SENT",
	[TERN_CT_SYN_RECV] = "SYN_RECV",
	[TERN_CT_FIN_WAIT] = "FIN_WAIT",
	[TERN_CT_TIME_WAIT] = "TIME_WAIT",
	[TERN_CT_CLOSE] = "CLOSE",
};

static const char *state_name(__u8 state, char *buf, size_t len)
{
	if (state < TERN_CT_STATE_MAX && state_names[state])
		return state_names[state];
	snprintf(buf, len, "%u", state);
	return buf;
}

static const struct {
	__u32 bit;
	const char *text; /* text output */
	const char *json; /* JSON boolean field */
} flag_names[] = {
	{ TERN_CT_F_REPLIED, "replied", "replied" },
	{ TERN_CT_F_PICKED_UP, "picked-up", "picked_up" },
	{ TERN_CT_F_NAT_FWD, "nat-client", "nat_client" },
	{ TERN_CT_F_NAT_REV, "nat-backend", "nat_backend" },
	{ TERN_CT_F_HAIRPIN, "hairpin", "hairpin" },
	{ TERN_CT_F_SNAT, "snat", "snat" },
};

/* Flags as "replied,picked-up"; bits this build does not know in hex. */
static const char *flags_text(__u32 flags, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	flags &= ~TERN_CT_F_INIT_B; /* shown by the order of the ends */
	for (size_t i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++) {
		if (!(flags & flag_names[i].bit))
			continue;
		n += snprintf(buf + n, len - n, "%s%s", n ? "," : "", flag_names[i].text);
		flags &= ~flag_names[i].bit;
		if (n >= len)
			return buf;
	}
	if (flags)
		snprintf(buf + n, len - n, "%s%#x", n ? "," : "", flags);
	return buf[0] ? buf : "-";
}

static int addr_is_zero(const struct tern_addr *a)
{
	return !(a->w[0] | a->w[1] | a->w[2] | a->w[3]);
}

static void flow_from_entry(const struct tern_ct_key *k, const struct tern_ct_value *v,
			    __u64 now, struct flow *f)
{
	int b_opened = !!(v->flags & TERN_CT_F_INIT_B);

	memset(f, 0, sizeof(*f));
	f->src = b_opened ? k->addr_b : k->addr_a;
	f->dst = b_opened ? k->addr_a : k->addr_b;
	f->sport = ntohs(b_opened ? k->port_b : k->port_a);
	f->dport = ntohs(b_opened ? k->port_a : k->port_b);
	f->seen_src = b_opened ? v->tcp_seen_b : v->tcp_seen_a;
	f->seen_dst = b_opened ? v->tcp_seen_a : v->tcp_seen_b;
	f->proto = k->proto;
	f->state = v->state;
	f->flags = v->flags;
	/* entries touched after we read the clock would look negative */
	f->age_ns = now > v->created_ns ? now - v->created_ns : 0;
	f->idle_ns = now > v->last_seen_ns ? now - v->last_seen_ns : 0;
	if (k->proto == IPPROTO_ICMP || k->proto == IPPROTO_ICMPV6) {
		/* the requester's end holds the identifier, the responder's 0 */
		f->echo = 1;
		f->icmp_id = f->sport ? f->sport : f->dport;
	}
	if (!addr_is_zero(&v->nat_addr) || v->nat_port) {
		f->nat = 1;
		f->nat_addr = v->nat_addr;
		f->nat_port = ntohs(v->nat_port);
	}
}

static int addr_order(const struct tern_addr *x, const struct tern_addr *y)
{
	return memcmp(x->b, y->b, sizeof(x->b));
}

/* Stable output: by source, then destination, then protocol. */
static int flow_cmp(const void *x, const void *y)
{
	const struct flow *a = x, *b = y;
	int d;

	if ((d = addr_order(&a->src, &b->src)))
		return d;
	if (a->sport != b->sport)
		return a->sport < b->sport ? -1 : 1;
	if ((d = addr_order(&a->dst, &b->dst)))
		return d;
	if (a->dport != b->dport)
		return a->dport < b->dport ? -1 : 1;
	return (int)a->proto - (int)b->proto;
}

static int print_text(const struct flow *flows, size_t n)
{
	struct table t;
	int err;

	table__init(&t, 9, 0);
	err = table__row(&t, "PROTO", "SOURCE", "DESTINATION", "STATE", "FLAGS", "AGE", "IDLE",
			 "TCP", "NAT");
	for (size_t i = 0; i < n && !err; i++) {
		const struct flow *f = &flows[i];
		char proto[8], src[FMT_EP_LEN + 16], dst[FMT_EP_LEN], st[8], fl[64], age[24],
			idle[24], seen[24], nat[FMT_EP_LEN], s1[9], s2[9];
		const char *tcp = NULL;

		if (f->echo) {
			char ip[FMT_ADDR_LEN];

			snprintf(src, sizeof(src), "%s id %u", fmt_addr(&f->src, ip, sizeof(ip)),
				 f->icmp_id);
			fmt_addr(&f->dst, dst, sizeof(dst));
		} else {
			fmt_endpoint(&f->src, f->sport, src, sizeof(src));
			fmt_endpoint(&f->dst, f->dport, dst, sizeof(dst));
		}
		if (f->proto == IPPROTO_TCP) {
			snprintf(seen, sizeof(seen), "%s/%s",
				 fmt_tcp_flags(f->seen_src, s1, sizeof(s1)),
				 fmt_tcp_flags(f->seen_dst, s2, sizeof(s2)));
			tcp = seen;
		}
		err = table__row(&t, fmt_proto(f->proto, proto, sizeof(proto)), src, dst,
				 state_name(f->state, st, sizeof(st)),
				 flags_text(f->flags, fl, sizeof(fl)),
				 fmt_duration(f->age_ns, age, sizeof(age)),
				 fmt_duration(f->idle_ns, idle, sizeof(idle)), tcp,
				 f->nat ? fmt_endpoint(&f->nat_addr, f->nat_port, nat, sizeof(nat))
					: NULL);
	}
	if (err) {
		ctl__err("out of memory");
	} else {
		if (n)
			table__print(&t, stdout, "");
		printf("%zu flow%s\n", n, n == 1 ? "" : "s");
	}
	table__free(&t);
	return err;
}

static struct json_object *tcp_flags_json(__u8 flags)
{
	struct json_object *a = json_object_new_array();

	for (int bit = 0; bit < 8; bit++)
		if (flags & (1U << bit))
			json_object_array_add(a, json_object_new_string(tcp_flag_name(bit)));
	return a;
}

static struct json_object *flow_json(const struct flow *f)
{
	struct json_object *o = json_object_new_object();
	char buf[FMT_ADDR_LEN], proto[8], st[8];

	json_object_object_add(o, "proto", json_object_new_string(fmt_proto(f->proto, proto,
									     sizeof(proto))));
	json_object_object_add(o, "proto_num", json_object_new_int(f->proto));
	json_object_object_add(o, "family", json_object_new_int(tern_addr_is_v4(&f->src) ? 4 : 6));
	json_object_object_add(o, "src", json_object_new_string(fmt_addr(&f->src, buf, sizeof(buf))));
	json_object_object_add(o, "src_port", f->echo ? NULL : json_object_new_int(f->sport));
	json_object_object_add(o, "dst", json_object_new_string(fmt_addr(&f->dst, buf, sizeof(buf))));
	json_object_object_add(o, "dst_port", f->echo ? NULL : json_object_new_int(f->dport));
	json_object_object_add(o, "icmp_id", f->echo ? json_object_new_int(f->icmp_id) : NULL);
	json_object_object_add(o, "state", json_object_new_string(state_name(f->state, st,
									     sizeof(st))));
	json_object_object_add(o, "flags", json_object_new_int64(f->flags));
	for (size_t i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++)
		json_object_object_add(o, flag_names[i].json,
				       json_object_new_boolean(!!(f->flags & flag_names[i].bit)));
	json_object_object_add(o, "age_ms", json_object_new_uint64(f->age_ns / 1000000));
	json_object_object_add(o, "idle_ms", json_object_new_uint64(f->idle_ns / 1000000));
	if (f->proto == IPPROTO_TCP) {
		struct json_object *seen = json_object_new_object();

		json_object_object_add(seen, "src", tcp_flags_json(f->seen_src));
		json_object_object_add(seen, "dst", tcp_flags_json(f->seen_dst));
		json_object_object_add(o, "tcp_flags", seen);
	} else {
		json_object_object_add(o, "tcp_flags", NULL);
	}
	if (f->nat) {
		struct json_object *nat = json_object_new_object();

		json_object_object_add(nat, "addr", json_object_new_string(
						fmt_addr(&f->nat_addr, buf, sizeof(buf))));
		json_object_object_add(nat, "port", json_object_new_int(f->nat_port));
		json_object_object_add(o, "nat", nat);
	} else {
		json_object_object_add(o, "nat", NULL);
	}
	return o;
}

int ct__dump(struct ctl *c)
{
	struct map_dump d = {};
	struct flow *flows = NULL;
	__u64 now;
	int fd, err;

	fd = ctl__map_open(c, TERN_MAP_CT, sizeof(struct tern_ct_key),
			   sizeof(struct tern_ct_value));
	if (fd < 0)
		return fd;
	now = ctl__now_ns();
	err = ctl__map_dump(fd, &d);
	if (err) {
		ctl__err("read %s/%s: %s", c->pin_path, TERN_MAP_CT, strerror(-err));
		goto out;
	}
	flows = calloc(d.n ? d.n : 1, sizeof(*flows));
	if (!flows) {
		err = -ENOMEM;
		ctl__err("out of memory");
		goto out;
	}
	for (size_t i = 0; i < d.n; i++)
		flow_from_entry((const struct tern_ct_key *)d.keys + i,
				(const struct tern_ct_value *)d.values + i, now, &flows[i]);
	qsort(flows, d.n, sizeof(*flows), flow_cmp);

	if (c->json) {
		struct json_stream js;

		ctl__json_array_begin(&js);
		for (size_t i = 0; i < d.n && !err; i++)
			err = ctl__json_array_add(&js, flow_json(&flows[i]));
		ctl__json_array_end(&js);
		if (err)
			ctl__err("out of memory");
	} else {
		err = print_text(flows, d.n);
	}
out:
	free(flows);
	map_dump__free(&d);
	close(fd);
	return err;
}
