/* A steady stream of short TCP requests for e2e tests: connect, read one
 * line, close, every few milliseconds for N seconds. One line per attempt:
 * "<ms since start> ok <answer>" | "<ms> refused" | "<ms> fail <why>".
 * "probe HOST PORT SECONDS". */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* One request; writes its outcome into out. */
static void attempt(const struct addrinfo *ai, char *out, size_t len)
{
	int fd = socket(ai->ai_family, SOCK_STREAM, 0);
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[128];
	ssize_t n = 0, got = 0;

	if (connect(fd, ai->ai_addr, ai->ai_addrlen)) {
		snprintf(out, len, errno == ECONNREFUSED ? "refused" : "fail connect %s",
			 strerror(errno));
		close(fd);
		return;
	}
	while (got < (ssize_t)sizeof(buf) - 1 && poll(&p, 1, 1000) == 1 &&
	       (n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += n;
	buf[got] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (n < 0)
		snprintf(out, len, "fail read %s", strerror(errno));
	else if (!got)
		snprintf(out, len, "fail no answer");
	else
		snprintf(out, len, "ok %s", buf);
	close(fd);
}

int main(int argc, char **argv)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	double start, seconds;
	char out[256];

	if (argc != 4 || getaddrinfo(argv[1], argv[2], &hints, &ai)) {
		fprintf(stderr, "usage: probe HOST PORT SECONDS\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	seconds = atof(argv[3]);
	start = now_ms();
	while (now_ms() - start < seconds * 1e3) {
		double t = now_ms() - start;

		attempt(ai, out, sizeof(out));
		printf("%.0f %s\n", t, out);
		usleep(5000);
	}
	freeaddrinfo(ai);
	return 0;
}
