/* Connect-time load balancing (bpf/sock.bpf.c) for real: this kernel has
 * no BPF_PROG_TEST_RUN for cgroup sock_addr programs (checked first: the
 * cases say so if that changes), so the programs are attached with links
 * to a cgroup v2 child made for this run, and each case forks a process
 * into it that runs real sockets in a network namespace of its own:
 *
 *   <cgroup2 mount>/tern-bpf-test-<pid>/   connect4/6 sendmsg4/6 recvmsg4/6 getpeername4/6
 *     child: its own netns, lo up, fd00:77::2/128 on lo
 *       listeners on the backends 127.0.0.2-5 / [fd00:77::2]
 *       clients dial the frontends VIP / [VIP6] (no route: only a rewrite reaches anything)
 *
 * The cgroup is removed at the end; nothing is attached anywhere else. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "tnat.h"
#include "sock.skel.h"

#define BE4 "127.0.0.2"
#define BE6 "fd00:77::2"
#define BPORT 8080
#define UPORT 5353

static struct tern_sock *sk;
static struct bpf_link *links[8];
static char cg_path[512];
static int cg_fd = -1;

/* --- the child's side: failures go back through a pipe ------------------- */

static int report_fd = -1;
static int child_failed;

static void cfail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void cfail(const char *fmt, ...)
{
	char buf[400];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(report_fd, buf, (size_t)n) < 0)
		_exit(3);
	child_failed = 1;
}

union sa {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

/* addr: IPv4, IPv6, or IPv4 as ::ffff:a.b.c.d when mapped */
static socklen_t sa_make(union sa *s, const char *addr, uint16_t port, int mapped)
{
	memset(s, 0, sizeof(*s));
	if (!strchr(addr, ':') && !mapped) {
		s->in.sin_family = AF_INET;
		s->in.sin_port = htons(port);
		inet_pton(AF_INET, addr, &s->in.sin_addr);
		return sizeof(s->in);
	}
	s->in6.sin6_family = AF_INET6;
	s->in6.sin6_port = htons(port);
	if (mapped) {
		char m[64];

		snprintf(m, sizeof(m), "::ffff:%s", addr);
		inet_pton(AF_INET6, m, &s->in6.sin6_addr);
	} else {
		inet_pton(AF_INET6, addr, &s->in6.sin6_addr);
	}
	return sizeof(s->in6);
}

static const char *sa_str(const union sa *s, char *buf, size_t n)
{
	char a[INET6_ADDRSTRLEN] = "?";

	if (s->sa.sa_family == AF_INET)
		inet_ntop(AF_INET, &s->in.sin_addr, a, sizeof(a));
	else if (s->sa.sa_family == AF_INET6)
		inet_ntop(AF_INET6, &s->in6.sin6_addr, a, sizeof(a));
	snprintf(buf, n, "%s port %u", a,
		 ntohs(s->sa.sa_family == AF_INET ? s->in.sin_port : s->in6.sin6_port));
	return buf;
}

static int sa_eq(const union sa *a, const union sa *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return 0;
	if (a->sa.sa_family == AF_INET)
		return a->in.sin_port == b->in.sin_port &&
		       a->in.sin_addr.s_addr == b->in.sin_addr.s_addr;
	return a->in6.sin6_port == b->in6.sin6_port &&
	       !memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, 16);
}

static void expect_addr(const char *what, const union sa *got, const union sa *want)
{
	char g[80], w[80];

	if (!sa_eq(got, want))
		cfail("%s: %s, want %s", what, sa_str(got, g, sizeof(g)), sa_str(want, w, sizeof(w)));
}

static int listener(int type, const char *addr, uint16_t port)
{
	union sa s;
	socklen_t l = sa_make(&s, addr, port, 0);
	int fd = socket(s.sa.sa_family, type | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, &s.sa, l) || (type == SOCK_STREAM && listen(fd, 64))) {
		cfail("listener on %s port %u: %s", addr, port, strerror(errno));
		return -1;
	}
	return fd;
}

static int wait_in(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1;
}

