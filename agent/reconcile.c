/* The reconciler: model + links -> tern_ifstate, tern_ep and tc hooks. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <tern/counters.h>
#include <tern/ifstate.h>

#include "agent/log.h"
#include "agent/naming.h"
#include "agent/reconcile.h"
#include "agent/tc_hook.h"
#include "agent/vec.h"
#include "policy/policy.h"

struct hooked {
	char name[IF_NAMESIZE];
	int ifindex;
	__u32 flags; /* TERN_IF_F_* it was attached as */
};

struct reconciler {
	const struct tern_config *cfg;
	struct dataplane *dp;
	/* links, sorted by name */
	struct nl_link *links;
	size_t n_links, cap_links;
	/* interfaces we attached to (or adopted), by name */
	struct hooked *hooked;
	size_t n_hooked, cap_hooked;
	bool swept; /* stale pins under links/ looked at once */
	struct policy *pol; /* network policy: programs, ipsets, counters */
	/* addresses that changed hands, to flush (a failed run's stay) */
	struct flush_item {
		struct tern_addr addr;
		__u64 before_ns; /* entries created before this go */
	} *flush;
	size_t n_flush, cap_flush;
	/* addresses a local pod arrived at this run */
	struct tern_addr *arrived;
	size_t n_arrived, cap_arrived;
};

/* The flags that say what an interface is (the rest say how it is
 * treated, e.g. isolation, and change without re-attaching). */
#define IF_KIND (TERN_IF_F_WORKLOAD | TERN_IF_F_DATA)

/* One interface tern should run on. */
struct want_if {
	char name[IF_NAMESIZE];
	int ifindex;
	struct tern_ifstate st;
	const struct k8s_object *pod; /* workloads */
	bool pol_known;               /* policy answered for pod this run: */
	unsigned pol_iso;             /* POLICY_ISO_* */
};

struct want_ep {
	struct tern_addr addr;
	struct tern_ep ep;
	bool pol_known;               /* as in want_if */
	unsigned pol_iso;
};

struct reconciler *reconciler_new(const struct tern_config *cfg, struct dataplane *dp)
{
	struct reconciler *r = calloc(1, sizeof(*r));

	struct policy_opts po = {
		.node = cfg->node_name, .jmp_fd = dp->jmp_fd, .polctx_fd = dp->polctx_fd,
		.ipset_fd = dp->ipset_fd, .polcnt_fd = dp->polcnt_fd,
	};

	if (r) {
		r->cfg = cfg;
		r->dp = dp;
		r->pol = policy_new(&po);
		if (!r->pol) {
			free(r);
			r = NULL;
		}
	}
	return r;
}

void reconciler_free(struct reconciler *r)
{
	if (!r)
		return;
	free(r->links);
	free(r->hooked);
	free(r->flush);
	free(r->arrived);
	policy_free(r->pol);
	free(r);
}

static int link_cmp(const void *a, const void *b)
{
	return strcmp(((const struct nl_link *)a)->name, ((const struct nl_link *)b)->name);
}

static struct nl_link *link_by_name(struct reconciler *r, const char *name)
{
	struct nl_link key;

	snprintf(key.name, sizeof(key.name), "%s", name);
	return vec_find(&key, r->links, r->n_links, sizeof(key), link_cmp);
}

static void link_remove_index(struct reconciler *r, int ifindex)
{
	for (size_t i = 0; i < r->n_links; i++) {
		if (r->links[i].ifindex == ifindex) {
			memmove(&r->links[i], &r->links[i + 1],
				(r->n_links - i - 1) * sizeof(r->links[0]));
			r->n_links--;
			return;
		}
	}
}

void reconciler_link_event(struct reconciler *r, enum nl_event ev, const struct nl_link *l)
{
	/* a rename arrives as NEW with the same ifindex: drop the old name */
	link_remove_index(r, l->ifindex);
	if (ev == NL_LINK_DEL)
		return;
	struct nl_link *n = vec_push(&r->links, &r->n_links, &r->cap_links, sizeof(*n));

	if (!n) {
		log_error("link table: out of memory");
		return;
	}
	*n = *l;
	vec_sort(r->links, r->n_links, sizeof(r->links[0]), link_cmp);
}

