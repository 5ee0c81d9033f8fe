/* How long until a service is in tern's maps, end to end:
 *
 *   svc_wait [-g] PIN_PATH VIP PORT [BACKEND_IP] [-- CMD ARGS...]
 *
 * starts the clock, runs CMD (e.g. moving a manifest into the files
 * datastore), then polls the pinned maps every 200 us until the TCP
 * frontend VIP:PORT exists and, if BACKEND_IP is given, one of its backends
 * has that address (-g: until the frontend is gone). Prints the
 * milliseconds it took, or "timeout" after 120 s (exit 1). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <tern/nat.h>

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int present(int fe_fd, int be_fd, const struct tern_nat_fe_key *k,
		   const struct tern_addr *be_addr)
{
	struct tern_nat_fe fe;

	if (bpf_map_lookup_elem(fe_fd, k, &fe))
		return 0;
	if (!be_addr)
		return 1;
	for (__u32 i = 0; i < fe.count; i++) {
		struct tern_nat_be_key bk = { .svc_id = fe.svc_id, .ordinal = i };
		struct tern_nat_be be;

		if (!bpf_map_lookup_elem(be_fd, &bk, &be) && !memcmp(&be.addr, be_addr, 16))
			return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct tern_nat_fe_key k = { .proto = IPPROTO_TCP };
	struct tern_addr be, *be_addr = NULL;
	char **cmd = NULL;
	char path[512];
	int fe_fd, be_fd, nargs = argc, gone = 0;
	__u32 v4;

	if (argc > 1 && !strcmp(argv[1], "-g")) {
		gone = 1;
		argv++;
		argc--;
	}

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--")) {
			cmd = argv + i + 1;
			nargs = i;
			break;
		}
	if (nargs < 4 || nargs > 5 || inet_pton(AF_INET, argv[2], &v4) != 1) {
		fprintf(stderr, "usage: svc_wait [-g] PIN_PATH VIP PORT [BACKEND_IP] [-- CMD ARGS...]\n");
		return 2;
	}
	tern_addr_set_v4(&k.addr, v4);
	k.port = htons(atoi(argv[3]));
	if (nargs == 5) {
		if (inet_pton(AF_INET, argv[4], &v4) != 1)
			return 2;
		tern_addr_set_v4(&be, v4);
		be_addr = &be;
	}
	snprintf(path, sizeof(path), "%s/%s", argv[1], TERN_MAP_NAT_FE);
	fe_fd = bpf_obj_get(path);
	snprintf(path, sizeof(path), "%s/%s", argv[1], TERN_MAP_NAT_BE);
	be_fd = bpf_obj_get(path);
	if (fe_fd < 0 || be_fd < 0) {
		perror("svc_wait: open the pinned NAT maps");
		return 1;
	}

	double t0 = now_ms();

	if (cmd && *cmd) {
		pid_t pid = fork();
		int st;

		if (pid == 0) {
			execvp(cmd[0], cmd);
			_exit(127);
		}
		if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
			fprintf(stderr, "svc_wait: %s failed\n", cmd[0]);
			return 1;
		}
	}
	while (present(fe_fd, be_fd, &k, be_addr) == gone) {
		if (now_ms() - t0 > 120e3) {
			printf("timeout\n");
			return 1;
		}
		usleep(200);
	}
	printf("%.1f\n", now_ms() - t0);
	return 0;
}
