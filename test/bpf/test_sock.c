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
 *       unconnected UDP to VIP:84-88 / [VIP6]:84: 127.0.0.2-5 / [fd00:77::2]:5353-5356
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
#include <time.h>
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

static int sock_fe(const char *addr, uint16_t port, uint8_t proto, uint32_t id,
		   uint16_t count, uint32_t flags);
static int sock_be_f(uint32_t id, uint32_t ord, const char *addr, uint16_t port,
		     uint16_t flags);

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

/* The four TCP backends of the affinity cases: 127.0.0.2-5, port BPORT. */
static int four_listen(int *lfd)
{
	for (int i = 0; i < 4; i++) {
		char a[32];

		snprintf(a, sizeof(a), "127.0.0.%d", i + 2);
		lfd[i] = listener(SOCK_STREAM, a, BPORT);
		if (lfd[i] < 0)
			return -1;
	}
	return 0;
}

static void four_close(int *lfd)
{
	for (int i = 0; i < 4; i++)
		if (lfd[i] >= 0)
			close(lfd[i]);
}

/* Connection n to fe: which of the four backends took it, or -1. */
static int four_connect(const union sa *fe, socklen_t fl, const int *lfd, int n)
{
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), got = -1;
	struct pollfd p[4];

	if (connect(c, &fe->sa, fl)) {
		cfail("connect %d: %s", n, strerror(errno));
		close(c);
		return -1;
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
	close(c);
	return got;
}

/* four backends; with ClientIP affinity a client (its netns) keeps one */
static void affinity_case(uint16_t port, int sticky)
{
	int lfd[4] = { -1, -1, -1, -1 }, first = -1, spread = 0;
	union sa fe;
	socklen_t fl = sa_make(&fe, VIP4, port, 0);

	if (four_listen(lfd))
		goto out;
	for (int n = 0; n < 16 && !child_failed; n++) {
		int got = four_connect(&fe, fl, lfd, n);

		if (first < 0)
			first = got;
		spread |= got != first;
	}
	if (sticky && spread)
		cfail("with affinity, 16 connections went to more than one backend");
	if (!sticky && !spread)
		cfail("without affinity, 16 connections over 4 backends all went to one");
out:
	four_close(lfd);
}

static void affinity(void) { affinity_case(82, 1); }

/* svc 14 (VIP:89): four backends with affinity. The agent numbers backends
 * by address, so one going moves others; here the table is rewritten in
 * reverse: the client keeps its backend at its new place. */
static void affinity_renumbered(void)
{
	int lfd[4] = { -1, -1, -1, -1 }, first;
	union sa fe;
	socklen_t fl = sa_make(&fe, VIP4, 89, 0);

	if (four_listen(lfd) || (first = four_connect(&fe, fl, lfd, 0)) < 0)
		goto out;
	for (uint32_t i = 0; i < 4; i++) {
		char a[32];

		snprintf(a, sizeof(a), "127.0.0.%u", 5 - i);
		if (sock_be_f(14, i, a, BPORT, 0))
			cfail("renumbering: %s", strerror(errno));
	}
	for (int n = 1; n < 9 && !child_failed; n++) {
		int got = four_connect(&fe, fl, lfd, n);

		if (got != first)
			cfail("connect %d after renumbering went to backend %d, not %d", n, got,
			      first);
	}
	/* found at its new place, not picked again by chance */
	int fd = bpf_map__fd(sk->maps.tern_nat_aff_v1), seen = 0;
	struct tern_nat_aff_key k, next;
	struct tern_nat_aff a;

	for (void *prev = NULL; !bpf_map_get_next_key(fd, prev, &next); prev = &k) {
		k = next;
		if (k.svc_id != 14 || bpf_map_lookup_elem(fd, &k, &a))
			continue;
		seen++;
		if (a.ordinal != (uint32_t)(3 - first))
			cfail("the affinity entry says ordinal %u, want %d", a.ordinal, 3 - first);
	}
	if (seen != 1)
		cfail("%d affinity entries for the service, want 1", seen);
out:
	four_close(lfd);
}

static void spread(void) { affinity_case(83, 0); }

/* --- unconnected UDP keeps its backend per socket and VIP ------------------ */

#define NB 4

/* the four UDP backends of the sticky cases: 127.0.0.2-5 (v4), or
 * [fd00:77::2] ports 5353-5356 (v6) */