/* --- cases (in the child) ------------------------------------------------- */

/* TCP to the frontend lands on the backend; the client sees the frontend */
static void tcp_case(const char *vip, const char *be, int mapped)
{
	union sa fe, peer, want_be, got;
	socklen_t fl = sa_make(&fe, vip, 80, mapped), l = sizeof(peer);
	int lfd = listener(SOCK_STREAM, be, BPORT), c, a;
	char buf[8];

	if (lfd < 0)
		return;
	c = socket(fe.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0 || connect(c, &fe.sa, fl)) {
		cfail("connect to the frontend: %s", strerror(errno));
		return;
	}
	if (!wait_in(lfd, 2000) || (a = accept(lfd, &peer.sa, &l)) < 0) {
		cfail("the backend's listener got no connection");
		return;
	}
	l = sizeof(got);
	if (getpeername(c, &got.sa, &l))
		cfail("getpeername: %s", strerror(errno));
	else
		expect_addr("getpeername on the client", &got, &fe);
	/* the server's view: its own address, not the frontend */
	l = sizeof(got);
	sa_make(&want_be, be, BPORT, 0);
	if (getsockname(a, &got.sa, &l) == 0)
		expect_addr("getsockname on the accepted socket", &got, &want_be);
	if (write(c, "ping", 4) != 4 || !wait_in(a, 2000) || read(a, buf, sizeof(buf)) != 4 ||
	    write(a, "pong", 4) != 4 || !wait_in(c, 2000) || read(c, buf, sizeof(buf)) != 4 ||
	    memcmp(buf, "pong", 4))
		cfail("no exchange over the balanced connection");
	close(a);
	close(c);
	close(lfd);
}

/* UDP, unconnected (sendmsg / recvmsg) and connected (connect / getpeername) */
static void udp_case(const char *vip, const char *be, int connected)
{
	union sa fe, from, cl;
	socklen_t fl = sa_make(&fe, vip, 53, 0), l;
	int s = listener(SOCK_DGRAM, be, UPORT), c;
	char buf[16];

	if (s < 0)
		return;
	c = socket(fe.sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (c < 0) {
		cfail("socket: %s", strerror(errno));
		return;
	}
	if (connected) {
		if (connect(c, &fe.sa, fl)) {
			cfail("connect to the frontend: %s", strerror(errno));
			return;
		}
		l = sizeof(from);
		if (getpeername(c, &from.sa, &l) == 0)
			expect_addr("getpeername of the connected socket", &from, &fe);
		if (send(c, "q", 1, 0) != 1)
			cfail("send: %s", strerror(errno));
	} else if (sendto(c, "q", 1, 0, &fe.sa, fl) != 1) {
		cfail("sendto the frontend: %s", strerror(errno));
	}
	l = sizeof(cl);
	if (!wait_in(s, 2000) || recvfrom(s, buf, sizeof(buf), 0, &cl.sa, &l) != 1) {
		cfail("the backend got no datagram");
		return;
	}
	if (sendto(s, "answer", 6, 0, &cl.sa, l) != 6)
		cfail("the backend's answer: %s", strerror(errno));
	l = sizeof(from);
	if (!wait_in(c, 2000) || recvfrom(c, buf, sizeof(buf), 0, &from.sa, &l) != 6)
		cfail("the client got no answer");
	else
		expect_addr("the answer's source (recvmsg)", &from, &fe);
	close(c);
	close(s);
}

static void tcp4(void) { tcp_case(VIP4, BE4, 0); }
static void tcp6(void) { tcp_case(VIP6, BE6, 0); }
static void tcp_mapped(void) { tcp_case(VIP4, BE4, 1); }
static void udp4(void) { udp_case(VIP4, BE4, 0); }
static void udp6(void) { udp_case(VIP6, BE6, 0); }
static void udp4_connected(void) { udp_case(VIP4, BE4, 1); }
static void udp6_connected(void) { udp_case(VIP6, BE6, 1); }

/* count 0 with a stale backend entry: left alone, so the connection goes to
 * the frontend itself, which nothing here routes (tc refuses it on a node) */
static void no_backend(void)
{
	union sa fe;
	socklen_t fl = sa_make(&fe, VIP4, 81, 0);
	int lfd = listener(SOCK_STREAM, BE4, BPORT), c;

	if (lfd < 0)
		return;
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (connect(c, &fe.sa, fl) == 0)
		cfail("connect to a frontend without backends succeeded");
	else if (errno != ENETUNREACH)
		cfail("connect: %s, want ENETUNREACH (the frontend, unrouted)", strerror(errno));
	if (wait_in(lfd, 50))
		cfail("the stale backend got a connection");
	close(c);
	close(lfd);
}

/* four backends; with ClientIP affinity a client (its netns) keeps one */
static void affinity_case(uint16_t port, int sticky)
{
	int lfd[4], first = -1, spread = 0;
	union sa fe;
	socklen_t fl = sa_make(&fe, VIP4, port, 0);

	for (int i = 0; i < 4; i++) {
		char a[32];

		snprintf(a, sizeof(a), "127.0.0.%d", i + 2);
		lfd[i] = listener(SOCK_STREAM, a, BPORT);
		if (lfd[i] < 0)
			return;
	}
	for (int n = 0; n < 16 && !child_failed; n++) {
		int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), got = -1;
		struct pollfd p[4];

		if (connect(c, &fe.sa, fl)) {
			cfail("connect %d: %s", n, strerror(errno));
			break;
		}
		for (int i = 0; i < 4; i++)
			p[i] = (struct pollfd){ .fd = lfd[i], .events = POLLIN };
		if (poll(p, 4, 2000) > 0)
			for (int i = 0; i < 4; i++)
				if (p[i].revents & POLLIN) {
					close(accept(lfd[i], NULL, NULL));
					got = i;
				}
		if (got < 0)
			cfail("connect %d reached no backend", n);
		if (first < 0)
			first = got;
		spread |= got != first;
		close(c);
	}
	if (sticky && spread)
		cfail("with affinity, 16 connections went to more than one backend");
	if (!sticky && !spread)
		cfail("without affinity, 16 connections over 4 backends all went to one");
	for (int i = 0; i < 4; i++)
		close(lfd[i]);
}

