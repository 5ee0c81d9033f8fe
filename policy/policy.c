/* Network policy for the reconciler (policy.h): rules -> ipset members and
 * programs -> the maps, in two phases.
 *
 * Programs are shared: a piece is loaded once per digest and installed in
 * every jump slot that wants it. Installing swaps one jump slot (the first
 * piece); the rest of a chained program goes to the bank of chain slots
 * the running one does not use, so no packet ever runs half of each.
 *
 * After a restart nothing is reloaded that is already right: the jump map
 * is read once, and a slot whose program has the tag of what we compiled
 * (and uses our maps) is adopted as it is. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent/log.h"
#include "policy/codegen.h"
#include "policy/ipset.h"
#include "policy/load.h"
#include "policy/policy.h"
#include "policy/sha256.h"

#define JMP_BITS (TERN_JMP_MAX / 8)

/* A loaded piece, shared by everyone who wants its digest. */
struct loaded {
	uint8_t digest[SHA256_LEN];
	int fd;
	unsigned refs;
};

/* An endpoint's program for one direction, as installed. */
struct slot {
	uint32_t ep_id;
	int dir;
	unsigned bank;
	size_t n_pieces;
	size_t n_rules;
	struct loaded *pieces[POL_PIECES_MAX];
	int seen;                  /* wanted by this run */
};

struct policy {
	char *node;
	int fds[POL_MAP_COUNT];
	__u32 map_ids[POL_MAP_COUNT];
	size_t piece_insns;
	int ncpu;
	struct ipset_ids *ids;
	struct ipset_map *im;
	struct ipset_entry *want;  /* the members this run wants */
	size_t n_want;
	struct loaded **progs;
	size_t n_progs, cap_progs;
	struct slot *slots;        /* sorted by (ep_id, dir) */
	size_t n_slots, cap_slots;
	/* jump slots at or past TERN_JMP_POLICY_BASE that hold a program */
	uint8_t occupied[JMP_BITS];
	/* slots a failed run keeps for the endpoints the maps hold, also
	 * those of a previous agent no struct slot describes */
	uint8_t keep[JMP_BITS];
	int scanned;               /* the jump map was read */
	__u32 *found_ids;          /* until the first cleanup: what a previous agent left */
	/* sets that lack an except entry the map refused, sorted: a program
	 * naming one would let excepted peers in */
	uint32_t *bad_sets;
	size_t n_bad_sets;
	int bad_sets_err;          /* why: the map's -errno */
	int (*fault)(const char *step);
	/* a run changes nothing when none of its inputs changed */
	uint64_t gens[4];
	uint8_t eps_digest[SHA256_LEN];
	int clean;                 /* the last run (both phases) went through */
	int skipped;               /* this run's apply did nothing */
	int failed;                /* this run's apply failed as a whole */
	unsigned *iso;             /* the last run's answer */
	size_t n_iso;
};

static int bit_get(const uint8_t *b, __u32 i)
{
	return (b[i / 8] >> (i % 8)) & 1;
}

static void bit_set(uint8_t *b, __u32 i, int v)
{
	if (v)
		b[i / 8] |= (uint8_t)(1 << (i % 8));
	else
		b[i / 8] &= (uint8_t)~(1 << (i % 8));
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static __u32 map_id_of(int fd)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);

	return fd >= 0 && bpf_obj_get_info_by_fd(fd, &info, &len) == 0 ? info.id : 0;
}

struct policy *policy_new(const struct policy_opts *o)
{
	struct policy *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->node = strdup(o->node ? o->node : "");
	p->fds[POL_MAP_POLCTX] = o->polctx_fd;
	p->fds[POL_MAP_IPSET] = o->ipset_fd;
	p->fds[POL_MAP_POLCNT] = o->polcnt_fd;
	p->fds[POL_MAP_JMP] = o->jmp_fd;
	for (int i = 0; i < POL_MAP_COUNT; i++)
		p->map_ids[i] = map_id_of(p->fds[i]);
	p->piece_insns = o->piece_insns;
	p->fault = o->fault;
	p->ncpu = libbpf_num_possible_cpus();
	p->ids = ipset_ids_new();
	if (!p->node || !p->ids || p->ncpu <= 0) {
		policy_free(p);
		return NULL;
	}
	return p;
}