static const char *nb_addr(int v6, int i, char *buf, size_t n)
{
	if (v6)
		return BE6;
	snprintf(buf, n, "127.0.0.%d", i + 2);
	return buf;
}

static uint16_t nb_port(int v6, int i)
{
	return (uint16_t)(UPORT + (v6 ? i : 0));
}

static int nb_listen(int v6, int *lfd)
{
	for (int i = 0; i < NB; i++) {
		char a[32];

		lfd[i] = listener(SOCK_DGRAM, nb_addr(v6, i, a, sizeof(a)), nb_port(v6, i));
		if (lfd[i] < 0)
			return -1;
	}
	return 0;
}

/* One datagram from c to the frontend: the backend that got it (-1: none).
 * It answers; the answer must come from the frontend (recvmsg). */
static int dgram(int c, const union sa *fe, socklen_t fl, const int *lfd)
{
	struct pollfd p[NB];
	union sa cl, from;
	socklen_t l;
	char buf[16];
	int got = -1;

	if (sendto(c, "q", 1, 0, &fe->sa, fl) != 1) {
		cfail("sendto the frontend: %s", strerror(errno));
		return -1;
	}
	for (int i = 0; i < NB; i++)
		p[i] = (struct pollfd){ .fd = lfd[i], .events = POLLIN };
	if (poll(p, NB, 2000) <= 0) {
		cfail("no backend got the datagram");
		return -1;
	}
	for (int i = 0; i < NB; i++) {
		if (!(p[i].revents & POLLIN))
			continue;
		l = sizeof(cl);
		if (recvfrom(lfd[i], buf, sizeof(buf), 0, &cl.sa, &l) == 1 &&
		    sendto(lfd[i], "a", 1, 0, &cl.sa, l) == 1)
			got = i;
	}
	l = sizeof(from);
	if (!wait_in(c, 2000) || recvfrom(c, buf, sizeof(buf), 0, &from.sa, &l) != 1)
		cfail("the client got no answer");
	else
		expect_addr("the answer's source (recvmsg)", &from, fe);
	return got;
}

/* n datagrams from c: the backend all of them went to, -1 if they split */
static int dgrams(int c, const union sa *fe, socklen_t fl, const int *lfd, int n,
		  const char *what)
{
	int first = -1;

	for (int i = 0; i < n && !child_failed; i++) {
		int got = dgram(c, fe, fl, lfd);

		if (first < 0)
			first = got;
		if (got != first) {
			cfail("%s: datagram %d of one socket went to backend %d, the first to %d",
			      what, i, got, first);
			return -1;
		}
	}
	return first;
}

