/* A checked TCP stream for e2e tests: the client sends a known byte pattern
 * at a steady pace for N seconds; the server verifies every byte and
 * reports how many arrived. "stream server PORT" / "stream client HOST PORT SECONDS". */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint8_t pattern(uint64_t i)
{
	return (uint8_t)(i * 131 + (i >> 8) * 7 + 3);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int server(const char *port)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons(atoi(port)) };
	int one = 1, zero = 0, ls, fd;
	uint64_t total = 0;
	uint8_t buf[65536];
	ssize_t n;

	ls = socket(AF_INET6, SOCK_STREAM, 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(ls, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(ls, (struct sockaddr *)&sa, sizeof(sa)) || listen(ls, 4)) {
		perror("stream server: bind/listen");
		return 2;
	}
	printf("listening\n");
	fflush(stdout);
	fd = accept(ls, NULL, NULL);
	if (fd < 0) {
		perror("stream server: accept");
		return 2;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] != pattern(total + i)) {
				printf("corrupt at byte %llu\n", (unsigned long long)(total + i));
				return 1;
			}
		}
		total += n;
	}
	if (n < 0) {
		printf("read error after %llu bytes: %s\n", (unsigned long long)total, strerror(errno));
		return 1;
	}
	printf("received %llu\n", (unsigned long long)total);
	return 0;
}

static int client(const char *host, const char *port, double seconds)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	uint8_t buf[8192];
	uint64_t total = 0;
	double start, next;
	int fd;

	if (getaddrinfo(host, port, &hints, &ai)) {
		fprintf(stderr, "stream client: bad address %s\n", host);
		return 2;
	}
	fd = socket(ai->ai_family, SOCK_STREAM, 0);
	if (connect(fd, ai->ai_addr, ai->ai_addrlen)) {
		printf("connect error: %s\n", strerror(errno));
		return 1;
	}
	freeaddrinfo(ai);
	start = next = now();
	while (now() - start < seconds) {
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = pattern(total + i);
		size_t off = 0;

		while (off < sizeof(buf)) {
			ssize_t n = write(fd, buf + off, sizeof(buf) - off);

			if (n < 0) {
				printf("write error after %llu bytes: %s\n",
				       (unsigned long long)(total + off), strerror(errno));
				return 1;
			}
			off += n;
		}
		total += sizeof(buf);
		/* ~800 KB/s: a steady trickle, so a gap shows up as loss or stall */
		next += 0.01;
		double d = next - now();

		if (d > 0)
			usleep((useconds_t)(d * 1e6));
	}
	shutdown(fd, SHUT_WR);
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	printf("sent %llu\n", (unsigned long long)total);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && !strcmp(argv[1], "server"))
		return server(argv[2]);
	if (argc == 5 && !strcmp(argv[1], "client"))
		return client(argv[2], argv[3], atof(argv[4]));
	fprintf(stderr, "usage: stream server PORT | stream client HOST PORT SECONDS\n");
	return 2;
}