/* One user less; loaded_gc closes what nobody uses. */
static void loaded_put(struct loaded *l)
{
	if (l && l->refs)
		l->refs--;
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_progs; i++) {
		close(p->progs[i]->fd);
		free(p->progs[i]);
	}
	free(p->progs);
	free(p->slots);
	free(p->want);
	free(p->found_ids);
	free(p->bad_sets);
	free(p->iso);
	ipset_map__free(p->im);
	ipset_ids_free(p->ids);
	free(p->node);
	free(p);
}

/* ---- slots ---- */

static int slot_cmp(uint32_t ep_id, int dir, const struct slot *s)
{
	if (ep_id != s->ep_id)
		return ep_id < s->ep_id ? -1 : 1;
	return dir - s->dir;
}

/* The slot of (ep_id, dir), or where it would go. */
static size_t slot_pos(const struct policy *p, uint32_t ep_id, int dir, int *found)
{
	size_t lo = 0, hi = p->n_slots;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = slot_cmp(ep_id, dir, &p->slots[mid]);

		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	*found = 0;
	return lo;
}

static struct slot *slot_find(struct policy *p, uint32_t ep_id, int dir)
{
	int found;
	size_t at = slot_pos(p, ep_id, dir, &found);

	return found ? &p->slots[at] : NULL;
}

static struct slot *slot_add(struct policy *p, uint32_t ep_id, int dir)
{
	int found;
	size_t at = slot_pos(p, ep_id, dir, &found);

	if (found)
		return &p->slots[at];
	if (p->n_slots == p->cap_slots) {
		size_t cap = p->cap_slots ? p->cap_slots * 2 : 32;
		struct slot *grown = realloc(p->slots, cap * sizeof(*grown));

		if (!grown)
			return NULL;
		p->slots = grown;
		p->cap_slots = cap;
	}
	memmove(&p->slots[at + 1], &p->slots[at], (p->n_slots - at) * sizeof(*p->slots));
	p->n_slots++;
	memset(&p->slots[at], 0, sizeof(p->slots[at]));
	p->slots[at].ep_id = ep_id;
	p->slots[at].dir = dir;
	return &p->slots[at];
}

static void slot_release(struct slot *s)
{
	for (size_t i = 0; i < s->n_pieces; i++)
		loaded_put(s->pieces[i]);
	s->n_pieces = 0;
}

/* ---- loaded programs ---- */

static struct loaded *loaded_find(struct policy *p, const uint8_t digest[SHA256_LEN])
{
	for (size_t i = 0; i < p->n_progs; i++)
		if (!memcmp(p->progs[i]->digest, digest, SHA256_LEN))
			return p->progs[i];
	return NULL;
}

/* Keep fd as the loaded program of digest (taking it); NULL: no memory. */
static struct loaded *loaded_add(struct policy *p, const uint8_t digest[SHA256_LEN], int fd)
{
	struct loaded *l;

	if (p->n_progs == p->cap_progs) {
		size_t cap = p->cap_progs ? p->cap_progs * 2 : 16;
		struct loaded **grown = realloc(p->progs, cap * sizeof(*grown));

		if (!grown)
			goto fail;
		p->progs = grown;
		p->cap_progs = cap;
	}
	l = calloc(1, sizeof(*l));
	if (!l)
		goto fail;
	memcpy(l->digest, digest, SHA256_LEN);
	l->fd = fd;
	p->progs[p->n_progs++] = l;
	return l;
fail:
	close(fd);
	return NULL;
}

/* Drop programs nobody installs any more (the jump map keeps its own
 * reference while a slot still holds one). */
static void loaded_gc(struct policy *p)
{
	size_t k = 0;

	for (size_t i = 0; i < p->n_progs; i++) {
		if (p->progs[i]->refs) {
			p->progs[k++] = p->progs[i];
			continue;
		}
		close(p->progs[i]->fd);
		free(p->progs[i]);
	}
	p->n_progs = k;
}