static int udp_socket(const union sa *fe)
{
	int c = socket(fe->sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (c < 0)
		cfail("socket: %s", strerror(errno));
	return c;
}

/* one sticky case: its frontend, the four backends, a client socket */
struct ucase {
	union sa fe;
	socklen_t fl;
	int lfd[NB];
	int c;
};

/* VIP:port ([VIP6]:port when v6), the backends listening, and a client
 * socket when sock */
static int uc_open(struct ucase *u, int v6, uint16_t port, int sock)
{
	u->fl = sa_make(&u->fe, v6 ? VIP6 : VIP4, port, 0);
	u->c = -1;
	for (int i = 0; i < NB; i++)
		u->lfd[i] = -1;
	if (nb_listen(v6, u->lfd))
		return -1;
	if (sock && (u->c = udp_socket(&u->fe)) < 0)
		return -1;
	return 0;
}

static void uc_close(struct ucase *u)
{
	if (u->c >= 0)
		close(u->c);
	for (int i = 0; i < NB; i++)
		if (u->lfd[i] >= 0)
			close(u->lfd[i]);
}

/* n datagrams from socket c (u's own when -1): dgrams() */
static int uc_send(const struct ucase *u, int c, int n, const char *what)
{
	return dgrams(c < 0 ? u->c : c, &u->fe, u->fl, u->lfd, n, what);
}

/* svc 8 (VIP:84) / 9 ([VIP6]:84): 16 datagrams of one socket, one backend;
 * with its reverse entry gone, the next answer still shows the frontend */
static void udp_sticky_case(int v6)
{
	struct ucase u;
	int be;

	if (uc_open(&u, v6, 84, 1) || (be = uc_send(&u, -1, 16, "sticky")) < 0)
		goto out;

	struct tern_nat_sock_key k = { .port = htons(nb_port(v6, be)) };
	socklen_t cl = sizeof(k.cookie);
	char a[32];

	taddr(nb_addr(v6, be, a, sizeof(a)), &k.backend);
	if (getsockopt(u.c, SOL_SOCKET, SO_COOKIE, &k.cookie, &cl) ||
	    bpf_map_delete_elem(bpf_map__fd(sk->maps.tern_nat_sock_v1), &k))
		cfail("deleting the socket's reverse entry: %s", strerror(errno));
	else if (uc_send(&u, -1, 1, "reverse entry gone") != be)
		cfail("the datagram after deleting the reverse entry moved the socket");
out:
	uc_close(&u);
}

static void udp_sticky4(void) { udp_sticky_case(0); }
static void udp_sticky6(void) { udp_sticky_case(1); }

/* svc 8 (VIP:84) again, or 13 (VIP:88, ClientIP affinity): eight sockets,
 * each on one backend; not all on the same one, or with affinity all */
static void udp_sockets_case(uint16_t port, int affinity)
{
	struct ucase u;
	int first = -1, spread = 0;

	if (uc_open(&u, 0, port, 0))
		goto out;
	for (int i = 0; i < 8 && !child_failed; i++) {
		int c = udp_socket(&u.fe), be;

		if (c < 0)
			break;
		be = uc_send(&u, c, 4, affinity ? "affinity" : "spread");
		close(c);
		if (first < 0)
			first = be;
		spread |= be != first;
	}
	if (!child_failed && affinity && spread)
		cfail("with affinity, eight sockets went to more than one backend");
	if (!child_failed && !affinity && !spread)
		cfail("eight sockets over four backends all went to one");
out:
	uc_close(&u);
}

static void udp_sticky_spread(void) { udp_sockets_case(84, 0); }
static void udp_sticky_affinity(void) { udp_sockets_case(88, 1); }

/* the socket's entry for VIP:port, forged (set) or read */
static int fwd_entry(int c, uint16_t port, struct tern_nat_sockfwd *v, int set)
{
	struct tern_nat_sockfwd_key k = { .port = htons(port), .proto = IPPROTO_UDP };
	socklen_t cl = sizeof(k.cookie);
	int fd = bpf_map__fd(sk->maps.tern_nat_sockfwd_v1);

	taddr(VIP4, &k.vip);
	if (getsockopt(c, SOL_SOCKET, SO_COOKIE, &k.cookie, &cl) ||
	    (set ? bpf_map_update_elem(fd, &k, v, BPF_ANY) : bpf_map_lookup_elem(fd, &k, v))) {
		cfail("the socket's %s entry: %s", set ? "forged" : "stored", strerror(errno));
		return -1;
	}
	return 0;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* the socket's entry names backend i (of the .2-.5 ones) */
static void fwd_names(int c, uint16_t port, int i, const char *when)
{
	struct tern_nat_sockfwd v;
	struct tern_addr want;
	char a[32];

	taddr(nb_addr(0, i, a, sizeof(a)), &want);
	if (!fwd_entry(c, port, &v, 0) && memcmp(&v.addr, &want, sizeof(want)))
		cfail("%s: the socket's entry does not name backend %d, which got its datagrams",
		      when, i);
}

/* svc 8 (VIP:84): a datagram the socket receives from its backend keeps
 * it there as one it sends does (a reply refreshes conntrack too). */
static void udp_sticky_reply(void)
{
	struct ucase u;
	struct tern_nat_sockfwd f;
	union sa me, from;
	socklen_t ml = sizeof(me), froml = sizeof(from);
	uint64_t old;
	char buf[64];
	int x;

	if (uc_open(&u, 0, 84, 1) || (x = uc_send(&u, -1, 1, "before")) < 0 ||
	    fwd_entry(u.c, 84, &f, 0))
		goto out;
	old = f.last_ns = mono_ns() - 30ULL * 1000000000ULL;
	if (fwd_entry(u.c, 84, &f, 1) || getsockname(u.c, &me.sa, &ml))
		goto out;
	if (sendto(u.lfd[x], "push", 4, 0, &me.sa, ml) != 4 ||
	    /* the hook runs when the caller asks who sent it */
	    recvfrom(u.c, buf, sizeof(buf), 0, &from.sa, &froml) != 4) {
		cfail("the backend's datagram: %s", strerror(errno));
		goto out;
	}
	if (!fwd_entry(u.c, 84, &f, 0) && f.last_ns <= old)
		cfail("receiving from its backend did not refresh the socket's entry");
out:
	uc_close(&u);
}

/* svc 10 (VIP:85): backends .2 .3 .4. The socket's backend x goes, as the
 * agent removes one: it is renumbered last (the socket keeps it, found at
 * its new place), the count drops while its old entry lingers, then that
 * goes too. The socket moves, and keeps the new one; that one is replaced
 * at its place by .5: it moves again. */
static void udp_sticky_gone(void)
{
	struct ucase u;
	int x, y, z, ord = 0;
	int be_fd = bpf_map__fd(sk->maps.tern_nat_be_v1);
	struct tern_nat_be_key last = { .svc_id = 10, .ordinal = 2 };
	char a[32];

	if (uc_open(&u, 0, 85, 1) || (x = uc_send(&u, -1, 4, "before")) < 0)
		goto out;
	fwd_names(u.c, 85, x, "before");
	for (int i = 0; i < 3; i++)
		if (i != x && sock_be_f(10, (uint32_t)ord++, nb_addr(0, i, a, sizeof(a)), UPORT, 0))
			cfail("rewriting backends: %s", strerror(errno));
	if (sock_be_f(10, 2, nb_addr(0, x, a, sizeof(a)), UPORT, 0))
		cfail("moving backend %d last: %s", x, strerror(errno));
	if (uc_send(&u, -1, 4, "renumbered") != x)
		cfail("the socket left backend %d at its new place", x);
	fwd_names(u.c, 85, x, "renumbered");
	struct tern_nat_sockfwd f;

	if (!fwd_entry(u.c, 85, &f, 0) && f.ordinal != 2)
		cfail("renumbered: the socket's entry says ordinal %u, want 2", f.ordinal);
	if (sock_fe(VIP4, 85, IPPROTO_UDP, 10, 2, 0))
		cfail("removing a backend: %s", strerror(errno));
	y = uc_send(&u, -1, 8, "after its backend went");
	if (y == x)
		cfail("the socket stayed on backend %d, past the count", x);
	if (bpf_map_delete_elem(be_fd, &last))
		cfail("deleting the backend that went: %s", strerror(errno));
	if (uc_send(&u, -1, 4, "after its entry went") != y)
		cfail("the socket left backend %d", y);
	if (y < 0 || child_failed)
		goto out;
	fwd_names(u.c, 85, y, "after its backend went");
	/* y is at ordinal 0 or 1: the others kept their order */
	ord = y < x ? y : y - 1;
	if (sock_be_f(10, (uint32_t)ord, "127.0.0.5", UPORT, 0))
		cfail("replacing a backend: %s", strerror(errno));
	z = uc_send(&u, -1, 8, "after its backend was replaced");
	if (z == y)
		cfail("the socket stayed on backend %d, replaced at its place", y);
	if (z >= 0)
		fwd_names(u.c, 85, z, "after its backend was replaced");
out:
	uc_close(&u);
}

/* svc 11 (VIP:86): backends .2 .3. One that begins terminating while the
 * other is ready leaves the table (the agent lists terminating backends
 * only when none is ready): the socket moves. When all that is left
 * terminates, both are listed again, flagged: the socket stays. */
static void udp_sticky_terminating(void)
{
	struct ucase u;
	int x, y, other;
	char a[32];

	if (uc_open(&u, 0, 86, 1) || (x = uc_send(&u, -1, 4, "before")) < 0)
		goto out;
	other = !x;
	if (sock_be_f(11, 0, nb_addr(0, other, a, sizeof(a)), UPORT, 0) ||
	    sock_fe(VIP4, 86, IPPROTO_UDP, 11, 1, 0))
		cfail("taking the terminating backend out: %s", strerror(errno));
	y = uc_send(&u, -1, 4, "after its backend began terminating");
	if (y != other)
		cfail("the socket got backend %d, want the ready one %d", y, other);
	if (y < 0 || child_failed)
		goto out;
	if (sock_be_f(11, 0, nb_addr(0, 0, a, sizeof(a)), UPORT, TERN_BE_F_TERMINATING) ||
	    sock_be_f(11, 1, nb_addr(0, 1, a, sizeof(a)), UPORT, TERN_BE_F_TERMINATING) ||
	    sock_fe(VIP4, 86, IPPROTO_UDP, 11, 2, 0))
		cfail("listing both, terminating: %s", strerror(errno));
	y = uc_send(&u, -1, 1, "all terminating, first");
	if (uc_send(&u, -1, 8, "all terminating") != y)
		cfail("with every backend terminating, the socket left backend %d", y);
out:
	uc_close(&u);
}

/* svc 12 (VIP:87): backends .2 .3. An entry idle past the UDP conntrack
 * timeout is picked anew: forged stale 16 times, the socket moves at least
 * once (all stay: 2^-16). */
static void udp_sticky_expired(void)
{
	struct ucase u;
	int x, moved = 0;

	if (uc_open(&u, 0, 87, 1) || (x = uc_send(&u, -1, 2, "before")) < 0)
		goto out;
	for (int i = 0; i < 16 && !child_failed && !moved; i++) {
		struct tern_nat_sockfwd v = { .port = htons(UPORT), .svc_id = 12,
					      .ordinal = (uint32_t)x };
		char a[32];

		v.last_ns = mono_ns() - ((uint64_t)sk->rodata->ct_timeouts.udp + 1) * 1000000000ULL;
		taddr(nb_addr(0, x, a, sizeof(a)), &v.addr);
		if (fwd_entry(u.c, 87, &v, 1))
			break;
		moved = uc_send(&u, -1, 1, "stale") != x;
	}
	if (!child_failed && !moved)
		cfail("a socket idle past the UDP timeout kept its backend 16 times in 16");
out:
	uc_close(&u);
}

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

static int sock_be_f(uint32_t id, uint32_t ord, const char *addr, uint16_t port,
		     uint16_t flags)
{
	struct tern_nat_be_key k = { .svc_id = id, .ordinal = ord };
	struct tern_nat_be v = { .port = htons(port), .flags = flags };

	taddr(addr, &v.addr);
	return bpf_map_update_elem(bpf_map__fd(sk->maps.tern_nat_be_v1), &k, &v, BPF_ANY);
}

static int sock_be(uint32_t id, uint32_t ord, const char *addr, uint16_t port)
{
	return sock_be_f(id, ord, addr, port, 0);
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
	err |= sock_fe(VIP4, 89, IPPROTO_TCP, 14, 4, TERN_FE_F_AFFINITY);
	for (uint32_t i = 0; i < 4; i++) {
		char a[32];

		snprintf(a, sizeof(a), "127.0.0.%u", i + 2);
		err |= sock_be(6, i, a, BPORT) || sock_be(7, i, a, BPORT) ||
		       sock_be(14, i, a, BPORT);
	}
	/* unconnected UDP: svc 8-13 (the sticky cases say which is which) */
	err |= sock_fe(VIP4, 84, IPPROTO_UDP, 8, NB, 0);
	err |= sock_fe(VIP6, 84, IPPROTO_UDP, 9, NB, 0);
	err |= sock_fe(VIP4, 85, IPPROTO_UDP, 10, 3, 0);
	err |= sock_fe(VIP4, 86, IPPROTO_UDP, 11, 2, 0);
	err |= sock_fe(VIP4, 87, IPPROTO_UDP, 12, 2, 0);
	err |= sock_fe(VIP4, 88, IPPROTO_UDP, 13, NB, TERN_FE_F_AFFINITY);
	for (int i = 0; i < NB; i++) {
		char a[32];
		uint32_t o = (uint32_t)i;

		nb_addr(0, i, a, sizeof(a));
		err |= sock_be(8, o, a, UPORT) || sock_be(9, o, BE6, nb_port(1, i)) ||
		       sock_be(13, o, a, UPORT);
		if (i < 3)
			err |= sock_be(10, o, a, UPORT);
		if (i < 2)
			err |= sock_be(11, o, a, UPORT) || sock_be(12, o, a, UPORT);
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
		{ "affinity-survives-renumbering/v4", affinity_renumbered },
		{ "no-affinity-spreads/v4", spread },
		{ "udp-sticky/v4", udp_sticky4 },
		{ "udp-sticky/v6", udp_sticky6 },
		{ "udp-sticky-sockets-spread/v4", udp_sticky_spread },
		{ "udp-sticky-backend-gone/v4", udp_sticky_gone },
		{ "udp-sticky-reply-refreshes/v4", udp_sticky_reply },
		{ "udp-sticky-terminating/v4", udp_sticky_terminating },
		{ "udp-sticky-expired/v4", udp_sticky_expired },
		{ "udp-sticky-affinity/v4", udp_sticky_affinity },
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
