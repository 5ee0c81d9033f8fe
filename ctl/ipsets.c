/* `ternctl ipsets dump`: tern_ipset_v1 by set: each set's members (pod
 * addresses, CIDRs with their excepts, or address/port/protocol triples of
 * named ports), as the policy programs look them up. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <tern/policy.h>

#include "ctl/ctl.h"

struct member {
	__u32 set;               /* host order */
	struct tern_ipset_key key;
	__u32 value;
};

static int member_cmp(const void *x, const void *y)
{
	const struct member *a = x, *b = y;

	if (a->set != b->set)
		return a->set < b->set ? -1 : 1;
	return memcmp(&a->key, &b->key, sizeof(a->key));
}

static int collect(const struct map_walk *w, const void *keys, const void *values, __u32 n,
		   void *arg)
{
	struct map_dump *d = arg;
	struct member *grown = realloc(d->keys, (d->n + n) * sizeof(*grown));

	if (!grown)
		return -ENOMEM;
	d->keys = grown;
	for (__u32 i = 0; i < n; i++) {
		struct member *m = &grown[d->n++];

		memcpy(&m->key, (const char *)keys + i * w->key_size, sizeof(m->key));
		memcpy(&m->value, (const char *)values + i * w->value_size, sizeof(m->value));
		m->set = ntohl(m->key.set_id);
	}
	return 0;
}

/* "10.0.0.0/8", "10.244.1.5", "10.244.1.5 tcp/8080" */
static const char *member_text(const struct member *m, char *buf, size_t len)
{
	unsigned bits = m->key.prefixlen - TERN_IPSET_PREFIX_SET;
	char a[FMT_ADDR_LEN], proto[16];
	int v4 = tern_addr_is_v4(&m->key.addr) && bits >= 96;

	fmt_addr(&m->key.addr, a, sizeof(a));
	if (m->key.prefixlen == TERN_IPSET_PREFIX_FULL)
		snprintf(buf, len, "%s %s/%u", a, fmt_proto(m->key.proto, proto, sizeof(proto)),
			 ntohs(m->key.port));
	else if (bits == 128)
		snprintf(buf, len, "%s", a);
	else if (v4)
		snprintf(buf, len, "%s/%u", a, bits - 96);
	else
		snprintf(buf, len, "%s/%u", inet_ntop(AF_INET6, m->key.addr.b, a, sizeof(a)), bits);
	return buf;
}

int ipsets__dump(struct ctl *c)
{
	int fd = ctl__map_open(c, TERN_MAP_IPSET, sizeof(struct tern_ipset_key), sizeof(__u32));
	struct map_dump d = { 0 };
	struct member *m;
	char text[128];
	int err;

	if (fd < 0)
		return fd;
	err = ctl__map_walk(fd, collect, &d);
	close(fd);
	if (err) {
		ctl__err("%s: %s", TERN_MAP_IPSET, strerror(-err));
		free(d.keys);
		return err;
	}
	m = d.keys;
	if (d.n)
		qsort(m, d.n, sizeof(*m), member_cmp);
	if (c->json) {
		struct json_stream js;
		struct json_object *set = NULL, *members = NULL;

		ctl__json_array_begin(&js);
		for (size_t i = 0; i <= d.n && !err; i++) {
			if (set && (i == d.n || m[i].set != m[i - 1].set)) {
				json_object_object_add(set, "members", members);
				err = ctl__json_array_add(&js, set);
				set = NULL;
			}
			if (i == d.n)
				break;
			if (!set) {
				char id[16];

				snprintf(id, sizeof(id), "0x%08x", m[i].set);
				set = json_object_new_object();
				members = json_object_new_array();
				json_object_object_add(set, "set", json_object_new_string(id));
			}
			struct json_object *e = json_object_new_object();

			json_object_object_add(e, "member",
					       json_object_new_string(member_text(&m[i], text,
										  sizeof(text))));
			json_object_object_add(e, "except",
					       json_object_new_boolean(m[i].value ==
								       TERN_IPSET_EXCEPT));
			json_object_array_add(members, e);
		}
		ctl__json_array_end(&js);
	} else {
		for (size_t i = 0; i < d.n; i++) {
			size_t n = 1;

			if (i == 0 || m[i].set != m[i - 1].set) {
				while (i + n < d.n && m[i + n].set == m[i].set)
					n++;
				printf("set 0x%08x: %zu entr%s\n", m[i].set, n, n == 1 ? "y" : "ies");
			}
			printf("  %s%s\n", member_text(&m[i], text, sizeof(text)),
			       m[i].value == TERN_IPSET_EXCEPT ? "  (except)" : "");
		}
		if (!d.n)
			printf("no sets\n");
	}
	free(d.keys);
	return err;
}