/* The loaded piece i of prog, loading it if no one has yet. */
static struct loaded *piece_get(struct policy *p, const struct pol_prog *prog, size_t i,
				struct policy_stats *st, int *err)
{
	struct loaded *l = loaded_find(p, prog->pieces[i].digest);
	int fd;

	if (l)
		return l;
	fd = pol_piece_load(prog, i, p->fds);
	if (fd < 0) {
		*err = fd;
		return NULL;
	}
	st->loaded++;
	l = loaded_add(p, prog->pieces[i].digest, fd);
	if (!l)
		*err = -ENOMEM;
	return l;
}

/* ---- adopting what a previous agent installed ---- */

/* The program in jump slot idx, if it is exactly piece (same tag, only
 * our maps); its fd, or -1. */
static int adoptable(struct policy *p, __u32 idx, const struct pol_piece *piece)
{
	__u32 ids[8] = { 0 };
	struct bpf_prog_info info = { .nr_map_ids = 8, .map_ids = (__u64)(unsigned long)ids };
	__u32 len = sizeof(info);
	int fd;

	if (!p->found_ids || !p->found_ids[idx])
		return -1;
	fd = bpf_prog_get_fd_by_id(p->found_ids[idx]);
	if (fd < 0)
		return -1;
	if (pol_piece_is_loaded_as(piece, fd) != 1 || bpf_obj_get_info_by_fd(fd, &info, &len) ||
	    info.nr_map_ids > 8)
		goto no;
	for (__u32 i = 0; i < info.nr_map_ids; i++) {
		int ours = 0;

		for (int m = 0; m < POL_MAP_COUNT; m++)
			ours |= ids[i] == p->map_ids[m];
		if (!ours)
			goto no; /* compiled against maps since replaced */
	}
	return fd;
no:
	close(fd);
	return -1;
}

static __u32 piece_slot(uint32_t ep_id, int dir, unsigned bank, size_t i)
{
	return i == 0 ? TERN_JMP_POLICY(ep_id, dir) : TERN_JMP_CHAIN(ep_id, dir, bank, i - 1);
}

/* Adopt every piece of prog from the jump map; 1 when done, else 0. */
static int adopt(struct policy *p, uint32_t ep_id, int dir, const struct pol_prog *prog,
		 struct loaded **out, struct policy_stats *st)
{
	int fds[POL_PIECES_MAX];
	size_t i;

	for (i = 0; i < prog->n_pieces; i++) {
		fds[i] = adoptable(p, piece_slot(ep_id, dir, prog->bank, i), &prog->pieces[i]);
		if (fds[i] < 0)
			break;
	}
	if (i < prog->n_pieces) {
		while (i-- > 0)
			close(fds[i]);
		return 0;
	}
	for (i = 0; i < prog->n_pieces; i++) {
		out[i] = loaded_find(p, prog->pieces[i].digest);
		if (out[i]) {
			close(fds[i]);
			continue;
		}
		out[i] = loaded_add(p, prog->pieces[i].digest, fds[i]);
		if (!out[i]) {
			while (++i < prog->n_pieces)
				close(fds[i]);
			return 0;
		}
		st->adopted++;
	}
	return 1;
}

/* ---- counters ---- */

/* Create the keys of (ep_id, dir): zeroed when reset, else only the
 * missing ones (an adopted program keeps its counts). */
static int counters_prepare(struct policy *p, uint32_t ep_id, int dir, size_t n_rules, int reset)
{
	__u64 *zero = calloc((size_t)p->ncpu, sizeof(*zero));
	int err = 0;

	if (!zero)
		return -ENOMEM;
	for (size_t r = 0; r <= n_rules; r++) {
		struct tern_polcnt_key k = {
			.ep_id = ep_id,
			.rule = r == n_rules ? TERN_POL_RULE_NONE : (__u16)r,
			.dir = (__u8)dir,
		};

		if (bpf_map_update_elem(p->fds[POL_MAP_POLCNT], &k, zero,
					reset ? BPF_ANY : BPF_NOEXIST) &&
		    errno != EEXIST && !err) {
			err = -errno;
			log_warn("rule counters of endpoint %u: %s%s; its rules' hits go uncounted",
				 ep_id, strerror(errno), errno_hint(err));
		}
	}
	free(zero);
	return err;
}

