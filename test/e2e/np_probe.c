/* Reachability probes for the network policy e2e tests (np_probe):
 *   np_probe serve PORT...     TCP and UDP echo on every PORT, both families
 *   np_probe matrix TIMEOUT_MS stdin "NETNS ADDR PORT tcp|udp" per line: all
 *                              probes at once, each from its netns; stdout
 *                              one "1" (reached) or "0" per line, in order
 *   np_probe hold NETNS ADDR PORT
 *                              one TCP connection, a byte echoed every 100 ms;
 *                              "ok N" per echo; exits 1 when one fails
 *   np_probe rate NETNS ADDR PORT SECONDS
 *                              new TCP connections one after the other (each
 *                              reset when up, so no TIME_WAIT piles up); prints
 *                              "RATE connections/s (N ok, N failed)"
 * A TCP probe succeeds when the handshake completes; a UDP probe when the
 * echo comes back. Dropped traffic times out; a refusal fails at once. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PROBES 4096
#define MAX_FDS 2048

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int addr_parse(const char *s, int port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons(port);
		*len = sizeof(*v4);
		return 0;
	}
	if (inet_pton(AF_INET6, s, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons(port);
		*len = sizeof(*v6);
		return 0;
	}
	return -1;
}

/* ---- serve ---- */

static int listener(int type, int port)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	int fd = socket(AF_INET6, type | SOCK_NONBLOCK, 0), one = 1, zero = 0;

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    (type == SOCK_STREAM && listen(fd, 512))) {
		perror("np_probe serve");
		exit(1);
	}
	return fd;
}

static int serve(int argc, char **argv)
{
	struct pollfd pfd[MAX_FDS];
	int n_listen = 0, n = 0;
	char buf[2048];

	for (int i = 0; i < argc; i++) {
		int port = atoi(argv[i]);

		pfd[n++] = (struct pollfd){ .fd = listener(SOCK_STREAM, port), .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = listener(SOCK_DGRAM, port), .events = POLLIN };
	}
	n_listen = n;
	for (;;) {
		if (poll(pfd, n, -1) < 0 && errno != EINTR)
			return 1;
		for (int i = 0; i < n; i++) {
			if (!pfd[i].revents)
				continue;
			int type = 0;
			socklen_t tl = sizeof(type);

			getsockopt(pfd[i].fd, SOL_SOCKET, SO_TYPE, &type, &tl);
			if (i < n_listen && type == SOCK_STREAM) {
				int c = accept4(pfd[i].fd, NULL, NULL, SOCK_NONBLOCK);

				if (c >= 0 && n < MAX_FDS)
					pfd[n++] = (struct pollfd){ .fd = c, .events = POLLIN };
				else if (c >= 0)
					close(c);
			} else if (i < n_listen) {
				struct sockaddr_storage from;
				socklen_t fl = sizeof(from);
				ssize_t got = recvfrom(pfd[i].fd, buf, sizeof(buf), 0,
						       (struct sockaddr *)&from, &fl);

				if (got >= 0)
					sendto(pfd[i].fd, buf, got, 0, (struct sockaddr *)&from, fl);
			} else {
				ssize_t got = read(pfd[i].fd, buf, sizeof(buf));

				if (got > 0 && write(pfd[i].fd, buf, got) == got)
					continue;
				if (got < 0 && errno == EAGAIN)
					continue;
				close(pfd[i].fd);
				pfd[i--] = pfd[--n];
			}
		}
	}
}

/* ---- matrix ---- */

struct probe {
	int fd;
	int udp;
	int result;  /* -1: pending */
};

/* Enter netns path (kept open across probes from the same one). */
static int enter(const char *path)
{
	static char cur[256];
	static int fd = -1;

	if (fd >= 0 && strcmp(cur, path) == 0)
		return 0;
	if (fd >= 0)
		close(fd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET)) {
		fprintf(stderr, "np_probe: %s: %s\n", path, strerror(errno));
		return -1;
	}
	snprintf(cur, sizeof(cur), "%s", path);
	return 0;
}

static void probe_start(struct probe *p, const char *addr, int port, int udp)
{
	struct sockaddr_storage ss;
	socklen_t len;

	p->udp = udp;
	p->result = -1;
	p->fd = -1;
	if (addr_parse(addr, port, &ss, &len)) {
		p->result = 0;
		return;
	}
	p->fd = socket(ss.ss_family, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK, 0);
	if (p->fd < 0) {
		p->result = 0;
		return;
	}
	if (connect(p->fd, (struct sockaddr *)&ss, len) && errno != EINPROGRESS) {
		p->result = 0;
		return;
	}
	if (udp && send(p->fd, "probe", 5, 0) != 5)
		p->result = 0;
}

