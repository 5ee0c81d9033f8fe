/* ternd: the node agent. Loads the dataplane, follows the datastore and the
 * node's links, and keeps maps and hooks in step with them. Exits on
 * SIGTERM/SIGINT leaving the dataplane pinned and running. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "agent/config.h"
#include "agent/dataplane.h"
#include "agent/files.h"
#include "agent/health.h"
#include "agent/kube.h"
#include "agent/kubeconfig.h"
#include "agent/log.h"
#include "agent/model.h"
#include "agent/netlink.h"
#include "agent/reconcile.h"
#include "agent/services.h"

#define RESYNC_SECONDS 60

struct agent {
	struct tern_config cfg;
	struct dataplane dp;
	struct model *model;
	struct files_ds *files;
	struct kube_ds *kube;        /* datastore.type kubernetes, instead of files */
	struct health *health;       /* health.address set */
	struct nl_mon *nl;
	struct reconciler *rec;
	struct svc_sync *svc;
	int links_stale;          /* a link re-dump failed: retry at resync */
	int epfd, sigfd, gcfd, resyncfd;
	int dirty;
	int reconciled;              /* at least once */
	int ready;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: ternd --config FILE [--check]\n"
		   "       ternd --help-config\n"
		   "  --config FILE   the YAML config (docs/configuration.md)\n"
		   "  --check         validate the config and exit (2: invalid)\n"
		   "  --help-config   print every config key with its default\n");
}

static void on_link(enum nl_event ev, const struct nl_link *l, void *arg)
{
	struct agent *a = arg;

	reconciler_link_event(a->rec, ev, l);
	a->dirty = 1;
}

/* Events were lost: read every link again. Until that works, the last good
 * table stands and the resync timer retries. */
static void links_redump(struct agent *a)
{
	int err;

	log_warn("netlink: events lost; re-reading all links");
	err = reconciler_links_redump(a->rec, a->nl);
	a->links_stale = err != 0;
	if (err)
		log_error("netlink: re-reading links: %s; keeping the last table, retrying",
			  strerror(-err));
	else
		a->dirty = 1;
}