/* ---- installing ---- */

static int same_pieces(const struct slot *s, const struct pol_prog *prog)
{
	if (s->n_pieces != prog->n_pieces || (prog->n_pieces > 1 && s->bank != prog->bank))
		return 0;
	for (size_t i = 0; i < prog->n_pieces; i++)
		if (memcmp(s->pieces[i]->digest, prog->pieces[i].digest, SHA256_LEN))
			return 0;
	return 1;
}

/* The chain bank the program now in (ep_id, dir) runs on, or -1. */
static int running_bank(const struct policy *p, const struct slot *s, uint32_t ep_id, int dir)
{
	if (s)
		return s->n_pieces > 1 ? (int)s->bank : -1;
	if (ep_id >= TERN_JMP_CHAIN_EP_MAX)
		return -1;
	for (unsigned b = 0; b < 2; b++)
		if (bit_get(p->occupied, TERN_JMP_CHAIN(ep_id, dir, b, 0)))
			return (int)b;
	return -1;
}

static int jmp_set(struct policy *p, __u32 idx, int fd)
{
	if (bpf_map_update_elem(p->fds[POL_MAP_JMP], &idx, &fd, BPF_ANY)) {
		int err = -errno;

		log_error("jump map slot %u: %s%s", idx, strerror(errno), errno_hint(err));
		return err;
	}
	bit_set(p->occupied, idx, 1);
	return 0;
}

static void jmp_clear(struct policy *p, __u32 idx, struct policy_stats *st)
{
	if (!bit_get(p->occupied, idx))
		return;
	if (bpf_map_delete_elem(p->fds[POL_MAP_JMP], &idx) && errno != ENOENT) {
		log_error("jump map slot %u: delete: %s", idx, strerror(errno));
		st->errors++;
		return;
	}
	bit_set(p->occupied, idx, 0);
	st->removed++;
}

static int compile(struct policy *p, const struct pol_dir *d, int dir, unsigned bank,
		   struct pol_prog *prog)
{
	struct pol_codegen_opts o = { .piece_insns = p->piece_insns, .bank = bank };

	return pol_compile(dir, d->rules, d->n_rules, &o, prog);
}

/* The first set d's rules name that lacks an except entry (bad_sets), or 0. */
static uint32_t dir_bad_set(const struct policy *p, const struct pol_dir *d)
{
	for (size_t j = 0; p->n_bad_sets && j < d->n_rules; j++)
		for (size_t k = 0; k < d->rules[j].n_peers; k++)
			if (bsearch(&d->rules[j].peer_ids[k], p->bad_sets, p->n_bad_sets,
				    sizeof(*p->bad_sets), u32_cmp))
				return d->rules[j].peer_ids[k];
	return 0;
}

/* Make (ep_id, dir) run d's program. On any failure the endpoint is left
 * with no program for dir (fail closed: the caller sets its isolation, so
 * its new flows drop), never with a stale one, and the reason is logged. */
static int install(struct policy *p, uint32_t ep_id, int dir, const struct pol_dir *d,
		   struct policy_stats *st)
{
	const char *dname = dir ? "egress" : "ingress";
	struct slot *s = slot_find(p, ep_id, dir);
	int running = running_bank(p, s, ep_id, dir);
	struct loaded *pieces[POL_PIECES_MAX] = { 0 };
	struct pol_prog prog;
	char why[192] = "";
	uint32_t bad;
	int err, adopted = 0;

