/* tern's service control plane, in process: the model holds N services x E
 * endpoints (decoded from manifests as the files datastore decodes them) and
 * svc_sync_run (agent/services.c) programs real, unpinned NAT maps created
 * from the tc skeleton, in a private network namespace.
 *
 *   bench_svc BULK.yaml SERVICE.yaml SLICE.yaml CHANGED.yaml [REPS]
 *
 * BULK: every other service and slice; SERVICE and SLICE: the measured
 * service and its EndpointSlice; CHANGED: that slice with one endpoint
 * replaced (test/bench/kp_rules.py writes them). Prints one line per figure, "NAME MEDIAN RUNS
 * [ENTRIES]", milliseconds:
 *   decode   manifests -> model (YAML parse, decode, model_upsert), once
 *   initial  svc_sync_run into empty maps (every frontend and backend)
 *   resync   a periodic resync: re-read both maps, recompute, diff (no writes)
 *   change   the measured slice changed in the model -> maps updated */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent/config.h"
#include "agent/doc.h"
#include "agent/k8s.h"
#include "agent/model.h"
#include "agent/services.h"
#include "tc.skel.h"

#define MAX_REPS 32

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Every object of a manifest file into the model; the count, or -1. */
static long load_file(struct model *m, const char *path)
{
	FILE *f = fopen(path, "r");
	struct doc_list docs = { 0 };
	char *buf = NULL;
	size_t len = 0;
	long n = 0;

	if (!f) {
		perror(path);
		return -1;
	}
	FILE *mem = open_memstream(&buf, &len);
	char chunk[65536];
	size_t got;

	while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
		fwrite(chunk, 1, got, mem);
	fclose(f);
	fclose(mem);
	if (doc_parse_yaml_stream(buf, len, &docs)) {
		free(buf);
		return -1;
	}
	for (size_t i = 0; i < docs.n; i++) {
		struct k8s_item *items;
		size_t n_items;

		if (!docs.docs[i] || k8s_decode_list(docs.docs[i], &items, &n_items))
			continue;
		for (size_t j = 0; j < n_items; j++) {
			if (items[j].obj && model_upsert(m, items[j].obj) >= 0)
				n++;
			items[j].obj = NULL;
		}
		k8s_items_free(items, n_items);
	}
	doc_list_free(&docs);
	free(buf);
	return n;
}

/* Delete every entry (between runs of the initial programming). */
static void map_clear(int fd, size_t ksz)
{
	size_t cap = 1 << 16, n = 0;
	char *keys = malloc(cap * ksz), *prev = NULL;

	while (keys && bpf_map_get_next_key(fd, prev, keys + n * ksz) == 0) {
		prev = keys + n * ksz;
		if (++n == cap) {
			char *k = realloc(keys, 2 * cap * ksz);

			if (!k)
				break;
			prev = k + (prev - keys);
			keys = k;
			cap *= 2;
		}
	}
	__u32 count = n;

	if (n && bpf_map_delete_batch(fd, keys, &count, NULL))
		for (size_t i = 0; i < n; i++)
			bpf_map_delete_elem(fd, keys + i * ksz);
	free(keys);
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void report(const char *name, const double *runs, int n, unsigned entries)
{
	double s[MAX_REPS];

	memcpy(s, runs, n * sizeof(*s));
	qsort(s, n, sizeof(*s), dbl_cmp);
	printf("%s %.2f ", name, s[n / 2]);
	for (int i = 0; i < n; i++)
		printf("%s%.2f", i ? "," : "", runs[i]);
	printf(" %u\n", entries);
}

static int run(struct svc_sync *s, const struct model *m, double *ms, unsigned *writes)
{
	struct svc_stats st;
	struct svc_gone *gone;
	size_t n_gone;
	double t0 = now_ms();
	int err = svc_sync_run(s, m, &st, &gone, &n_gone);

	*ms = now_ms() - t0;
	*writes = st.fe_writes + st.be_writes;
	free(gone);
	if (err)
		fprintf(stderr, "bench_svc: svc_sync_run: %s\n", strerror(-err));
	return err;
}

int main(int argc, char **argv)
{
	int reps = argc > 5 ? atoi(argv[5]) : 5;
	double init[MAX_REPS], resync[MAX_REPS], change[MAX_REPS], t0;
	unsigned w_init = 0, w_resync = 0, w_change = 0;
	struct tern_config cfg;
	struct svc_sync *s = NULL;
	struct tern_tc *skel;
	struct model *m;
	int fe_fd, be_fd;
	long n;

	if (argc < 5 || reps < 1 || reps > MAX_REPS) {
		fprintf(stderr, "usage: bench_svc BULK.yaml SERVICE.yaml SLICE.yaml CHANGED.yaml "
				"[REPS]\n");
		return 2;
	}
	if (unshare(CLONE_NEWNET)) {
		perror("bench_svc: unshare(CLONE_NEWNET)");
		return 1;
	}
	skel = tern_tc__open_and_load(); /* maps unpinned: private to this run */
	if (!skel) {
		fprintf(stderr, "bench_svc: load the tc skeleton: %s\n", strerror(errno));
		return 1;
	}
	fe_fd = bpf_map__fd(skel->maps.tern_nat_fe_v1);
	be_fd = bpf_map__fd(skel->maps.tern_nat_be_v1);
	config_defaults(&cfg);
	free(cfg.node_name);
	cfg.node_name = strdup("node-1");
	m = model_new();
	if (!m || !cfg.node_name)
		return 1;

	t0 = now_ms();
	long n1 = load_file(m, argv[1]), n2 = load_file(m, argv[2]), n3 = load_file(m, argv[3]);

	if (n1 < 0 || n2 < 0 || n3 < 0)
		return 1;
	n = n1 + n2 + n3;
	double dec = now_ms() - t0;

	report("decode", &dec, 1, n);

	for (int r = 0; r < reps; r++) {
		map_clear(fe_fd, sizeof(struct tern_nat_fe_key));
		map_clear(be_fd, sizeof(struct tern_nat_be_key));
		svc_sync_free(s);
		s = svc_sync_new(&cfg, fe_fd, be_fd);
		if (!s || run(s, m, &init[r], &w_init))
			return 1;
	}
	report("initial", init, reps, w_init);

	for (int r = 0; r < reps; r++) {
		svc_sync_resync(s);
		if (run(s, m, &resync[r], &w_resync))
			return 1;
	}
	report("resync", resync, reps, w_resync);

	/* the measured slice, changed and back again */
	for (int r = 0; r < reps; r++) {
		if (load_file(m, argv[r % 2 ? 3 : 4]) < 1 || run(s, m, &change[r], &w_change))
			return 1;
	}
	report("change", change, reps, w_change);

	svc_sync_free(s);
	model_free(m);
	tern_tc__destroy(skel);
	config_free(&cfg);
	return 0;
}
