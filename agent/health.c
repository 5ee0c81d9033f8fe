/* /healthz and /readyz over libmicrohttpd in its external-epoll mode: MHD
 * keeps its sockets in an epoll fd of its own, ternd's loop polls that fd
 * and calls MHD_run, so the answers come from the loop itself and no
 * thread is started. We open the listening socket ourselves so that a
 * taken port or a bad address is reported with the address and errno. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <microhttpd.h>

#include "agent/health.h"
#include "agent/log.h"

/* probes are few and tiny: anything more is a misbehaving client */
#define HEALTH_MAX_CONNS 16
#define HEALTH_IDLE_TIMEOUT_S 5

struct health {
	struct MHD_Daemon *d;
	int listen_fd;
	int epoll_fd;
	int ready;
	char why[256];
};

static void on_mhd_log(void *arg, const char *fmt, va_list ap)
{
	char msg[512];
	size_t len;

	(void)arg;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	len = strlen(msg);
	while (len && msg[len - 1] == '\n')
		msg[--len] = '\0';
	log_debug("health: %s", msg);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *body)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *arg, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_len, void **con_cls)
{
	struct health *h = arg;
	char body[320];

	(void)version;
	(void)upload;
	(void)con_cls;
	/* probes send no body; refuse one rather than buffer it */
	if (*upload_len)
		return MHD_NO;
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
	if (!strcmp(url, "/healthz") || !strcmp(url, "/livez"))
		return reply(c, MHD_HTTP_OK, "ok\n");
	if (!strcmp(url, "/readyz")) {
		if (h->ready)
			return reply(c, MHD_HTTP_OK, "ok\n");
		snprintf(body, sizeof(body), "not ready: %s\n", h->why);
		return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, body);
	}
	return reply(c, MHD_HTTP_NOT_FOUND, "not found: try /healthz or /readyz\n");
}

/* A listening TCP socket on addr. 0 or -errno (logged). */
static int listen_on(const char *addr, int *out)
{
	const char *orig = addr, *colon = strrchr(addr, ':');
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE |
				  AI_NUMERICSERV }, *res = NULL;
	char host[256];
	size_t hlen;
	int fd = -1, err, one = 1, zero = 0;

	/* config.c has checked the form: [host]:port */
	if (!colon)
		return -EINVAL;
	hlen = (size_t)(colon - addr);
	if (hlen && addr[0] == '[') {
		addr++;
		hlen -= 2;
	}
	if (hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, addr, hlen);
	host[hlen] = '\0';
	/* ":port": every address, v4 and v6 on one socket */
	if (!hlen) {
		hints.ai_family = AF_INET6;
		strcpy(host, "::");
	}
	err = getaddrinfo(host, colon + 1, &hints, &res);
	if (err) {
		log_error("health: %s: %s", host, gai_strerror(err));
		return err == EAI_SYSTEM ? -errno : -EINVAL;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 && !hlen && errno == EAFNOSUPPORT) {
		/* no IPv6 in this kernel: every IPv4 address then */
		struct sockaddr_in *sin = (struct sockaddr_in *)res->ai_addr;
		in_port_t port = ((struct sockaddr_in6 *)res->ai_addr)->sin6_port;

		memset(sin, 0, sizeof(*sin));
		sin->sin_family = AF_INET;
		sin->sin_port = port;
		res->ai_family = AF_INET;
		res->ai_addrlen = sizeof(*sin);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	}
	if (fd < 0) {
		err = -errno;
		goto fail;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (res->ai_family == AF_INET6 && !hlen)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, res->ai_addr, res->ai_addrlen) || listen(fd, 16)) {
		err = -errno;
		goto fail;
	}
	freeaddrinfo(res);
	*out = fd;
	return 0;
fail:
	log_error("health: listen on %s: %s%s", orig, strerror(-err),
		  err == -EADDRINUSE ? " (another process has the port: change health.address)" :
		  err == -EADDRNOTAVAIL ? " (no such local address)" : "");
	if (fd >= 0)
		close(fd);
	freeaddrinfo(res);
	return err;
}

int health_open(const char *addr, struct health **out)
{
	const union MHD_DaemonInfo *info;
	struct health *h;
	int err;

	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	snprintf(h->why, sizeof(h->why), "starting");
	err = listen_on(addr, &h->listen_fd);
	if (err) {
		free(h);
		return err;
	}
	/* the logger first, as MHD asks; from here MHD owns the socket */
	h->d = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, h,
				MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
				MHD_OPTION_LISTEN_SOCKET, h->listen_fd,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)HEALTH_MAX_CONNS,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HEALTH_IDLE_TIMEOUT_S,
				MHD_OPTION_END);
	info = h->d ? MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD) : NULL;
	if (!info) {
		log_error("health: libmicrohttpd did not start on %s", addr);
		if (h->d)
			MHD_stop_daemon(h->d);
		else
			close(h->listen_fd);
		free(h);
		return -EIO;
	}
	h->epoll_fd = info->epoll_fd;
	log_info("health: serving /healthz and /readyz on %s", addr);
	*out = h;
	return 0;
}

int health_fd(const struct health *h)
{
	return h->epoll_fd;
}

void health_process(struct health *h)
{
	MHD_run(h->d);
}

void health_set_ready(struct health *h, int ready, const char *why)
{
	h->ready = ready;
	snprintf(h->why, sizeof(h->why), "%s", why ? why : "");
}

void health_close(struct health *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->d); /* closes the listening socket too */
	free(h);
}