	if (TERN_JMP_POLICY(ep_id, dir) >= TERN_JMP_CHAIN_BASE) {
		/* no slot of its own to empty: the reconciler keeps ids small */
		log_error("endpoint %u %s: policy not installed: its id is past the jump map's "
			  "policy slots (ids below %u)", ep_id, dname,
			  (TERN_JMP_CHAIN_BASE - TERN_JMP_POLICY_BASE) / 2);
		return -ERANGE;
	}
	if (d->n_rules >= TERN_POL_RULE_NONE) {
		snprintf(why, sizeof(why), "%zu rules, at most %u", d->n_rules,
			 TERN_POL_RULE_NONE - 1);
		err = -E2BIG;
		goto out_nocompile;
	}
	if ((bad = dir_bad_set(p, d))) {
		snprintf(why, sizeof(why),
			 "its set 0x%08x lacks except entries tern_ipset_v1 refused (%s%s)", bad,
			 strerror(-p->bad_sets_err), ipset_errno_hint(p->bad_sets_err));
		err = p->bad_sets_err;
		goto out_nocompile;
	}
	err = compile(p, d, dir, running > 0 ? 1 : 0, &prog);
	if (err)
		goto out_compile_failed;
	if (s && same_pieces(s, &prog)) {
		s->seen = 1;
		goto out;
	}
	if (!s && p->found_ids)
		adopted = adopt(p, ep_id, dir, &prog, pieces, st);
	if (!adopted && prog.n_pieces > 1 && running >= 0 && prog.bank == (unsigned)running) {
		/* the running chain uses this bank: build beside it */
		pol_prog_free(&prog);
		err = compile(p, d, dir, (unsigned)running ^ 1, &prog);
		if (err)
			goto out_compile_failed;
	}
	if (prog.n_pieces > 1 && ep_id >= TERN_JMP_CHAIN_EP_MAX) {
		snprintf(why, sizeof(why), "a policy of %zu pieces needs an endpoint id below %u",
			 prog.n_pieces, TERN_JMP_CHAIN_EP_MAX);
		err = -ERANGE;
		goto out;
	}
	for (size_t i = 0; i < prog.n_pieces && !adopted && !err; i++)
		pieces[i] = piece_get(p, &prog, i, st, &err);
	if (err)
		goto out;
	/* rules not counted (a full map) is no reason not to enforce them */
	counters_prepare(p, ep_id, dir, prog.n_rules, !adopted);
	/* the chain first, then the first piece: one update switches over */
	for (size_t i = prog.n_pieces; !adopted && i-- > 0 && !err;)
		err = jmp_set(p, piece_slot(ep_id, dir, prog.bank, i), pieces[i]->fd);
	if (err)
		goto out;
	if (!adopted)
		st->installed++;
	if (!s)
		s = slot_add(p, ep_id, dir);
	if (!s) {
		err = -ENOMEM;
		goto out;
	}
	slot_release(s);
	for (size_t i = 0; i < prog.n_pieces; i++) {
		s->pieces[i] = pieces[i];
		pieces[i]->refs++;
	}
	s->n_pieces = prog.n_pieces;
	s->bank = prog.bank;
	s->n_rules = prog.n_rules;
	s->seen = 1;
	if (adopted)
		log_debug("endpoint %u %s: adopted its policy program", ep_id, dname);
	else
		log_info("endpoint %u %s: installed a policy of %zu rules (%zu piece%s)", ep_id,
			 dname, prog.n_rules, prog.n_pieces, prog.n_pieces == 1 ? "" : "s");
out:
	pol_prog_free(&prog);
	goto out_nocompile;
out_compile_failed:
	if (err == -E2BIG)
		snprintf(why, sizeof(why),
			 "%zu rules need more than %u pieces of %zu instructions",
			 d->n_rules, POL_PIECES_MAX,
			 p->piece_insns ? p->piece_insns : (size_t)POL_PIECE_INSNS_DEFAULT);
out_nocompile:
	if (err) {
		/* fail closed: no stale program judges this endpoint */
		jmp_clear(p, TERN_JMP_POLICY(ep_id, dir), st);
		if (s)
			s->seen = 0;
		log_error("endpoint %u %s: policy not installed: %s%s; it fails closed: its new "
			  "flows drop (drop_no_policy) until a run installs it", ep_id, dname,
			  *why ? why : strerror(-err), *why ? "" : errno_hint(err));
	}
	return err;
}

/* ---- the run ---- */

/* Read which jump slots hold programs: once, at the first run. Not
 * knowing fails the run: cleanup would leave stale programs in place. */
