/* `ternctl policy dump POD`: an endpoint's policy per direction as the
 * kernel holds it. The programs describe themselves (their BTF line info
 * names each rule), so this reads the jump map, each piece's info and the
 * rule counters; nothing comes from the agent. --asm adds the translated
 * instructions, rule descriptions between them. */
#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <tern/ifstate.h>
#include <tern/policy.h>

#include "agent/k8s.h"
#include "agent/naming.h"
#include "ctl/ctl.h"
#include "policy/disasm.h"

static const char *const dir_names[2] = { "ingress", "egress" };

/* The endpoint POD names. */
struct target {
	char name[320];        /* "ns/name", or the address given */
	__u32 ep_id;
	__u32 ifindex;
	char ifname[IF_NAMESIZE];
	int iso[2];            /* its isolation flags */
};

/* One piece as the kernel holds it. */
struct piece {
	__u32 slot;
	__u32 prog_id;
	__u8 tag[8];
	__u32 n_xlated;
	struct bpf_insn *xlated;
	size_t n_lines;
	struct pol_line *lines;
};

struct rule_row {
	long rule;             /* -1: no rule matched */
	char *text;
	__u64 hits;
};

struct dir_view {
	int installed;
	size_t n_pieces;
	struct piece pieces[POL_PIECES_MAX];
	size_t n_rules;
	struct rule_row *rules;
};

/* ---- finding the endpoint ---- */

static int target_by_addr(const struct ctl *c, const char *s, struct target *t)
{
	struct tern_addr a;
	struct tern_ep ep;
	struct tern_ifstate st;
	int fd, err = 0;

	if (tern_addr_parse(s, &a))
		return -EINVAL;
	fd = ctl__map_open(c, TERN_MAP_EP, sizeof(a), sizeof(ep));
	if (fd < 0)
		return fd;
	if (bpf_map_lookup_elem(fd, &a, &ep) || !(ep.flags & TERN_EP_F_LOCAL)) {
		ctl__err("%s: not a pod on this node", s);
		err = -ENOENT;
	}
	close(fd);
	if (err)
		return err;
	snprintf(t->name, sizeof(t->name), "%s", s);
	t->ep_id = ep.ep_id;
	t->ifindex = ep.ifindex;
	t->iso[TERN_POL_INGRESS] = !!(ep.flags & TERN_EP_F_ISO_IN);
	fd = ctl__map_open(c, TERN_MAP_IFSTATE, sizeof(__u32), sizeof(st));
	if (fd >= 0 && ep.ifindex && bpf_map_lookup_elem(fd, &ep.ifindex, &st) == 0)
		t->iso[TERN_POL_EGRESS] = !!(st.flags & TERN_IF_F_ISO_EG);
	if (fd >= 0)
		close(fd);
	if (ep.ifindex)
		if_indextoname(ep.ifindex, t->ifname);
	return 0;
}

static int target_by_name(const struct ctl *c, const char *s, struct target *t)
{
	const char *slash = strchr(s, '/');
	char ns[256];
	struct tern_ifstate st;
	int fd, err = 0;

	snprintf(ns, sizeof(ns), "%.*s", slash ? (int)(slash - s) : 7, slash ? s : "default");
	snprintf(t->name, sizeof(t->name), "%s/%s", ns, slash ? slash + 1 : s);
	if (workload_ifname(c->wl_prefix, ns, slash ? slash + 1 : s, t->ifname,
			    sizeof(t->ifname))) {
		ctl__err("%s: bad interface prefix \"%s\"", t->name, c->wl_prefix);
		return -EINVAL;
	}
	t->ifindex = if_nametoindex(t->ifname);
	if (!t->ifindex) {
		ctl__err("%s: no interface %s here (a pod on another node? ternctl runs in "
			 "the node's network namespace)", t->name, t->ifname);
		return -ENOENT;
	}
	fd = ctl__map_open(c, TERN_MAP_IFSTATE, sizeof(__u32), sizeof(st));
	if (fd < 0)
		return fd;
	if (bpf_map_lookup_elem(fd, &t->ifindex, &st) || !(st.flags & TERN_IF_F_WORKLOAD)) {
		ctl__err("%s: %s is not programmed by ternd", t->name, t->ifname);
		err = -ENOENT;
	}
	close(fd);
	t->ep_id = st.ep_id;
	t->iso[TERN_POL_INGRESS] = !!(st.flags & TERN_IF_F_ISO_IN);
	t->iso[TERN_POL_EGRESS] = !!(st.flags & TERN_IF_F_ISO_EG);
	return err;
}

