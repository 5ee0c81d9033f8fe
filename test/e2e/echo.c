/* Echo servers for e2e tests that answer every connection or datagram with
 * "NAME PEER" (the address the server saw): "echo tcp|udp PORT NAME".
 * Both families (a v6 socket with v6only off); no fork races as socat's
 * UDP fork mode has. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void peer_str(const struct sockaddr_in6 *sa, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	/* v4-mapped peers print as plain IPv4, as a v4 server would */
	if (IN6_IS_ADDR_V4MAPPED(&sa->sin6_addr))
		inet_ntop(AF_INET, &sa->sin6_addr.s6_addr[12], a, sizeof(a));
	else
		inet_ntop(AF_INET6, &sa->sin6_addr, a, sizeof(a));
	snprintf(buf, len, strchr(a, ':') ? "[%s]:%u" : "%s:%u", a, ntohs(sa->sin6_port));
}

int main(int argc, char **argv)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6 };
	int tcp, fd, one = 1, zero = 0;

	if (argc != 4 || (strcmp(argv[1], "tcp") && strcmp(argv[1], "udp"))) {
		fprintf(stderr, "usage: echo tcp|udp PORT NAME\n");
		return 2;
	}
	tcp = !strcmp(argv[1], "tcp");
	sa.sin6_port = htons(atoi(argv[2]));
	fd = socket(AF_INET6, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || (tcp && listen(fd, 64))) {
		perror("echo: bind/listen");
		return 1;
	}
	for (;;) {
		struct sockaddr_in6 peer;
		socklen_t plen = sizeof(peer);
		char msg[256], p[80], buf[512];

		if (tcp) {
			int c = accept(fd, (struct sockaddr *)&peer, &plen);

			if (c < 0)
				continue;
			peer_str(&peer, p, sizeof(p));
			snprintf(msg, sizeof(msg), "%s %s\n", argv[3], p);
			if (write(c, msg, strlen(msg)) < 0)
				perror("echo: write");
			close(c);
		} else {
			if (recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&peer, &plen) < 0)
				continue;
			peer_str(&peer, p, sizeof(p));
			snprintf(msg, sizeof(msg), "%s %s\n", argv[3], p);
			sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&peer, plen);
		}
	}
}