static int jmp_scan(struct policy *p)
{
	p->found_ids = calloc(TERN_JMP_MAX, sizeof(*p->found_ids));
	if (!p->found_ids)
		return -ENOMEM;
	for (__u32 i = TERN_JMP_POLICY_BASE; i < TERN_JMP_MAX; i++) {
		__u32 id;

		if (bpf_map_lookup_elem(p->fds[POL_MAP_JMP], &i, &id) == 0) {
			p->found_ids[i] = id;
			bit_set(p->occupied, i, 1);
		} else if (errno != ENOENT) {
			int err = -errno;

			free(p->found_ids);
			p->found_ids = NULL;
			return err;
		}
	}
	p->scanned = 1;
	return 0;
}

/* Whether anything apply depends on changed since the last clean run. */
static int inputs_changed(struct policy *p, const struct model *m, const struct pol_ep_in *eps,
			  size_t n)
{
	static const enum k8s_kind kinds[4] = {
		K8S_POD, K8S_NAMESPACE, K8S_NETWORKPOLICY, K8S_NODE,
	};
	uint64_t gens[4];
	uint8_t d[SHA256_LEN];
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int changed;

	if (!f)
		return 1;
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%u %s/%s\n", eps[i].ep_id, eps[i].pod->meta.ns, eps[i].pod->meta.name);
	if (fclose(f)) {
		free(buf);
		return 1;
	}
	sha256(buf, len, d);
	free(buf);
	for (int i = 0; i < 4; i++)
		gens[i] = model_kind_generation(m, kinds[i]);
	changed = !p->clean || p->n_iso != n || memcmp(gens, p->gens, sizeof(gens)) ||
		  memcmp(d, p->eps_digest, sizeof(d));
	memcpy(p->gens, gens, sizeof(gens));
	memcpy(p->eps_digest, d, sizeof(d));
	return changed;
}

unsigned policy_iso_resolve(unsigned answer, unsigned held)
{
	if (!(answer & POLICY_ISO_UNKNOWN))
		return answer & POLICY_ISO_BOTH;
	if (held & POLICY_ISO_NEW)
		return POLICY_ISO_BOTH;
	return held & POLICY_ISO_BOTH;
}

/* After adding members failed (why): the sets the map now lacks an
 * except entry of (or holds it as a member). A missing member only denies
 * its peer; a missing except lets it in. 0 or -ENOMEM. */
static int bad_sets_find(struct policy *p, const struct ipset_entry *want, size_t n, int why)
{
	const struct ipset_entry *have;
	size_t n_have = ipset_map__entries(p->im, &have), k = 0;
	uint32_t *bad = NULL;
	size_t n_bad = 0, cap = 0;

	for (size_t i = 0; i < n; i++) {
		const struct ipset_entry *h;

		if (want[i].value != TERN_IPSET_EXCEPT)
			continue;
		h = n_have ? bsearch(&want[i], have, n_have, sizeof(*have), ipset_entry_cmp) : NULL;
		if (h && h->value == TERN_IPSET_EXCEPT)
			continue;
		if (n_bad == cap) {
			size_t c = cap ? cap * 2 : 16;
			uint32_t *grown = realloc(bad, c * sizeof(*grown));

			if (!grown) {
				free(bad);
				return -ENOMEM;
			}
			bad = grown;
			cap = c;
		}
		bad[n_bad++] = ntohl(want[i].key.set_id);
	}
	if (n_bad)
		qsort(bad, n_bad, sizeof(*bad), u32_cmp);
	for (size_t i = 0; i < n_bad; i++)
		if (!k || bad[k - 1] != bad[i])
			bad[k++] = bad[i];
	free(p->bad_sets);
	p->bad_sets = bad;
	p->n_bad_sets = k;
	p->bad_sets_err = why;
	return 0;
}

/* Every jump slot ep_id's programs may use: cleanup leaves them. */
static void keep_ep(struct policy *p, uint32_t ep_id)
{
	for (int dir = 0; dir < 2; dir++) {
		if (TERN_JMP_POLICY(ep_id, dir) >= TERN_JMP_CHAIN_BASE)
			continue;
		bit_set(p->keep, TERN_JMP_POLICY(ep_id, dir), 1);
		for (unsigned b = 0; ep_id < TERN_JMP_CHAIN_EP_MAX && b < 2; b++)
			for (unsigned k = 0; k < TERN_JMP_CHAIN_PIECES; k++)
				bit_set(p->keep, TERN_JMP_CHAIN(ep_id, dir, b, k), 1);
	}
}