static void links_cb(enum nl_event ev, const struct nl_link *l, void *arg)
{
	reconciler_link_event(arg, ev, l);
}

int reconciler_links_redump(struct reconciler *r, struct nl_mon *nl)
{
	struct nl_link *old = r->links;
	size_t n_old = r->n_links, cap_old = r->cap_links;
	int err;

	r->links = NULL;
	r->n_links = r->cap_links = 0;
	err = nl_mon_dump(nl, links_cb, r);
	if (err) {
		free(r->links);
		r->links = old;
		r->n_links = n_old;
		r->cap_links = cap_old;
		return err;
	}
	free(old);
	return 0;
}

static bool pod_is_local(const struct reconciler *r, const struct k8s_object *o)
{
	const struct k8s_pod *p = &o->pod;

	if (p->host_network || strcmp(p->node_name, r->cfg->node_name) != 0)
		return false;
	/* a finished pod's IPs go back to the pool for others */
	return strcmp(p->phase, "Succeeded") != 0 && strcmp(p->phase, "Failed") != 0;
}

/* --- reading what the maps hold ----------------------------------------- */

struct cur_if {
	__u32 ifindex;
	struct tern_ifstate st;
};

static int read_ifstate(int fd, struct cur_if **out, size_t *n)
{
	size_t cap = 0;
	__u32 key, next;

	*out = NULL;
	*n = 0;
	if (bpf_map_get_next_key(fd, NULL, &next))
		return 0;
	do {
		struct cur_if *c = vec_push(out, n, &cap, sizeof(**out));

		key = next;
		if (!c)
			return -ENOMEM;
		c->ifindex = key;
		if (bpf_map_lookup_elem(fd, &key, &c->st))
			(*n)--; /* gone meanwhile */
	} while (bpf_map_get_next_key(fd, &key, &next) == 0);
	return 0;
}

static int read_eps(int fd, struct want_ep **out, size_t *n)
{
	struct tern_addr key, next;
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	if (bpf_map_get_next_key(fd, NULL, &next))
		return 0;
	do {
		struct want_ep *e = vec_push(out, n, &cap, sizeof(**out));

		key = next;
		if (!e)
			return -ENOMEM;
		e->addr = key;
		if (bpf_map_lookup_elem(fd, &key, &e->ep))
			(*n)--;
	} while (bpf_map_get_next_key(fd, &key, &next) == 0);
	return 0;
}

static const struct cur_if *cur_if_find(const struct cur_if *c, size_t n, __u32 ifindex)
{
	for (size_t i = 0; i < n; i++)
		if (c[i].ifindex == ifindex)
			return &c[i];
	return NULL;
}

static int ep_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct tern_addr)); /* addr is the first member */
}

/* e must be sorted by address */
static struct want_ep *ep_find(const struct want_ep *e, size_t n, const struct tern_addr *a)
{
	return vec_find(a, e, n, sizeof(*e), ep_cmp);
}

/* --- id allocation -------------------------------------------------------- */

/* Lowest id >= 1 not in used[0..n). */
static __u32 lowest_free(const __u32 *used, size_t n)
{
	for (__u32 id = 1;; id++) {
		size_t i;

		for (i = 0; i < n; i++)
			if (used[i] == id)
				break;
		if (i == n)
			return id;
	}
}

static void counters__zero_slot(int fd, __u32 slot)
{
	int ncpu = libbpf_num_possible_cpus();
	struct tern_counters *zero = calloc(ncpu > 0 ? ncpu : 1, sizeof(*zero));

	if (!zero)
		return;
	bpf_map_update_elem(fd, &slot, zero, BPF_ANY);
	free(zero);
}

/* --- hooks ---------------------------------------------------------------- */

static struct hooked *hooked_find(struct reconciler *r, const char *name)
{
	for (size_t i = 0; i < r->n_hooked; i++)
		if (strcmp(r->hooked[i].name, name) == 0)
			return &r->hooked[i];
	return NULL;
}

