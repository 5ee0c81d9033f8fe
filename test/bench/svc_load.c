/* The services benchmark's client: short TCP requests, each on a new
 * connection (connect, write a few bytes, read the 64-byte answer until the
 * server closes, close).
 *
 *   svc_load [-c CONNS] [-t SECONDS] [-l SECONDS] [-r ROUNDS] ADDR:PORT...
 *   svc_load -b SECONDS [-r ROUNDS] ADDR:PORT
 *
 * Each round has a rate phase (CONNS threads, closed loop, -t seconds:
 * requests per second) and a latency phase (one thread, -l seconds: the time
 * of each request from socket() to close(), unloaded). Several ADDR:PORT are
 * taken in turn (the direct baseline spreads over the backends as a service
 * does). Prints one line:
 *
 *   rate MEDIAN_PER_S p50 US p99 US errors N rounds R1,R2,...
 *
 * p50/p99 over every request of every latency phase.
 *
 * -b: bulk throughput instead: each round one connection writes as fast as
 * it can for SECONDS, shuts down its side and waits for the server's byte
 * count (svc_echo's BULK_PORT); prints "gbps MEDIAN rounds R1,R2,...". One
 * connection, so that it works through any load balancer (iperf3's control
 * and data connections would be balanced to different backends). */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAX_TARGETS 64

static struct sockaddr_in targets[MAX_TARGETS];
static int n_targets;
static atomic_int stop;
static atomic_long errors;

struct worker {
	pthread_t t;
	long done;
	unsigned next;       /* target index */
	double *lat;         /* latency phase: microseconds per request */
	size_t n_lat, cap_lat;
};

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* One request; 0 or -1. */
static int request(struct worker *w)
{
	static const char req[16] = "GET /bench\n";
	char buf[256];
	const struct sockaddr_in *sa = &targets[w->next++ % n_targets];
	int fd = socket(AF_INET, SOCK_STREAM, 0), got = 0, n;

	struct timeval tv = { .tv_sec = 2 }; /* a broken path fails, never hangs */

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) ||
	    write(fd, req, sizeof(req)) != sizeof(req))
		goto fail;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		got += n;
	if (n < 0 || got != 64)
		goto fail;
	close(fd);
	return 0;
fail:
	close(fd);
	return -1;
}

static void *rate_loop(void *arg)
{
	struct worker *w = arg;

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		if (request(w))
			atomic_fetch_add(&errors, 1);
		else
			w->done++;
	}
	return NULL;
}

static void lat_loop(struct worker *w, double seconds)
{
	double end = now_us() + seconds * 1e6;

	while (now_us() < end) {
		double t0 = now_us();

		if (request(w)) {
			atomic_fetch_add(&errors, 1);
			continue;
		}
		if (w->n_lat == w->cap_lat) {
			w->cap_lat = w->cap_lat ? 2 * w->cap_lat : 4096;
			w->lat = realloc(w->lat, w->cap_lat * sizeof(*w->lat));
			if (!w->lat)
				exit(1);
		}
		w->lat[w->n_lat++] = now_us() - t0;
	}
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* One bulk round: Gbit/s as the server counted, or -1. */
static double bulk(const struct sockaddr_in *sa, double seconds)
{
	static char buf[1 << 17];
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	unsigned long long total = 0;
	double t0, end;

	if (fd < 0 || connect(fd, (const struct sockaddr *)sa, sizeof(*sa))) {
		perror("svc_load: bulk connect");
		return -1;
	}
	t0 = now_us();
	end = t0 + seconds * 1e6;
	while (now_us() < end)
		if (write(fd, buf, sizeof(buf)) < 0) {
			perror("svc_load: bulk write");
			close(fd);
			return -1;
		}
	shutdown(fd, SHUT_WR);
	if (read(fd, &total, sizeof(total)) != sizeof(total)) {
		close(fd);
		return -1;
	}
	close(fd);
	return total * 8 / ((now_us() - t0) * 1e3);
}

int main(int argc, char **argv)
{
	int conns = 4, rounds = 3, opt;
	double rate_s = 1, lat_s = 0.5, bulk_s = 0;
	double rates[64];
	struct worker lat = { 0 };

	while ((opt = getopt(argc, argv, "c:t:l:r:b:")) != -1) {
		switch (opt) {
		case 'b': bulk_s = atof(optarg); break;
		case 'c': conns = atoi(optarg); break;
		case 't': rate_s = atof(optarg); break;
		case 'l': lat_s = atof(optarg); break;
		case 'r': rounds = atoi(optarg); break;
		default: goto usage;
		}
	}
	if (optind == argc || conns < 1 || conns > 256 || rounds < 1 || rounds > 64)
		goto usage;
	for (int i = optind; i < argc && n_targets < MAX_TARGETS; i++) {
		char host[64], *colon;
		struct sockaddr_in *sa = &targets[n_targets++];

		snprintf(host, sizeof(host), "%s", argv[i]);
		colon = strrchr(host, ':');
		if (!colon)
			goto usage;
		*colon = 0;
		sa->sin_family = AF_INET;
		sa->sin_port = htons(atoi(colon + 1));
		if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
			goto usage;
	}

	if (bulk_s > 0) {
		double sorted[64];
		int fails = 0;

		for (int r = 0; r < rounds; r++)
			if ((rates[r] = bulk(&targets[0], bulk_s)) < 0)
				fails++;
		memcpy(sorted, rates, rounds * sizeof(*rates));
		qsort(sorted, rounds, sizeof(*sorted), dbl_cmp);
		printf("gbps %.2f errors %d rounds ", sorted[rounds / 2], fails);
		for (int r = 0; r < rounds; r++)
			printf("%s%.2f", r ? "," : "", rates[r]);
		printf("\n");
		return 0;
	}
	for (int r = 0; r < rounds; r++) {
		struct worker *ws = calloc(conns, sizeof(*ws));
		double t0, t1;
		long done = 0;

		if (!ws)
			return 1;
		atomic_store(&stop, 0);
		t0 = now_us();
		for (int i = 0; i < conns; i++) {
			ws[i].next = i;
			pthread_create(&ws[i].t, NULL, rate_loop, &ws[i]);
		}
		usleep(rate_s * 1e6);
		atomic_store(&stop, 1);
		for (int i = 0; i < conns; i++) {
			pthread_join(ws[i].t, NULL);
			done += ws[i].done;
		}
		t1 = now_us();
		rates[r] = done / ((t1 - t0) / 1e6);
		free(ws);
		lat_loop(&lat, lat_s);
	}

	double sorted[64];

	memcpy(sorted, rates, rounds * sizeof(*rates));
	qsort(sorted, rounds, sizeof(*sorted), dbl_cmp);
	qsort(lat.lat, lat.n_lat, sizeof(*lat.lat), dbl_cmp);
	printf("rate %.0f p50 %.1f p99 %.1f errors %ld rounds ", sorted[rounds / 2],
	       lat.n_lat ? lat.lat[lat.n_lat / 2] : 0,
	       lat.n_lat ? lat.lat[(size_t)(lat.n_lat * 0.99)] : 0, atomic_load(&errors));
	for (int r = 0; r < rounds; r++)
		printf("%s%.0f", r ? "," : "", rates[r]);
	printf("\n");
	return 0;
usage:
	fprintf(stderr, "usage: svc_load [-c CONNS] [-t SECONDS] [-l SECONDS] [-r ROUNDS] "
			"ADDR:PORT...\n       svc_load -b SECONDS [-r ROUNDS] ADDR:PORT\n");
	return 2;
}