/* Empty (ep_id, dir)'s policy slot, whatever we believe it holds. */
static void jmp_empty(struct policy *p, uint32_t ep_id, int dir, struct policy_stats *st)
{
	__u32 idx = TERN_JMP_POLICY(ep_id, dir);

	if (idx >= TERN_JMP_CHAIN_BASE)
		return;
	if (bpf_map_delete_elem(p->fds[POL_MAP_JMP], &idx) == 0) {
		st->removed++;
	} else if (errno != ENOENT) {
		int err = -errno;

		log_error("endpoint %u %s: emptying jump slot %u: %s%s; a program of an earlier "
			  "holder of its id may judge it", ep_id, dir ? "egress" : "ingress", idx,
			  strerror(-err), errno_hint(err));
		st->errors++;
		return;
	}
	bit_set(p->occupied, idx, 0);
}

/* The run cannot work out anyone's rules (what failed: err). No endpoint
 * gets an answer; policy_iso_resolve says what its flags become. One the
 * maps hold keeps its flags, so it keeps its programs and the members
 * they use; a new one is isolated both ways, so its slots are emptied
 * now, before its flags are written: nothing an earlier holder of its id
 * left may judge it. */
static int apply_failed(struct policy *p, const struct pol_ep_in *eps, size_t n, unsigned *iso,
			const char *what, int err, struct policy_stats *st)
{
	log_error("policy: %s: %s%s; endpoints keep their isolation and programs, new ones are "
		  "isolated with none (their new flows drop: drop_no_policy) until a run succeeds",
		  what, strerror(-err), errno_hint(err));
	p->failed = 1;
	p->clean = 0;
	for (size_t j = 0; j < p->n_slots; j++)
		p->slots[j].seen = 0;
	for (size_t i = 0; i < n; i++) {
		iso[i] = POLICY_ISO_UNKNOWN;
		for (int dir = 0; dir < 2; dir++) {
			struct slot *s = slot_find(p, eps[i].ep_id, dir);

			if (!eps[i].held)
				jmp_empty(p, eps[i].ep_id, dir, st);
			else if (s)
				s->seen = 1;
		}
		if (eps[i].held)
			keep_ep(p, eps[i].ep_id);
	}
	st->errors++;
	return err;
}

int policy_apply(struct policy *p, const struct model *m, const struct pol_ep_in *eps, size_t n,
		 unsigned *iso, struct policy_stats *st)
{
	struct pol_model pm;
	struct ipset_entry *want = NULL;
	size_t n_want = 0;
	int err;

	p->skipped = 0;
	p->failed = 0;
	for (size_t i = 0; i < n; i++)
		iso[i] = POLICY_ISO_UNKNOWN;
	if (!inputs_changed(p, m, eps, n)) {
		memcpy(iso, p->iso, n * sizeof(*iso));
		p->skipped = 1;
		return 0;
	}
	p->clean = 0;
	memset(p->keep, 0, sizeof(p->keep));
	if (!p->im && (err = ipset_map__open(p->fds[POL_MAP_IPSET], &p->im)))
		return apply_failed(p, eps, n, iso, "reading " TERN_MAP_IPSET, err, st);
	if (!p->scanned && (err = jmp_scan(p)))
		return apply_failed(p, eps, n, iso, "reading " TERN_MAP_JMP, err, st);
	err = p->fault ? p->fault("rules") : 0;
	if (!err)
		err = pol_model_build(m, p->node, eps, n, &pm);
	if (err)
		return apply_failed(p, eps, n, iso, "building the rules", err, st);
	if ((err = ipset_ids__assign(p->ids, pm.sets, pm.n_sets)) ||
	    (err = ipset_members(m, pm.sets, pm.n_sets, &want, &n_want))) {
		pol_model_free(&pm);
		return apply_failed(p, eps, n, iso, "computing set members", err, st);
	}
	pol_model_resolve(&pm);
	/* members first: a program never looks for a set still being filled */
	p->n_bad_sets = 0;
	err = ipset_map__add(p->im, want, n_want, &st->set_writes);
	if (err) {
		int e = bad_sets_find(p, want, n_want, err);

		st->errors++;
		if (e) {
			free(want);
			pol_model_free(&pm);
			return apply_failed(p, eps, n, iso, "checking the sets after a failed update",
					    e, st);
		}
	}
	free(p->want);
	p->want = want;
	p->n_want = n_want;
	memset(iso, 0, n * sizeof(*iso));
	for (size_t i = 0; i < p->n_slots; i++)
		p->slots[i].seen = 0;
	for (size_t i = 0; i < pm.n_eps; i++) {
		for (int dir = 0; dir < 2; dir++) {
			const struct pol_dir *d = &pm.eps[i].dir[dir];
			int e;

			if (!d->isolated)
				continue;
			/* set whatever install does: without a program it drops */
			iso[i] |= dir == TERN_POL_INGRESS ? POLICY_ISO_IN : POLICY_ISO_EG;
			e = install(p, pm.eps[i].ep_id, dir, d, st);
			if (e) {
				st->errors++;
				if (!err)
					err = e;
			}
		}
	}
	pol_model_free(&pm);
	free(p->iso);
	p->iso = malloc((n ? n : 1) * sizeof(*iso));
	if (p->iso)
		memcpy(p->iso, iso, n * sizeof(*iso));
	p->n_iso = p->iso ? n : 0;
	if (!p->iso && !err)
		err = -ENOMEM;
	p->clean = !err; /* provisional: cleanup confirms it */
	return err;
}

