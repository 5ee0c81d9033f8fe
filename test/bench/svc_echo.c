/* The services benchmark's backend: "svc_echo PORT BULK_PORT [THREADS]".
 * On PORT it reads one short request, answers 64 bytes and closes (the
 * server closes first, so TIME_WAIT stays on the server and the client's
 * ephemeral ports are free again at once); THREADS (default 2) threads block
 * in accept on one listening socket. On BULK_PORT it reads until the client
 * shuts its side down and answers with the byte count (8 bytes). Both
 * families. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int lfd, bulk_fd;

static void *sink(void *arg)
{
	static char buf[1 << 17];

	(void)arg;
	for (;;) {
		int c = accept(bulk_fd, NULL, NULL);
		unsigned long long total = 0;
		ssize_t n;

		if (c < 0)
			continue;
		while ((n = read(c, buf, sizeof(buf))) > 0)
			total += n;
		if (write(c, &total, sizeof(total)) < 0)
			perror("svc_echo: write");
		close(c);
	}
	return NULL;
}

static int listen_on(int port)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	int fd = socket(AF_INET6, SOCK_STREAM, 0), one = 1, zero = 0;

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 4096)) {
		perror("svc_echo: bind/listen");
		exit(1);
	}
	return fd;
}

static void *serve(void *arg)
{
	static const char reply[64] = "tern bench reply: 64 bytes, then the server closes.........\n";
	char buf[256];

	(void)arg;
	for (;;) {
		int c = accept(lfd, NULL, NULL);

		if (c < 0)
			continue;
		/* one request: whatever the first read brings (the client sends
		 * it in one write of a few bytes) */
		if (read(c, buf, sizeof(buf)) > 0 && write(c, reply, sizeof(reply)) < 0)
			perror("svc_echo: write");
		close(c);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int threads = argc > 3 ? atoi(argv[3]) : 2;
	pthread_t t;

	if (argc < 3 || threads < 1) {
		fprintf(stderr, "usage: svc_echo PORT BULK_PORT [THREADS]\n");
		return 2;
	}
	lfd = listen_on(atoi(argv[1]));
	bulk_fd = listen_on(atoi(argv[2]));
	pthread_create(&t, NULL, sink, NULL);
	for (int i = 1; i < threads; i++)
		pthread_create(&t, NULL, serve, NULL);
	serve(NULL);
	return 0;
}
