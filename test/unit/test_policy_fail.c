/* Unit tests for failing closed (policy/policy.h): the one rule that turns
 * the policy step's answer, or its lack of one, and what a map entry holds
 * into the entry's isolation flags; and the engine, when a run fails as a
 * whole, answering "unknown" for every endpoint (never "not isolated").
 * The packets' side of it is test/bpf/test_policy.c (fail-closed/...). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "agent/doc.h"
#include "agent/k8s.h"
#include "agent/model.h"
#include "policy/policy.h"
#include "test/unit/unit.h"

#define IN POLICY_ISO_IN
#define EG POLICY_ISO_EG
#define BOTH POLICY_ISO_BOTH
#define UNKNOWN POLICY_ISO_UNKNOWN
#define NEW POLICY_ISO_NEW

/* The rule, case by case. */
static void rule_table(void)
{
	static const struct {
		unsigned answer, held, want;
	} t[] = {
		/* an answer is taken as it is, whatever the entry held */
		{ 0, BOTH, 0 },
		{ IN, NEW, IN },
		{ EG, IN, EG },
		{ BOTH, 0, BOTH },
		{ 0, NEW, 0 },
		/* none: the entry keeps what it has */
		{ UNKNOWN, 0, 0 },
		{ UNKNOWN, IN, IN },
		{ UNKNOWN, EG, EG },
		{ UNKNOWN, BOTH, BOTH },
		/* none, and a new entry: isolated both ways */
		{ UNKNOWN, NEW, BOTH },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		unsigned got = policy_iso_resolve(t[i].answer, t[i].held);

		if (got != t[i].want) {
			fprintf(stderr, "  answer %#x held %#x: %#x, want %#x\n", t[i].answer,
				t[i].held, got, t[i].want);
			unit_failed_checks++;
		}
	}
}

/* Never open: without an answer, no entry loses a bit it held, and a new
 * one has them all; the result is only ever isolation bits. */
static void rule_never_opens(void)
{
	for (unsigned held = 0; held <= (BOTH | NEW); held++) {
		unsigned got = policy_iso_resolve(UNKNOWN, held);

		CHECK_INT(got & ~BOTH, 0);
		CHECK_INT(got & held & BOTH, held & BOTH);
		if (held & NEW)
			CHECK_INT(got, BOTH);
	}
}

static const char world[] =
	"apiVersion: v1\nkind: Node\nmetadata: {name: n1}\n"
	"status: {addresses: [{type: InternalIP, address: 192.168.0.1}]}\n"
	"---\napiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n"
	"---\napiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop, labels: {app: web}}\n"
	"spec: {nodeName: n1}\nstatus: {phase: Running, podIPs: [{ip: 10.0.0.1}]}\n"
	"---\napiVersion: v1\nkind: Pod\nmetadata: {name: new, namespace: shop, labels: {app: new}}\n"
	"spec: {nodeName: n1}\nstatus: {phase: Running, podIPs: [{ip: 10.0.0.2}]}\n"
	"---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
	"metadata: {name: web, namespace: shop}\n"
	"spec:\n  podSelector: {matchLabels: {app: web}}\n  ingress: [{ports: [{port: 80}]}]\n";

static int add_yaml(struct model *m, const char *yaml)
{
	struct doc_list docs;
	int err = doc_parse_yaml_stream(yaml, strlen(yaml), &docs);

	for (size_t i = 0; !err && i < docs.n; i++) {
		struct k8s_item *items;
		size_t n;

		if (!docs.docs[i]) {
			err = -EINVAL;
			break;
		}
		err = k8s_decode_list(docs.docs[i], &items, &n);
		for (size_t j = 0; !err && j < n; j++) {
			if (!items[j].obj)
				err = -EINVAL;
			else if (model_upsert(m, items[j].obj) < 0)
				err = -ENOMEM;
			items[j].obj = NULL;
		}
		k8s_items_free(items, n);
	}
	doc_list_free(&docs);
	return err;
}

/* Run f with stderr into a buffer (the engine's log); the text, malloc'd. */
static char *logged(void (*f)(void *), void *arg)
{
	FILE *tmp = tmpfile();
	int saved = dup(STDERR_FILENO);
	char *text = calloc(1, 8192);

	if (!tmp || saved < 0 || !text) {
		if (tmp)
			fclose(tmp);
		if (saved >= 0)
			close(saved);
		free(text);
		return NULL;
	}
	fflush(stderr);
	dup2(fileno(tmp), STDERR_FILENO);
	f(arg);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(tmp);
	if (fread(text, 1, 8191, tmp) == 0)
		text[0] = '\0';
	fclose(tmp);
	return text;
}

struct run {
	struct policy *pol;
	struct model *m;
	struct pol_ep_in eps[2];
	unsigned iso[2];
	struct policy_stats st;
	int err, cleanup_err;
};

static void run_once(void *arg)
{
	struct run *r = arg;

	r->err = policy_apply(r->pol, r->m, r->eps, 2, r->iso, &r->st);
	r->cleanup_err = policy_cleanup(r->pol, &r->st);
}

/* A run that cannot read its maps (here: none to read) fails as a whole:
 * every endpoint gets no answer, so the pod the maps hold keeps its
 * flags, the new one is isolated both ways, and the log says so. */
static void whole_run_failure(void)
{
	struct policy_opts o = { .node = "n1", .jmp_fd = -1, .polctx_fd = -1, .ipset_fd = -1,
				 .polcnt_fd = -1 };
	struct run r = { .m = model_new() };
	char *text = NULL;

	r.pol = policy_new(&o);
	if (!r.m || !r.pol || add_yaml(r.m, world)) {
		unit_failed_checks++;
		goto out;
	}
	r.eps[0] = (struct pol_ep_in){ 1, model_get(r.m, K8S_POD, "shop", "web"), 1 };
	r.eps[1] = (struct pol_ep_in){ 2, model_get(r.m, K8S_POD, "shop", "new"), 0 };
	r.iso[0] = r.iso[1] = 0;
	text = logged(run_once, &r);
	CHECK(r.err < 0);
	CHECK_INT(r.iso[0], UNKNOWN);
	CHECK_INT(r.iso[1], UNKNOWN);
	CHECK(r.st.errors >= 1);
	/* web held ingress isolation: kept; new had nothing: both */
	CHECK_INT(policy_iso_resolve(r.iso[0], IN), IN);
	CHECK_INT(policy_iso_resolve(r.iso[1], NEW), BOTH);
	CHECK(text && strstr(text, "policy: reading tern_jmp_v1"));
	CHECK(text && strstr(text, "drop_no_policy"));
	/* the new endpoint's slot could not be emptied: said, and counted */
	CHECK(text && strstr(text, "endpoint 2 ingress: emptying jump slot"));

	/* the next run tries again, and fails the same way: never an answer
	 * of "not isolated" it could not vouch for */
	r.iso[0] = r.iso[1] = 0;
	memset(&r.st, 0, sizeof(r.st));
	free(text);
	text = logged(run_once, &r);
	CHECK(r.err < 0);
	CHECK_INT(r.iso[0], UNKNOWN);
	CHECK_INT(r.iso[1], UNKNOWN);
out:
	free(text);
	policy_free(r.pol);
	model_free(r.m);
}

int main(void)
{
	UNIT_BEGIN("policy_fail");
	RUN(rule_table);
	RUN(rule_never_opens);
	RUN(whole_run_failure);
	return UNIT_END();
}