static int timer_new(int seconds)
{
	struct itimerspec its = {
		.it_interval = { .tv_sec = seconds },
		.it_value = { .tv_sec = seconds },
	};
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);

	if (fd >= 0 && timerfd_settime(fd, 0, &its, NULL)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int epoll_add(int epfd, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

/* Services: the NAT maps; UDP backends that went get their flows cleaned. */
static int reconcile_services(struct agent *a)
{
	struct svc_stats st;
	struct svc_gone *gone;
	size_t n_gone;
	int err = svc_sync_run(a->svc, a->model, &st, &gone, &n_gone);

	if (st.fe_writes || st.be_writes)
		log_info("services: %u ports, %u frontends, %u backends (%u + %u entries written)",
			 st.ports, st.frontends, st.backends, st.fe_writes, st.be_writes);
	if (n_gone)
		dataplane__udp_gone(&a->dp, gone, n_gone);
	free(gone);
	return err;
}

static void reconcile(struct agent *a)
{
	struct reconcile_stats st;
	int err = reconciler_run(a->rec, a->model, &st);
	int serr = reconcile_services(a);

	reconciler_gone_forget(a->rec);

	a->dirty = 0;
	a->reconciled = 1;
	if (st.attached || st.detached || st.map_writes || st.errors || err)
		log_info("reconciled: %u attached, %u adopted, %u detached, %u map writes, "
			 "%u errors", st.attached, st.adopted, st.detached, st.map_writes,
			 st.errors);
	if (err || serr)
		a->dirty = 1; /* retried at the next resync */
}

/* ---- the datastore: files or kubernetes ---- */

static int datastore_open(struct agent *a)
{
	int err;

	if (a->cfg.datastore_type == DATASTORE_KUBERNETES)
		return kube_ds_open(a->cfg.kubeconfig, a->model, &a->kube);
	err = files_ds_open(a->cfg.datastore_path, a->model, &a->files);
	if (err)
		log_error("datastore %s: %s", a->cfg.datastore_path, strerror(-err));
	return err;
}

static int datastore_fd(const struct agent *a)
{
	return a->kube ? kube_ds_fd(a->kube) : files_ds_fd(a->files);
}

/* The model is complete enough to act on: until the first full list, an
 * empty model would detach every pod that is running fine. */
static int datastore_synced(const struct agent *a)
{
	return !a->kube || kube_ds_synced(a->kube);
}

/* Ready once the datastore is synced and the dataplane reconciled to it;
 * it stays ready (the dataplane keeps working on the last known state). */
static void readiness_update(struct agent *a)
{
	char pending[256], why[320];

	if (a->ready)
		return;
	if (datastore_synced(a) && a->reconciled) {
		a->ready = 1;
		if (a->health)
			health_set_ready(a->health, 1, NULL);
		log_info("ready");
		return;
	}
	if (!a->health)
		return;
	if (a->kube && !kube_ds_synced(a->kube)) {
		kube_ds_pending(a->kube, pending, sizeof(pending));
		snprintf(why, sizeof(why), "waiting for the first list of %s from %s", pending,
			 kube_ds_server(a->kube));
	} else {
		snprintf(why, sizeof(why), "waiting for the first reconcile");
	}
	health_set_ready(a->health, 0, why);
}

static void ct_gc(struct agent *a)
{
	__u64 scanned = 0, deleted = 0;

	if (dataplane__ct_gc(&a->dp, &scanned, &deleted) == 0 && deleted)
		log_debug("conntrack GC: %llu scanned, %llu expired", (unsigned long long)scanned,
			  (unsigned long long)deleted);
}

static void drain_timer(int fd)
{
	uint64_t n;

	while (read(fd, &n, sizeof(n)) > 0)
		;
}

static int run(struct agent *a)
{
	struct epoll_event evs[8];
	int err;

	for (;;) {
		int n = epoll_wait(a->epfd, evs, 8, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == a->sigfd) {
				struct signalfd_siginfo si;

				if (read(fd, &si, sizeof(si)) == sizeof(si)) {
					log_info("signal %u: exiting; the dataplane stays in place",
						 si.ssi_signo);
					return 0;
				}
			} else if (a->files && fd == files_ds_fd(a->files)) {
				if (files_ds_process(a->files) > 0)
					a->dirty = 1;
			} else if (a->kube && fd == kube_ds_fd(a->kube)) {
				if (kube_ds_process(a->kube) > 0)
					a->dirty = 1;
			} else if (a->health && fd == health_fd(a->health)) {
				/* served below, on every turn */
			} else if (fd == nl_mon_fd(a->nl)) {
				err = nl_mon_process(a->nl, on_link, a);
				if (err == -ENOBUFS)
					links_redump(a);
			} else if (fd == a->gcfd) {
				drain_timer(fd);
				ct_gc(a);
			} else if (fd == a->resyncfd) {
				drain_timer(fd);
				if (a->links_stale)
					links_redump(a);
				svc_sync_resync(a->svc);
				a->dirty = 1;
			}
		}
		if ((a->dirty || !a->reconciled) && datastore_synced(a))
			reconcile(a);
		readiness_update(a);
		if (a->health)
			health_process(a->health);
	}
}

/* --check: a kubeconfig the config names must be usable too (the in-cluster
 * config exists only in a pod, so it is not checked). */
static int check_kubeconfig(const struct tern_config *cfg, char *msg, size_t len)
{
	struct kube_conn conn;
	int err;

	if (cfg->datastore_type != DATASTORE_KUBERNETES || !*cfg->kubeconfig)
		return 0;
	err = kube_conn_kubeconfig(cfg->kubeconfig, &conn, msg, len);
	if (!err)
		kube_conn_free(&conn);
	return err;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'k' },
		{ "help-config", no_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct agent a = { .epfd = -1, .sigfd = -1, .gcfd = -1, .resyncfd = -1 };
	const char *config = NULL;
	int check = 0, opt, err;
	char msg[1024];
	sigset_t mask;

	while ((opt = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config = optarg;
			break;
		case 'k':
			check = 1;
			break;
		case 'H':
			config_print_schema(stdout);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!config || optind != argc) {
		usage(stderr);
		return 2;
	}
	config_defaults(&a.cfg);
	err = config_load(config, &a.cfg, msg, sizeof(msg));
	if (err) {
		fprintf(stderr, "ternd: %s\n", msg);
		config_free(&a.cfg);
		return 2;
	}
	if (check) {
		err = check_kubeconfig(&a.cfg, msg, sizeof(msg));
		if (err)
			fprintf(stderr, "ternd: %s\n", msg);
		else
			printf("%s: ok\n", config);
		config_free(&a.cfg);
		return err ? 2 : 0;
	}
	enum tern_log_level lvl;

	if (log_level_parse(a.cfg.log_level, &lvl) == 0)
		log_set_level(lvl);
	log_route_libbpf();
	/* signals first: a SIGTERM during start-up still exits cleanly */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	a.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);

	err = dataplane__open(&a.dp, &a.cfg);
	if (err)
		goto out;
	a.model = model_new();
	a.rec = reconciler_new(&a.cfg, &a.dp);
	a.svc = svc_sync_new(&a.cfg, a.dp.nat_fe_fd, a.dp.nat_be_fd);
	if (a.svc)
		svc_sync_node_map(a.svc, a.dp.node_fd);
	if (!a.model || !a.rec || !a.svc) {
		err = -ENOMEM;
		goto out;
	}
	err = nl_mon_open(&a.nl);
	if (!err)
		err = nl_mon_dump(a.nl, on_link, &a);
	if (err) {
		log_error("netlink: %s", strerror(-err));
		goto out;
	}
	err = datastore_open(&a);
	if (err)
		goto out;
	a.gcfd = timer_new(a.cfg.ct_gc_interval);
	a.resyncfd = timer_new(RESYNC_SECONDS);
	a.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (a.sigfd < 0 || a.gcfd < 0 || a.resyncfd < 0 || a.epfd < 0) {
		err = -errno;
		log_error("set up event loop: %s", strerror(errno));
		goto out;
	}
	if ((err = epoll_add(a.epfd, a.sigfd)) || (err = epoll_add(a.epfd, datastore_fd(&a))) ||
	    (err = epoll_add(a.epfd, nl_mon_fd(a.nl))) || (err = epoll_add(a.epfd, a.gcfd)) ||
	    (err = epoll_add(a.epfd, a.resyncfd)))
		goto out;
	if (*a.cfg.health_address &&
	    ((err = health_open(a.cfg.health_address, &a.health)) ||
	     (err = epoll_add(a.epfd, health_fd(a.health)))))
		goto out;

	log_info("ternd on node %s: pins %s, datastore %s", a.cfg.node_name, a.cfg.pin_path,
		 a.kube ? kube_ds_server(a.kube) : a.cfg.datastore_path);
	if (datastore_synced(&a))
		reconcile(&a);
	readiness_update(&a);
	err = run(&a);
out:
	if (a.files)
		files_ds_close(a.files);
	kube_ds_close(a.kube);
	health_close(a.health);
	if (a.nl)
		nl_mon_close(a.nl);
	reconciler_free(a.rec);
	svc_sync_free(a.svc);
	model_free(a.model);
	dataplane__close(&a.dp);
	int fds[] = { a.epfd, a.sigfd, a.gcfd, a.resyncfd };

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	config_free(&a.cfg);
	return err ? 1 : 0;
}