/* Delete counter keys whose endpoint, direction or rule is gone. */
static int counters_prune(struct policy *p)
{
	int fd = p->fds[POL_MAP_POLCNT];
	struct tern_polcnt_key key, next, *stale = NULL;
	size_t n = 0, cap = 0;
	int err = 0;

	if (bpf_map_get_next_key(fd, NULL, &next))
		return 0;
	do {
		const struct slot *s;

		key = next;
		s = slot_find(p, key.ep_id, key.dir);
		if (s && (key.rule == TERN_POL_RULE_NONE || key.rule < s->n_rules))
			continue;
		if (n == cap) {
			size_t c = cap ? cap * 2 : 64;
			struct tern_polcnt_key *grown = realloc(stale, c * sizeof(*grown));

			if (!grown) {
				err = -ENOMEM;
				break;
			}
			stale = grown;
			cap = c;
		}
		stale[n++] = key;
	} while (bpf_map_get_next_key(fd, &key, &next) == 0);
	/* deleting while walking a hash restarts the walk: delete after */
	for (size_t i = 0; i < n; i++)
		bpf_map_delete_elem(fd, &stale[i]);
	free(stale);
	return err;
}

int policy_cleanup(struct policy *p, struct policy_stats *st)
{
	uint8_t *wanted;
	size_t k = 0;
	int err = 0;

	if (p->skipped)
		return 0;
	wanted = calloc(1, JMP_BITS);
	if (!wanted)
		return -ENOMEM;
	/* slots nobody wants go; what is left keeps its pieces' slots */
	for (size_t i = 0; i < p->n_slots; i++) {
		struct slot *s = &p->slots[i];

		if (!s->seen) {
			slot_release(s);
			continue;
		}
		for (size_t j = 0; j < s->n_pieces; j++)
			bit_set(wanted, piece_slot(s->ep_id, s->dir, s->bank, j), 1);
		p->slots[k++] = *s;
	}
	p->n_slots = k;
	for (__u32 i = TERN_JMP_POLICY_BASE; i < TERN_JMP_MAX; i++)
		if (bit_get(p->occupied, i) && !bit_get(wanted, i) && !bit_get(p->keep, i))
			jmp_clear(p, i, st);
	free(wanted);
	loaded_gc(p);
	free(p->found_ids);
	p->found_ids = NULL;
	/* a failed run knows no members: the kept programs use what is there */
	if (!p->failed && counters_prune(p))
		st->errors++;
	if (!p->failed && p->im && ipset_map__prune(p->im, p->want, p->n_want, &st->set_writes)) {
		st->errors++;
		err = -EIO;
	}
	if (err || st->errors)
		p->clean = 0;
	return err;
}