static int hook__attach(struct reconciler *r, const struct want_if *w, struct reconcile_stats *st)
{
	bool wl = w->st.flags & TERN_IF_F_WORKLOAD;
	int in = wl ? dataplane__prog_from_ep(r->dp) : dataplane__prog_host_in(r->dp);
	int out = wl ? dataplane__prog_to_ep(r->dp) : dataplane__prog_host_out(r->dp);
	int a, b;

	a = tc_hook__attach(r->cfg->pin_path, w->name, w->ifindex, TC_INGRESS, in);
	b = a < 0 ? a : tc_hook__attach(r->cfg->pin_path, w->name, w->ifindex, TC_EGRESS, out);
	if (a < 0 || b < 0) {
		st->errors++;
		return a < 0 ? a : b;
	}
	if (a == TC_HOOK_ADOPTED && b == TC_HOOK_ADOPTED) {
		st->adopted++;
		log_info("%s (ifindex %d): adopted tc hooks", w->name, w->ifindex);
	} else {
		st->attached++;
		log_info("%s (ifindex %d): attached tc hooks", w->name, w->ifindex);
	}
	struct hooked *h = vec_push(&r->hooked, &r->n_hooked, &r->cap_hooked, sizeof(*h));

	if (!h)
		return -ENOMEM;
	snprintf(h->name, sizeof(h->name), "%s", w->name);
	h->ifindex = w->ifindex;
	h->flags = w->st.flags;
	return 0;
}

/* Detach name's hooks (ifindex: the interface they should sit on, 0: any). */
static void hook__detach(struct reconciler *r, const char *name, int ifindex,
			 struct reconcile_stats *st)
{
	int a = tc_hook__detach(r->cfg->pin_path, name, TC_INGRESS, ifindex);
	int b = tc_hook__detach(r->cfg->pin_path, name, TC_EGRESS, ifindex);

	if (a || b) {
		log_warn("%s: detach tc hooks: %s", name, strerror(-(a ? a : b)));
		st->errors++;
	} else {
		log_info("%s: detached tc hooks", name);
		st->detached++;
	}
}

static bool wanted(const struct want_if *w, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(w[i].name, name) == 0)
			return true;
	return false;
}

/* Pins under links/ from an earlier run for interfaces no longer wanted. */
static void sweep_stale_pins(struct reconciler *r, const struct want_if *w, size_t n,
			     struct reconcile_stats *st)
{
	static const char *const dirs[] = { "tc-in", "tc-out" };

	for (int i = 0; i < 2; i++) {
		char dir[PATH_MAX];
		struct dirent *de;
		DIR *d;

		snprintf(dir, sizeof(dir), "%s/links/%s", r->cfg->pin_path, dirs[i]);
		d = opendir(dir);
		if (!d)
			continue;
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.' || wanted(w, n, de->d_name))
				continue;
			/* detaches both directions, so the other dir's entry goes too */
			hook__detach(r, de->d_name, 0, st);
		}
		closedir(d);
	}
}

/* --- network policy ------------------------------------------------------ */

/* What an interface's entry holds now, as policy_iso_resolve takes it:
 * POLICY_ISO_* bits, or POLICY_ISO_NEW when the map has none for this
 * endpoint (none, or another one's). */
static unsigned if_held(const struct cur_if *c, const struct want_if *w)
{
	if (!c || c->st.ep_id != w->st.ep_id || (c->st.flags & IF_KIND) != TERN_IF_F_WORKLOAD)
		return POLICY_ISO_NEW;
	return (c->st.flags & TERN_IF_F_ISO_IN ? POLICY_ISO_IN : 0) |
	       (c->st.flags & TERN_IF_F_ISO_EG ? POLICY_ISO_EG : 0);
}

static unsigned ep_held(const struct want_ep *c, const struct want_ep *e)
{
	if (!c || c->ep.ep_id != e->ep.ep_id)
		return POLICY_ISO_NEW;
	return c->ep.flags & TERN_EP_F_ISO_IN ? POLICY_ISO_IN : 0;
}