/* ---- reading programs ---- */

static void piece_free(struct piece *p)
{
	for (size_t i = 0; i < p->n_lines; i++)
		free(p->lines[i].text);
	free(p->lines);
	free(p->xlated);
	memset(p, 0, sizeof(*p));
}

static int piece_read(__u32 slot, __u32 prog_id, int with_insns, struct piece *p)
{
	struct bpf_prog_info info = { 0 };
	struct bpf_line_info *li = NULL;
	__u32 len = sizeof(info), n_li;
	struct btf *btf = NULL;
	int fd = bpf_prog_get_fd_by_id(prog_id), err = 0;

	memset(p, 0, sizeof(*p));
	p->slot = slot;
	p->prog_id = prog_id;
	if (fd < 0)
		return -errno;
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		err = -errno;
		goto out;
	}
	memcpy(p->tag, info.tag, sizeof(p->tag));
	n_li = info.nr_line_info;
	p->n_xlated = with_insns ? info.xlated_prog_len / sizeof(struct bpf_insn) : 0;
	li = calloc(n_li ? n_li : 1, sizeof(*li));
	p->xlated = calloc(p->n_xlated ? p->n_xlated : 1, sizeof(*p->xlated));
	if (!li || !p->xlated) {
		err = -ENOMEM;
		goto out;
	}
	/* again, with room for the line info and the instructions */
	memset(&info, 0, sizeof(info));
	info.nr_line_info = n_li;
	info.line_info_rec_size = sizeof(*li);
	info.line_info = (__u64)(unsigned long)li;
	info.xlated_prog_len = p->n_xlated * sizeof(struct bpf_insn);
	info.xlated_prog_insns = (__u64)(unsigned long)p->xlated;
	len = sizeof(info);
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		err = -errno;
		goto out;
	}
	btf = info.btf_id ? btf__load_from_kernel_by_id(info.btf_id) : NULL;
	p->lines = calloc(n_li ? n_li : 1, sizeof(*p->lines));
	if (!p->lines) {
		err = -ENOMEM;
		goto out;
	}
	for (__u32 i = 0; btf && i < n_li; i++) {
		const char *text = btf__name_by_offset(btf, li[i].line_off);

		p->lines[p->n_lines].insn = li[i].insn_off;
		p->lines[p->n_lines].text = strdup(text ? text : "");
		if (!p->lines[p->n_lines++].text) {
			err = -ENOMEM;
			goto out;
		}
	}
out:
	btf__free(btf);
	free(li);
	close(fd);
	if (err)
		piece_free(p);
	return err;
}

static __u64 polcnt_sum(int fd, int ncpu, __u32 ep_id, int dir, __u16 rule)
{
	struct tern_polcnt_key k = { .ep_id = ep_id, .rule = rule, .dir = (__u8)dir };
	__u64 *v = calloc((size_t)ncpu, sizeof(*v)), sum = 0;

	if (v && bpf_map_lookup_elem(fd, &k, v) == 0)
		for (int i = 0; i < ncpu; i++)
			sum += v[i];
	free(v);
	return sum;
}

/* Each "rule N: ..." line (and the deny path) of the pieces, in order;
 * the jump slot of the next piece when this one continues elsewhere. */