static int matrix(int timeout_ms)
{
	static struct probe probes[MAX_PROBES];
	static struct pollfd pfd[MAX_PROBES];
	char line[512];
	int n = 0, self;
	long deadline;

	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	while (n < MAX_PROBES && fgets(line, sizeof(line), stdin)) {
		char ns[256], addr[64], proto[8];
		int port;

		if (sscanf(line, "%255s %63s %d %7s", ns, addr, &port, proto) != 4)
			continue;
		if (enter(ns)) {
			probes[n++] = (struct probe){ .fd = -1, .result = 0 };
			continue;
		}
		probe_start(&probes[n++], addr, port, strcmp(proto, "udp") == 0);
	}
	if (self >= 0)
		setns(self, CLONE_NEWNET);
	deadline = now_ms() + timeout_ms;
	for (;;) {
		int pending = 0, wait = (int)(deadline - now_ms());

		for (int i = 0; i < n; i++) {
			pfd[i].fd = probes[i].result < 0 ? probes[i].fd : -1;
			pfd[i].events = probes[i].udp ? POLLIN : POLLOUT;
			pfd[i].revents = 0;
			pending += probes[i].result < 0;
		}
		if (!pending || wait <= 0)
			break;
		if (poll(pfd, n, wait) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n; i++) {
			struct probe *p = &probes[i];
			int err = 0;
			socklen_t el = sizeof(err);
			char buf[16];

			if (!pfd[i].revents)
				continue;
			if (p->udp)
				p->result = recv(p->fd, buf, sizeof(buf), 0) > 0;
			else
				p->result = !getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &el) && !err;
		}
	}
	for (int i = 0; i < n; i++) {
		printf("%d\n", probes[i].result > 0);
		if (probes[i].fd >= 0)
			close(probes[i].fd);
	}
	return 0;
}

/* ---- hold ---- */

static int hold(const char *ns, const char *addr, int port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;
	char c;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (enter(ns) || addr_parse(addr, port, &ss, &len))
		return 2;
	fd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len)) {
		printf("connect: %s\n", strerror(errno));
		return 1;
	}
	for (long i = 1;; i++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (write(fd, "x", 1) != 1 || poll(&p, 1, 1000) != 1 || read(fd, &c, 1) != 1) {
			printf("lost after %ld\n", i - 1);
			return 1;
		}
		printf("ok %ld\n", i);
		usleep(100000);
	}
}

/* ---- rate ---- */

static int rate(const char *ns, const char *addr, int port, double seconds)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	struct sockaddr_storage ss;
	long ok = 0, failed = 0, start, end;
	socklen_t len;

	if (enter(ns) || addr_parse(addr, port, &ss, &len))
		return 2;
	start = now_ms();
	end = start + (long)(seconds * 1000);
	while (now_ms() < end) {
		int fd = socket(ss.ss_family, SOCK_STREAM, 0);

		if (fd < 0)
			return 1;
		if (connect(fd, (struct sockaddr *)&ss, len) == 0)
			ok++;
		else
			failed++;
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(fd);
	}
	printf("%.0f connections/s (%ld ok, %ld failed)\n", ok * 1000.0 / (now_ms() - start), ok,
	       failed);
	return 0;
}

int main(int argc, char **argv)
{
	struct rlimit rl = { MAX_PROBES + 64, MAX_PROBES + 64 };

	setrlimit(RLIMIT_NOFILE, &rl);
	if (argc >= 3 && strcmp(argv[1], "serve") == 0)
		return serve(argc - 2, argv + 2);
	if (argc == 3 && strcmp(argv[1], "matrix") == 0)
		return matrix(atoi(argv[2]));
	if (argc == 5 && strcmp(argv[1], "hold") == 0)
		return hold(argv[2], argv[3], atoi(argv[4]));
	if (argc == 6 && strcmp(argv[1], "rate") == 0)
		return rate(argv[2], argv[3], atoi(argv[4]), atof(argv[5]));
	fprintf(stderr, "usage: np_probe serve PORT... | matrix TIMEOUT_MS | "
			"hold NETNS ADDR PORT | rate NETNS ADDR PORT SECONDS\n");
	return 2;
}