/* Phase 1 of policy (policy/policy.h) for the local endpoints: programs
 * installed, and its answer for each pod noted on the pod's entries in
 * want (interfaces) and weps (endpoints); iso__resolve makes the flags. */
static int policy_step(struct reconciler *r, const struct model *m,
		       const struct k8s_object *const *pods, size_t n_pods, struct want_if *want,
		       size_t n_want, struct want_ep *weps, size_t n_weps,
		       const struct cur_if *cur, size_t n_cur, const struct want_ep *ceps,
		       size_t n_ceps, struct reconcile_stats *st)
{
	struct pol_ep_in *eps = calloc(n_pods ? n_pods : 1, sizeof(*eps));
	struct want_if **wifs = calloc(n_pods ? n_pods : 1, sizeof(*wifs));
	unsigned *iso = calloc(n_pods ? n_pods : 1, sizeof(*iso));
	struct policy_stats ps = { 0 };
	size_t n = 0;
	int err = -ENOMEM;

	if (!eps || !wifs || !iso) {
		log_error("network policy: %s; every pod keeps its isolation, new ones are "
			  "isolated (fail closed)", strerror(ENOMEM));
		goto out;
	}
	for (size_t i = 0; i < n_pods; i++) {
		const struct k8s_object *o = pods[i];
		struct want_if *w = NULL;
		bool held = false;
		__u32 id = 0;

		if (!pod_is_local(r, o))
			continue;
		for (size_t j = 0; j < n_want && !w; j++)
			if (want[j].pod == o)
				w = &want[j];
		id = w ? w->st.ep_id : 0;
		if (w)
			held = if_held(cur_if_find(cur, n_cur, w->ifindex), w) != POLICY_ISO_NEW;
		for (size_t k = 0; k < o->pod.n_ips; k++) {
			struct want_ep *e = ep_find(weps, n_weps, &o->pod.ips[k]);

			if (!e)
				continue;
			if (!id)
				id = e->ep.ep_id;
			held |= ep_held(ep_find(ceps, n_ceps, &e->addr), e) != POLICY_ISO_NEW;
		}
		if (!id)
			continue;
		eps[n] = (struct pol_ep_in){ .ep_id = id, .pod = o, .held = held };
		wifs[n++] = w;
	}
	err = policy_apply(r->pol, m, eps, n, iso, &ps);
	for (size_t i = 0; i < n; i++) {
		const struct k8s_object *o = eps[i].pod;

		if (wifs[i]) {
			wifs[i]->pol_known = true;
			wifs[i]->pol_iso = iso[i];
		}
		for (size_t k = 0; k < o->pod.n_ips; k++) {
			struct want_ep *e = ep_find(weps, n_weps, &o->pod.ips[k]);

			if (e) {
				e->pol_known = true;
				e->pol_iso = iso[i];
			}
		}
	}
	st->map_writes += ps.set_writes + ps.installed;
	st->errors += ps.errors;
out:
	free(eps);
	free(wifs);
	free(iso);
	return err;
}

/* Fail closed, for every workload entry: its isolation flags from
 * policy's answer for its pod and what the entry holds now, by the one
 * rule, policy_iso_resolve. An entry policy said nothing about (its step
 * failed, or never ran) keeps its flags; a new one is isolated both ways. */
static void iso__resolve(struct want_if *want, size_t n_want, struct want_ep *weps,
			 size_t n_weps, const struct cur_if *cur, size_t n_cur,
			 const struct want_ep *ceps, size_t n_ceps)
{
	for (size_t i = 0; i < n_want; i++) {
		struct want_if *w = &want[i];
		unsigned iso;

		if (!w->pod)
			continue;
		iso = policy_iso_resolve(w->pol_known ? w->pol_iso : POLICY_ISO_UNKNOWN,
					 if_held(cur_if_find(cur, n_cur, w->ifindex), w));
		w->st.flags &= ~(TERN_IF_F_ISO_IN | TERN_IF_F_ISO_EG);
		w->st.flags |= (iso & POLICY_ISO_IN ? TERN_IF_F_ISO_IN : 0) |
			       (iso & POLICY_ISO_EG ? TERN_IF_F_ISO_EG : 0);
	}
	for (size_t i = 0; i < n_weps; i++) {
		struct want_ep *e = &weps[i];
		unsigned iso = policy_iso_resolve(e->pol_known ? e->pol_iso : POLICY_ISO_UNKNOWN,
						  ep_held(ep_find(ceps, n_ceps, &e->addr), e));

		e->ep.flags &= ~TERN_EP_F_ISO_IN;
		e->ep.flags |= iso & POLICY_ISO_IN ? TERN_EP_F_ISO_IN : 0;
	}
}