static int lines_parse(struct dir_view *d, const struct piece *p, __u32 *next_slot,
		       const struct target *t)
{
	for (size_t i = 0; i < p->n_lines; i++) {
		const char *s = p->lines[i].text;

		while (*s) {
			size_t l = strcspn(s, "\n");
			char *line = strndup(s, l);
			unsigned long rule;
			int n = 0, dir;
			unsigned bank;
			size_t k;

			s += l + (s[l] == '\n');
			if (!line)
				return -ENOMEM;
			if (sscanf(line, "rules %*u.. continue in piece %*u (jump slot "
					 "TERN_JMP_CHAIN(ep, %d, %u, %zu))", &dir, &bank, &k) == 3) {
				*next_slot = TERN_JMP_CHAIN(t->ep_id, (unsigned)dir, bank, k);
				free(line);
				continue;
			}
			if (sscanf(line, "rule %lu: %n", &rule, &n) < 1 || !n) {
				if (strncmp(line, "no rule matched", 15)) {
					free(line);
					continue;
				}
				rule = (unsigned long)-1;
				n = 0;
			}
			struct rule_row *grown = realloc(d->rules, (d->n_rules + 1) * sizeof(*grown));

			if (!grown) {
				free(line);
				return -ENOMEM;
			}
			d->rules = grown;
			d->rules[d->n_rules].rule = (long)rule;
			d->rules[d->n_rules].text = strdup(line + n);
			free(line);
			if (!d->rules[d->n_rules++].text)
				return -ENOMEM;
		}
	}
	return 0;
}

static int dir_read(const struct ctl *c, int jmp, int cnt, int ncpu, const struct target *t,
		    int dir, struct dir_view *d)
{
	__u32 slot = TERN_JMP_POLICY(t->ep_id, dir), id;
	int err = 0;

	memset(d, 0, sizeof(*d));
	while (d->n_pieces < POL_PIECES_MAX && bpf_map_lookup_elem(jmp, &slot, &id) == 0) {
		struct piece *p = &d->pieces[d->n_pieces];
		__u32 next = 0;

		err = piece_read(slot, id, c->asm_listing, p);
		if (err)
			return err;
		d->n_pieces++;
		err = lines_parse(d, p, &next, t);
		if (err || !next)
			break;
		slot = next;
	}
	d->installed = d->n_pieces > 0;
	/* the deny path is in the last piece; hits of every rule */
	for (size_t i = 0; cnt >= 0 && i < d->n_rules; i++) {
		long r = d->rules[i].rule;

		d->rules[i].hits = polcnt_sum(cnt, ncpu, t->ep_id, dir,
					      r < 0 ? TERN_POL_RULE_NONE : (__u16)r);
	}
	return err;
}

static void dir_free(struct dir_view *d)
{
	for (size_t i = 0; i < d->n_pieces; i++)
		piece_free(&d->pieces[i]);
	for (size_t i = 0; i < d->n_rules; i++)
		free(d->rules[i].text);
	free(d->rules);
}

/* ---- the instruction listing ---- */

struct syms {
	unsigned long long call_base; /* __bpf_call_base */
	FILE *kallsyms;
	char name[128];
	char map_name[BPF_OBJ_NAME_LEN];
};

/* A translated call's target: a helper number, or an address relative to
 * __bpf_call_base (found in /proc/kallsyms, when it shows addresses). */
static const char *call_name(const struct bpf_insn *in, void *arg)
{
	struct syms *s = arg;
	unsigned long long want, addr;
	char type, name[128];

	if (in->imm == BPF_FUNC_tail_call)
		return "bpf_tail_call";
	if (in->imm > 0 && in->imm < 256 && in->imm != BPF_FUNC_tail_call)
		return NULL;
	if (!s->kallsyms || !s->call_base)
		return NULL;
	want = s->call_base + (long long)in->imm;
	rewind(s->kallsyms);
	while (fscanf(s->kallsyms, "%llx %c %127s%*[^\n]", &addr, &type, name) == 3) {
		if (addr == want) {
			snprintf(s->name, sizeof(s->name), "%s", name);
			return s->name;
		}
	}
	return NULL;
}

