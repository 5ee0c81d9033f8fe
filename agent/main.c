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
#include "agent/log.h"
#include "agent/model.h"
#include "agent/netlink.h"
#include "agent/reconcile.h"

#define RESYNC_SECONDS 60

struct agent {
	struct tern_config cfg;
	struct dataplane dp;
	struct model *model;
	struct files_ds *files;
	struct nl_mon *nl;
	struct reconciler *rec;
	int epfd, sigfd, gcfd, resyncfd;
	int dirty;
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

static void reconcile(struct agent *a)
{
	struct reconcile_stats st;
	int err = reconciler_run(a->rec, a->model, &st);

	a->dirty = 0;
	if (st.attached || st.detached || st.map_writes || st.errors || err)
		log_info("reconciled: %u attached, %u adopted, %u detached, %u map writes, "
			 "%u errors", st.attached, st.adopted, st.detached, st.map_writes,
			 st.errors);
	if (err)
		a->dirty = 1; /* retried at the next resync */
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
			} else if (fd == nl_mon_fd(a->nl)) {
				err = nl_mon_process(a->nl, on_link, a);
				if (err == -ENOBUFS) {
					log_warn("netlink: events lost; re-reading all links");
					reconciler_links_reset(a->rec);
					nl_mon_dump(a->nl, on_link, a);
				}
			} else if (fd == a->gcfd) {
				drain_timer(fd);
				ct_gc(a);
			} else if (fd == a->resyncfd) {
				drain_timer(fd);
				a->dirty = 1;
			}
		}
		if (a->dirty)
			reconcile(a);
	}
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
		printf("%s: ok\n", config);
		config_free(&a.cfg);
		return 0;
	}
	enum tern_log_level lvl;

	if (log_level_parse(a.cfg.log_level, &lvl) == 0)
		log_set_level(lvl);
	log_route_libbpf();
	if (a.cfg.datastore_type != DATASTORE_FILES) {
		log_error("datastore.type kubernetes is not available in this build yet");
		err = -ENOTSUP;
		goto out;
	}

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
	if (!a.model || !a.rec) {
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
	err = files_ds_open(a.cfg.datastore_path, a.model, &a.files);
	if (err) {
		log_error("datastore %s: %s", a.cfg.datastore_path, strerror(-err));
		goto out;
	}
	a.gcfd = timer_new(a.cfg.ct_gc_interval);
	a.resyncfd = timer_new(RESYNC_SECONDS);
	a.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (a.sigfd < 0 || a.gcfd < 0 || a.resyncfd < 0 || a.epfd < 0) {
		err = -errno;
		log_error("set up event loop: %s", strerror(errno));
		goto out;
	}
	if ((err = epoll_add(a.epfd, a.sigfd)) || (err = epoll_add(a.epfd, files_ds_fd(a.files))) ||
	    (err = epoll_add(a.epfd, nl_mon_fd(a.nl))) || (err = epoll_add(a.epfd, a.gcfd)) ||
	    (err = epoll_add(a.epfd, a.resyncfd)))
		goto out;

	log_info("ternd on node %s: pins %s, datastore %s", a.cfg.node_name, a.cfg.pin_path,
		 a.cfg.datastore_path);
	reconcile(&a);
	log_info("ready");
	err = run(&a);
out:
	if (a.files)
		files_ds_close(a.files);
	if (a.nl)
		nl_mon_close(a.nl);
	reconciler_free(a.rec);
	model_free(a.model);
	dataplane__close(&a.dp);
	int fds[] = { a.epfd, a.sigfd, a.gcfd, a.resyncfd };

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	config_free(&a.cfg);
	return err ? 1 : 0;
}