/* --- conntrack of addresses that change hands ------------------------------ */

/* Note a to flush; its cutoff comes once the run's state is written. */
static int flush_add(struct reconciler *r, const struct tern_addr *a)
{
	struct flush_item *f = vec_push(&r->flush, &r->n_flush, &r->cap_flush, sizeof(*f));

	if (!f)
		return -ENOMEM;
	f->addr = *a;
	f->before_ns = 0;
	return 0;
}

/* Addresses whose interface changes (none: 0) between what the endpoint map
 * held (ceps) and what we want (weps), both sorted, one entry per address:
 * a local pod's that went, one another pod's interface takes over, one
 * arriving at a new interface. Their flows from before must not pass as a
 * new holder's, never judged by its policy, nor keep steering service
 * flows to it: arrivals are flushed too, as a peer's packet judged by the
 * old holder's state may have made an entry after it went. Arrivals also
 * go to r->arrived (see reconciler_gone_forget). */
static int flush_changed(struct reconciler *r, const struct want_ep *weps, size_t n_weps,
			 const struct want_ep *ceps, size_t n_ceps)
{
	size_t i = 0, j = 0;
	int err = 0;

	while (!err && (i < n_weps || j < n_ceps)) {
		int c = i == n_weps ? 1 : j == n_ceps ? -1 : ep_cmp(&weps[i], &ceps[j]);
		__u32 now = c <= 0 ? weps[i].ep.ifindex : 0;
		__u32 was = c >= 0 ? ceps[j].ep.ifindex : 0;

		if (now != was)
			err = flush_add(r, c <= 0 ? &weps[i].addr : &ceps[j].addr);
		if (!err && now && now != was) {
			struct tern_addr *a = vec_push(&r->arrived, &r->n_arrived,
						       &r->cap_arrived, sizeof(*a));

			if (a)
				*a = weps[i].addr;
			else
				err = -ENOMEM;
		}
		i += c <= 0;
		j += c >= 0;
	}
	return err;
}

static int flush_item_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct tern_addr)); /* addr is the first member */
}

/* One sweep for this run's addresses and those a failed run left, each
 * with its own cutoff (an address that changed hands again takes the later
 * one). A failure is retried next run and holds nothing else up. */
static int flush_step(struct reconciler *r, struct reconcile_stats *st)
{
	struct tern_addr *addrs;
	__u64 *before, deleted = 0;
	size_t n = 0;
	char a[64];
	int err;

	if (!r->n_flush)
		return 0;
	vec_sort(r->flush, r->n_flush, sizeof(*r->flush), flush_item_cmp);
	for (size_t i = 0; i < r->n_flush; i++) {
		struct flush_item *last = n ? &r->flush[n - 1] : NULL;

		if (last && !flush_item_cmp(last, &r->flush[i])) {
			if (r->flush[i].before_ns > last->before_ns)
				last->before_ns = r->flush[i].before_ns;
			continue;
		}
		r->flush[n++] = r->flush[i];
	}
	r->n_flush = n;
	addrs = malloc(n * sizeof(*addrs));
	before = malloc(n * sizeof(*before));
	if (!addrs || !before) {
		free(addrs);
		free(before);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		addrs[i] = r->flush[i].addr;
		before[i] = r->flush[i].before_ns;
	}
	err = dataplane__ct_flush(r->dp, addrs, before, n, &deleted);
	tern_addr_str(&addrs[0], a, sizeof(a));
	if (err) {
		log_error("conntrack: flows of %zu addresses that changed hands (%s%s) not "
			  "flushed: %s; retrying next run", n, a, n > 1 ? ", ..." : "",
			  strerror(-err));
		st->errors++;
	} else {
		log_info("conntrack: %llu flows of %zu addresses that changed hands (%s%s) flushed",
			 (unsigned long long)deleted, n, a, n > 1 ? ", ..." : "");
		st->ct_flushed += deleted;
		r->n_flush = 0;
	}
	free(addrs);
	free(before);
	return err;
}