static const char *map_name(__u32 id, void *arg)
{
	struct syms *s = arg;
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);
	int fd = bpf_map_get_fd_by_id(id);

	if (fd < 0)
		return NULL;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		info.name[0] = '\0';
	close(fd);
	snprintf(s->map_name, sizeof(s->map_name), "%s", info.name);
	return s->map_name[0] ? s->map_name : NULL;
}

static void syms_open(struct syms *s)
{
	unsigned long long addr;
	char type, name[128];

	memset(s, 0, sizeof(*s));
	s->kallsyms = fopen("/proc/kallsyms", "r");
	while (s->kallsyms && fscanf(s->kallsyms, "%llx %c %127s%*[^\n]", &addr, &type, name) == 3)
		if (strcmp(name, "__bpf_call_base") == 0) {
			s->call_base = addr;
			break;
		}
}

static char *listing(const struct piece *p, struct syms *s)
{
	struct disasm_opts o = { .call_name = call_name, .map_name = map_name, .arg = s };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	disasm_listing(f, p->xlated, p->n_xlated, p->lines, p->n_lines, &o);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* ---- output ---- */

static void tag_hex(const __u8 tag[8], char buf[17])
{
	for (int i = 0; i < 8; i++)
		snprintf(buf + 2 * i, 3, "%02x", tag[i]);
}

static void dir_text(const struct target *t, int dir, const struct dir_view *d, struct syms *s,
		     int with_asm)
{
	char tag[17];
	struct table tb;

	if (!t->iso[dir] && !d->installed) {
		printf("%s: not isolated (every flow allowed)\n", dir_names[dir]);
		return;
	}
	if (!d->installed) {
		printf("%s: isolated, program NOT installed: every new flow is dropped "
		       "(drop_no_policy)\n", dir_names[dir]);
		return;
	}
	tag_hex(d->pieces[0].tag, tag);
	printf("%s: %s, digest %s, %zu piece%s\n", dir_names[dir],
	       t->iso[dir] ? "isolated" : "NOT isolated (program installed, flag clear)", tag,
	       d->n_pieces, d->n_pieces == 1 ? "" : "s");
	table__init(&tb, 3, 1u << 1);
	table__row(&tb, "RULE", "HITS", "DESCRIPTION");
	for (size_t i = 0; i < d->n_rules; i++) {
		char num[24], hits[24];

		snprintf(num, sizeof(num), "%ld", d->rules[i].rule);
		snprintf(hits, sizeof(hits), "%" PRIu64, (uint64_t)d->rules[i].hits);
		table__row(&tb, d->rules[i].rule < 0 ? "-" : num, hits,
			   d->rules[i].rule < 0 ? "no rule matched: dropped" : d->rules[i].text);
	}
	table__print(&tb, stdout, "  ");
	table__free(&tb);
	for (size_t i = 0; with_asm && i < d->n_pieces; i++) {
		char *l = listing(&d->pieces[i], s);

		tag_hex(d->pieces[i].tag, tag);
		printf("  piece %zu: jump slot %u, program id %u, tag %s, %u instructions "
		       "(as the verifier left them)\n", i + 1, d->pieces[i].slot,
		       d->pieces[i].prog_id, tag, d->pieces[i].n_xlated);
		if (l)
			fputs(l, stdout);
		free(l);
	}
}

static struct json_object *dir_json(const struct target *t, int dir, const struct dir_view *d,
				    struct syms *s, int with_asm)
{
	struct json_object *o = json_object_new_object(), *rules = json_object_new_array();
	struct json_object *pieces = json_object_new_array();
	char tag[17];
	__u64 dropped = 0;

	json_object_object_add(o, "isolated", json_object_new_boolean(t->iso[dir]));
	json_object_object_add(o, "installed", json_object_new_boolean(d->installed));
	if (d->installed) {
		tag_hex(d->pieces[0].tag, tag);
		json_object_object_add(o, "digest", json_object_new_string(tag));
	}
	for (size_t i = 0; i < d->n_pieces; i++) {
		struct json_object *p = json_object_new_object();

		tag_hex(d->pieces[i].tag, tag);
		json_object_object_add(p, "slot", json_object_new_int64(d->pieces[i].slot));
		json_object_object_add(p, "prog_id", json_object_new_int64(d->pieces[i].prog_id));
		json_object_object_add(p, "tag", json_object_new_string(tag));
		if (with_asm) {
			char *l = listing(&d->pieces[i], s);

			json_object_object_add(p, "asm", json_object_new_string(l ? l : ""));
			free(l);
		}
		json_object_array_add(pieces, p);
	}
	for (size_t i = 0; i < d->n_rules; i++) {
		struct json_object *r;

		if (d->rules[i].rule < 0) {
			dropped += d->rules[i].hits;
			continue;
		}
		r = json_object_new_object();
		json_object_object_add(r, "rule", json_object_new_int64(d->rules[i].rule));
		json_object_object_add(r, "hits", json_object_new_int64((int64_t)d->rules[i].hits));
		json_object_object_add(r, "description", json_object_new_string(d->rules[i].text));
		json_object_array_add(rules, r);
	}
	json_object_object_add(o, "pieces", pieces);
	json_object_object_add(o, "rules", rules);
	json_object_object_add(o, "dropped", json_object_new_int64((int64_t)dropped));
	return o;
}

int policy__dump(struct ctl *c)
{
	struct dir_view d[2] = { 0 };
	struct target t = { 0 };
	struct syms s = { 0 };
	int jmp = -1, cnt = -1, err, ncpu = libbpf_num_possible_cpus();

	err = strchr(c->argv[0], ':') || strspn(c->argv[0], "0123456789.") == strlen(c->argv[0])
		      ? target_by_addr(c, c->argv[0], &t)
		      : target_by_name(c, c->argv[0], &t);
	if (err)
		return err;
	jmp = ctl__map_open(c, TERN_MAP_JMP, sizeof(__u32), sizeof(__u32));
	if (jmp < 0)
		return jmp;
	cnt = ctl__map_open(c, TERN_MAP_POLCNT, sizeof(struct tern_polcnt_key), sizeof(__u64));
	for (int dir = 0; dir < 2 && !err; dir++)
		err = dir_read(c, jmp, cnt, ncpu, &t, dir, &d[dir]);
	if (err) {
		ctl__err("%s: reading its programs: %s", t.name, strerror(-err));
		goto out;
	}
	if (c->asm_listing)
		syms_open(&s);
	if (c->json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "pod", json_object_new_string(t.name));
		json_object_object_add(o, "endpoint", json_object_new_int64(t.ep_id));
		json_object_object_add(o, "interface", json_object_new_string(t.ifname));
		for (int dir = 0; dir < 2; dir++)
			json_object_object_add(o, dir_names[dir],
					       dir_json(&t, dir, &d[dir], &s, c->asm_listing));
		err = ctl__json_print(o);
	} else {
		printf("pod %s: endpoint %u, interface %s\n", t.name, t.ep_id,
		       t.ifname[0] ? t.ifname : "-");
		for (int dir = 0; dir < 2; dir++)
			dir_text(&t, dir, &d[dir], &s, c->asm_listing);
	}
out:
	if (s.kallsyms)
		fclose(s.kallsyms);
	for (int dir = 0; dir < 2; dir++)
		dir_free(&d[dir]);
	close(jmp);
	if (cnt >= 0)
		close(cnt);
	return err;
}