static void affinity(void) { affinity_case(82, 1); }
static void spread(void) { affinity_case(83, 0); }

/* --- the parent's side ----------------------------------------------------- */

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), err = 0;

	if (fd < 0 || write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		err = -errno;
	if (fd >= 0)
		close(fd);
	return err;
}

/* Even without DAD, an IPv6 address becomes usable in a work item after
 * `ip addr add` returns, its local route a moment later still: wait until
 * a connection to a closed port there is refused, i.e. delivered locally. */
static int v6_ready(void)
{
	union sa be;
	socklen_t l = sa_make(&be, BE6, 1, 0);

	for (int i = 0; i < 200; i++) {
		int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0), rc, e;

		rc = fd >= 0 ? connect(fd, &be.sa, l) : -1;
		e = errno;
		if (fd >= 0)
			close(fd);
		if (rc < 0 && e == ECONNREFUSED)
			return 0;
		usleep(10000);
	}
	return -1;
}

/* Fork a process into the test cgroup and a netns of its own; run fn there. */
static void run_child(const char *name, void (*fn)(void))
{
	int p[2], status;
	char buf[4096];
	ssize_t n;
	size_t len = 0;
	pid_t pid;

	case_begin("bpf/sock/%s", name);
	if (pipe(p)) {
		case_fail("pipe: %s", strerror(errno));
		case_end();
		return;
	}
	pid = fork();
	if (pid == 0) {
		char procs[600], me[32];

		close(p[0]);
		report_fd = p[1];
		alarm(20); /* a hung socket call ends the child, and the case fails */
		snprintf(procs, sizeof(procs), "%s/cgroup.procs", cg_path);
		snprintf(me, sizeof(me), "%d", getpid());
		if (write_str(procs, me))
			cfail("joining the test cgroup: %s", strerror(errno));
		else if (unshare(CLONE_NEWNET))
			cfail("unshare(CLONE_NEWNET): %s", strerror(errno));
		else if (system("ip link set lo up && ip -6 addr add " BE6 "/128 dev lo nodad") ||
			 v6_ready())
			cfail("setting up lo");
		else
			fn();
		_exit(child_failed ? 1 : 0);
	}
	close(p[1]);
	if (pid < 0) {
		case_fail("fork: %s", strerror(errno));
		close(p[0]);
		case_end();
		return;
	}
	while (len < sizeof(buf) - 1 && (n = read(p[0], buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	close(p[0]);
	waitpid(pid, &status, 0);
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
		case_fail("%s", line);
	if (!WIFEXITED(status) || (WEXITSTATUS(status) && !len))
		case_fail("the child ended with status %#x", status);
	case_end();
}

static int cg2_mount(char *out, size_t n)
{
	FILE *f = fopen("/proc/mounts", "r");
	char dev[256], dir[256], type[64];
	int found = 0;

	if (!f)
		return -errno;
	while (!found && fscanf(f, "%255s %255s %63s %*[^\n]", dev, dir, type) == 3)
		if (strcmp(type, "cgroup2") == 0) {
			snprintf(out, n, "%s", dir);
			found = 1;
		}
	fclose(f);
	return found ? 0 : -ENOENT;
}

/* the maps of the sock object (its own, unpinned) */
static int sock_fe(const char *addr, uint16_t port, uint8_t proto, uint32_t id,
		   uint16_t count, uint32_t flags)
{
	struct tern_nat_fe_key k = { .port = htons(port), .proto = proto };
	struct tern_nat_fe v = { .svc_id = id, .count = count, .flags = flags,
				 .affinity_timeout = 100 };

	taddr(addr, &k.addr);
	return bpf_map_update_elem(bpf_map__fd(sk->maps.tern_nat_fe_v1), &k, &v, BPF_ANY);
}

static int sock_be(uint32_t id, uint32_t ord, const char *addr, uint16_t port)
{
	struct tern_nat_be_key k = { .svc_id = id, .ordinal = ord };
	struct tern_nat_be v = { .port = htons(port) };

	taddr(addr, &v.addr);
	return bpf_map_update_elem(bpf_map__fd(sk->maps.tern_nat_be_v1), &k, &v, BPF_ANY);
}

static int sock_maps(void)
{
	int err = 0;

	err |= sock_fe(VIP4, 80, IPPROTO_TCP, 1, 1, 0) || sock_be(1, 0, BE4, BPORT);
	err |= sock_fe(VIP6, 80, IPPROTO_TCP, 2, 1, 0) || sock_be(2, 0, BE6, BPORT);
	err |= sock_fe(VIP4, 53, IPPROTO_UDP, 3, 1, 0) || sock_be(3, 0, BE4, UPORT);
	err |= sock_fe(VIP6, 53, IPPROTO_UDP, 4, 1, 0) || sock_be(4, 0, BE6, UPORT);
	err |= sock_fe(VIP4, 81, IPPROTO_TCP, 5, 0, 0) || sock_be(5, 0, BE4, BPORT);
	err |= sock_fe(VIP4, 82, IPPROTO_TCP, 6, 4, TERN_FE_F_AFFINITY);
	err |= sock_fe(VIP4, 83, IPPROTO_TCP, 7, 4, 0);
	for (uint32_t i = 0; i < 4; i++) {
		char a[32];

		snprintf(a, sizeof(a), "127.0.0.%u", i + 2);
		err |= sock_be(6, i, a, BPORT) || sock_be(7, i, a, BPORT);
	}
	return err ? -1 : 0;
}

/* Does BPF_PROG_TEST_RUN run a cgroup sock_addr program here? */
static int test_run_supported(void)
{
	struct bpf_sock_addr ctx = { .user_family = AF_INET, .family = AF_INET,
				     .type = SOCK_STREAM, .protocol = IPPROTO_TCP };
	LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = &ctx, .ctx_size_in = sizeof(ctx));
	int err = bpf_prog_test_run_opts(bpf_program__fd(sk->progs.tern_connect4), &o);

	return err == 0 ? 1 : err == -EOPNOTSUPP || err == -524 /* ENOTSUPP */ ? 0 : err;
}

static int sock_setup(void)
{
	struct bpf_program *progs[8];
	char mnt[256];
	int err;

	sk = tern_sock__open();
	if (!sk) {
		case_fail("tern_sock__open: %s", strerror(errno));
		return -1;
	}
	sk->rodata->ctlb_tcp = 1;
	sk->rodata->ctlb_udp = 1;
	sk->rodata->ctlb_sctp = 1;
	err = tern_sock__load(sk);
	if (err) {
		case_fail("tern_sock__load: %s", strerror(-err));
		return -1;
	}
	err = test_run_supported();
	if (err < 0)
		case_fail("probing BPF_PROG_TEST_RUN: %s", strerror(-err));
	else if (err)
		case_note("this kernel test-runs sock_addr programs now: they are still tested "
			  "for real here");
	err = cg2_mount(mnt, sizeof(mnt));
	if (err) {
		case_fail("no cgroup v2 mount in /proc/mounts");
		return -1;
	}
	snprintf(cg_path, sizeof(cg_path), "%s/tern-bpf-test-%d", mnt, getpid());
	if (mkdir(cg_path, 0755)) {
		case_fail("mkdir %s: %s", cg_path, strerror(errno));
		cg_path[0] = '\0';
		return -1;
	}
	cg_fd = open(cg_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg_fd < 0) {
		case_fail("open %s: %s", cg_path, strerror(errno));
		return -1;
	}
	progs[0] = sk->progs.tern_connect4;
	progs[1] = sk->progs.tern_connect6;
	progs[2] = sk->progs.tern_sendmsg4;
	progs[3] = sk->progs.tern_sendmsg6;
	progs[4] = sk->progs.tern_recvmsg4;
	progs[5] = sk->progs.tern_recvmsg6;
	progs[6] = sk->progs.tern_getpeername4;
	progs[7] = sk->progs.tern_getpeername6;
	for (int i = 0; i < 8; i++) {
		links[i] = bpf_program__attach_cgroup(progs[i], cg_fd);
		if (!links[i]) {
			case_fail("attaching %s: %s", bpf_program__name(progs[i]), strerror(errno));
			return -1;
		}
	}
	if (sock_maps()) {
		case_fail("filling the sock object's maps: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static void sock_teardown(void)
{
	if (!sk)
		return;
	for (int i = 0; i < 8; i++) {
		bpf_link__destroy(links[i]);
		links[i] = NULL;
	}
	if (cg_fd >= 0)
		close(cg_fd);
	cg_fd = -1;
	/* every child has been reaped: the cgroup is empty */
	if (cg_path[0] && rmdir(cg_path))
		fprintf(stderr, "bpf_tests: rmdir %s: %s\n", cg_path, strerror(errno));
	cg_path[0] = '\0';
	tern_sock__destroy(sk);
	sk = NULL;
}

void test_sock(void)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} cases[] = {
		{ "tcp/v4", tcp4 },
		{ "tcp/v6", tcp6 },
		{ "tcp/v4-mapped", tcp_mapped },
		{ "udp-sendmsg-recvmsg/v4", udp4 },
		{ "udp-sendmsg-recvmsg/v6", udp6 },
		{ "udp-connected/v4", udp4_connected },
		{ "udp-connected/v6", udp6_connected },
		{ "no-backend-left-alone/v4", no_backend },
		{ "affinity-sticks/v4", affinity },
		{ "no-affinity-spreads/v4", spread },
	};
	int ok;

	case_begin("bpf/sock/setup");
	atexit(sock_teardown); /* also when a later check exits early */
	ok = sock_setup() == 0;
	case_end();
	for (size_t i = 0; ok && i < ARRAY_SIZE(cases); i++)
		run_child(cases[i].name, cases[i].fn);
	sock_teardown();
}