void reconciler_gone_forget(struct reconciler *r)
{
	if (r->n_arrived)
		dataplane__gone_forget(r->dp, r->arrived, r->n_arrived);
	r->n_arrived = 0;
}

/* One entry per address, sorted: a pod on its way out may still list an
 * address a new pod holds; the one with an interface wins. */
static size_t eps_dedupe(struct want_ep *e, size_t n)
{
	size_t out = 0;

	for (size_t i = 0; i < n; i++) {
		if (out && !ep_cmp(&e[out - 1], &e[i])) {
			if (!e[out - 1].ep.ifindex)
				e[out - 1] = e[i];
			continue;
		}
		e[out++] = e[i];
	}
	return out;
}

/* --- the run -------------------------------------------------------------- */

int reconciler_run(struct reconciler *r, const struct model *m, struct reconcile_stats *st)
{
	const struct k8s_object *const *pods;
	size_t n_pods = model_list(m, K8S_POD, &pods);
	struct want_if *want = NULL;
	struct want_ep *weps = NULL;
	struct cur_if *cur = NULL;
	struct want_ep *ceps = NULL;
	size_t n_want = 0, cap_want = 0, n_weps = 0, cap_weps = 0, n_cur = 0, n_ceps = 0;
	__u32 *used_slots = NULL, *used_eps = NULL;
	size_t n_used_slots = 0, n_used_eps = 0;
	int err = 0, fd_if = r->dp->ifstate_fd, fd_ep = r->dp->ep_fd;

	memset(st, 0, sizeof(*st));
	err = read_ifstate(fd_if, &cur, &n_cur);
	if (!err)
		err = read_eps(fd_ep, &ceps, &n_ceps);
	if (err)
		goto out;
	used_slots = calloc(n_cur + n_pods + r->cfg->n_data_ifaces + 1, sizeof(__u32));
	used_eps = calloc(n_cur + n_ceps + n_pods + 1, sizeof(__u32));
	if (!used_slots || !used_eps) {
		err = -ENOMEM;
		goto out;
	}

	/* 1. the interfaces we want, keeping slots of those already known */
	for (size_t i = 0; i < r->cfg->n_data_ifaces; i++) {
		struct nl_link *l = link_by_name(r, r->cfg->data_ifaces[i]);

		if (!l)
			continue;
		struct want_if *w = vec_push(&want, &n_want, &cap_want, sizeof(*want));

		if (!w) {
			err = -ENOMEM;
			goto out;
		}
		snprintf(w->name, sizeof(w->name), "%s", l->name);
		w->ifindex = l->ifindex;
		w->st.flags = TERN_IF_F_DATA;
	}
	for (size_t i = 0; i < n_pods; i++) {
		const struct k8s_object *o = pods[i];
		char ifname[IF_NAMESIZE];
		struct nl_link *l;

		if (!pod_is_local(r, o))
			continue;
		if (workload_ifname(r->cfg->wl_prefix, o->meta.ns, o->meta.name, ifname,
				    sizeof(ifname)))
			continue;
		/* the endpoint exists from the moment the pod is ours */
		for (size_t j = 0; j < o->pod.n_ips; j++) {
			struct want_ep *e = vec_push(&weps, &n_weps, &cap_weps, sizeof(*weps));

			if (!e) {
				err = -ENOMEM;
				goto out;
			}
			e->addr = o->pod.ips[j];
			e->ep.flags = TERN_EP_F_LOCAL;
		}
		l = link_by_name(r, ifname);
		if (!l)
			continue;
		struct want_if *w = vec_push(&want, &n_want, &cap_want, sizeof(*want));

		if (!w) {
			err = -ENOMEM;
			goto out;
		}
		snprintf(w->name, sizeof(w->name), "%s", ifname);
		w->ifindex = l->ifindex;
		w->pod = o;
		w->st.flags = TERN_IF_F_WORKLOAD;
		for (size_t j = 0; j < o->pod.n_ips; j++) {
			const struct tern_addr *a = &o->pod.ips[j];

			if (tern_addr_is_v4(a))
				w->st.ip4 = a->w[3];
			else
				w->st.ip6 = *a;
		}
	}
	vec_sort(weps, n_weps, sizeof(*weps), ep_cmp);
	vec_sort(ceps, n_ceps, sizeof(*ceps), ep_cmp);
	for (size_t i = 0; i < n_want; i++) {
		const struct k8s_object *o = want[i].pod;

		for (size_t k = 0; o && k < o->pod.n_ips; k++) {
			struct want_ep *e = ep_find(weps, n_weps, &o->pod.ips[k]);

			if (e)
				e->ep.ifindex = want[i].ifindex;
		}
	}
	n_weps = eps_dedupe(weps, n_weps);

	/* 2. slots and endpoint ids: keep what the maps already say. No id
	 * the maps hold goes to a new pod in the same run, not even one whose
	 * pod is gone: its policy programs go only at the end of this run */
	for (size_t i = 0; i < n_cur; i++)
		used_eps[n_used_eps++] = cur[i].st.ep_id;
	for (size_t i = 0; i < n_ceps; i++)
		used_eps[n_used_eps++] = ceps[i].ep.ep_id;
	for (size_t i = 0; i < n_want; i++) {
		const struct cur_if *c = cur_if_find(cur, n_cur, want[i].ifindex);

		if (c && (c->st.flags & IF_KIND) == want[i].st.flags && c->st.slot) {
			want[i].st.slot = c->st.slot;
			used_slots[n_used_slots++] = c->st.slot;
			if (c->st.ep_id && want[i].pod)
				want[i].st.ep_id = c->st.ep_id;
		}
	}
	for (size_t i = 0; i < n_weps; i++) {
		const struct want_ep *c = ep_find(ceps, n_ceps, &weps[i].addr);

		if (c && c->ep.ep_id)
			weps[i].ep.ep_id = c->ep.ep_id;
	}
	for (size_t i = 0; i < n_want; i++) {
		if (!want[i].st.slot) {
			if (n_used_slots + 1 >= r->cfg->max_interfaces) {
				log_error("%s: no counter slot left (bpf.maxInterfaces %u)",
					  want[i].name, r->cfg->max_interfaces);
				st->errors++;
				continue;
			}
			want[i].st.slot = lowest_free(used_slots, n_used_slots);
			used_slots[n_used_slots++] = want[i].st.slot;
			counters__zero_slot(r->dp->counter_fd, want[i].st.slot);
		}
	}
	/* a pod's endpoint id: from any of its IPs or its interface, else new */
	for (size_t i = 0; i < n_pods; i++) {
		const struct k8s_object *o = pods[i];
		struct want_if *w = NULL;
		__u32 id = 0;

		if (!pod_is_local(r, o))
			continue;
		for (size_t j = 0; j < n_want; j++)
			if (want[j].pod == o)
				w = &want[j];
		if (w)
			id = w->st.ep_id;
		for (size_t k = 0; k < o->pod.n_ips && !id; k++) {
			struct want_ep *e = ep_find(weps, n_weps, &o->pod.ips[k]);

			id = e ? e->ep.ep_id : 0;
		}
		if (!id) {
			id = lowest_free(used_eps, n_used_eps);
			used_eps[n_used_eps++] = id;
		}
		if (w)
			w->st.ep_id = id;
		for (size_t k = 0; k < o->pod.n_ips; k++) {
			struct want_ep *e = ep_find(weps, n_weps, &o->pod.ips[k]);

			if (e)
				e->ep.ep_id = id;
		}
	}
	/* network policy: programs in place before step 3 points flags at them */
	if (policy_step(r, m, pods, n_pods, want, n_want, weps, n_weps, cur, n_cur, ceps, n_ceps,
			st))
		err = -EAGAIN;
	iso__resolve(want, n_want, weps, n_weps, cur, n_cur, ceps, n_ceps);

	/* 3. write state before attaching: a hook never runs without it */
	for (size_t i = 0; i < n_weps; i++) {
		const struct want_ep *c = ep_find(ceps, n_ceps, &weps[i].addr);

		if (c && !memcmp(&c->ep, &weps[i].ep, sizeof(c->ep)))
			continue;
		if (bpf_map_update_elem(fd_ep, &weps[i].addr, &weps[i].ep, BPF_ANY)) {
			err = -errno;
			log_error("endpoint map: update: %s%s", strerror(errno), errno_hint(err));
			st->errors++;
			continue;
		}
		st->map_writes++;
	}
	for (size_t i = 0; i < n_want; i++) {
		const struct cur_if *c = cur_if_find(cur, n_cur, want[i].ifindex);

		if (!want[i].st.slot)
			continue;
		if (c && !memcmp(&c->st, &want[i].st, sizeof(c->st)))
			continue;
		if (bpf_map_update_elem(fd_if, &want[i].ifindex, &want[i].st, BPF_ANY)) {
			err = -errno;
			log_error("%s: ifstate map: update: %s%s", want[i].name, strerror(errno),
				  errno_hint(err));
			st->errors++;
			continue;
		}
		st->map_writes++;
	}

	/* flows of addresses that changed hands, made before the state above
	 * was written (also by programs that read the old one just before) */
	size_t n_pending = r->n_flush;

	if (flush_changed(r, weps, n_weps, ceps, n_ceps))
		err = -EAGAIN;
	if (r->n_flush > n_pending) {
		__u64 cutoff = dataplane__flush_cutoff();

		for (size_t i = n_pending; i < r->n_flush; i++)
			r->flush[i].before_ns = cutoff;
	}
	if (flush_step(r, st))
		err = -EAGAIN;

	/* 4. hooks: detach what is no longer wanted, attach what is new */
	if (!r->swept) {
		sweep_stale_pins(r, want, n_want, st);
		r->swept = true;
	}
	for (size_t i = 0; i < r->n_hooked;) {
		struct hooked *h = &r->hooked[i];
		bool keep = false;

		for (size_t j = 0; j < n_want; j++)
			if (!strcmp(want[j].name, h->name) && want[j].ifindex == h->ifindex &&
			    (want[j].st.flags & IF_KIND) == (h->flags & IF_KIND))
				keep = true;
		if (keep) {
			i++;
			continue;
		}
		if (!wanted(want, n_want, h->name))
			hook__detach(r, h->name, h->ifindex, st);
		/* else: same name, new ifindex: attach below replaces the pin */
		*h = r->hooked[--r->n_hooked];
	}
	for (size_t i = 0; i < n_want; i++) {
		if (!want[i].st.slot || hooked_find(r, want[i].name))
			continue;
		int e = hook__attach(r, &want[i], st);

		if (e)
			err = e;
	}

	/* 5. drop state nobody wants, now that no hook needs it */
	for (size_t i = 0; i < n_cur; i++) {
		bool keep = false;

		for (size_t j = 0; j < n_want && !keep; j++)
			keep = (__u32)want[j].ifindex == cur[i].ifindex && want[j].st.slot;
		if (keep)
			continue;
		if (bpf_map_delete_elem(fd_if, &cur[i].ifindex) == 0)
			st->map_writes++;
	}
	for (size_t i = 0; i < n_ceps; i++) {
		if (ep_find(weps, n_weps, &ceps[i].addr))
			continue;
		if (bpf_map_delete_elem(fd_ep, &ceps[i].addr) == 0)
			st->map_writes++;
	}

	/* 6. policy programs, counters and set members nobody wants, now
	 * that no flag points at them */
	struct policy_stats ps = { 0 };

	if (policy_cleanup(r->pol, &ps))
		err = -EAGAIN;
	st->map_writes += ps.set_writes + ps.removed;
	st->errors += ps.errors;
out:
	free(want);
	free(weps);
	free(cur);
	free(ceps);
	free(used_slots);
	free(used_eps);
	return err;
}
