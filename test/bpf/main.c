/* bpf_tests: the real tc programs run on crafted packets with
 * BPF_PROG_TEST_RUN. Everything happens in a private network namespace
 * with unpinned maps, so nothing outlives the process: not an interface,
 * not a map, not a pin under /sys/fs/bpf. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

int main(void)
{
	static void (*const groups[])(void) = {
		test_pkt, test_parse, test_trunc, test_ep, test_ct,
		test_timeout, test_gc, test_icmp, test_frag, test_fwd, test_policy,
		test_nat, test_reject, test_sock,
	};

	setvbuf(stdout, NULL, _IOLBF, 0);
	/* the interfaces we add must never land in the caller's namespace */
	if (unshare(CLONE_NEWNET)) {
		printf("FAIL bpf/setup: unshare(CLONE_NEWNET): %s (run as root)\n",
		       strerror(errno));
		return 1;
	}
	if (tenv_setup()) {
		printf("FAIL bpf/setup: see the messages above\n");
		tenv_teardown();
		return 1;
	}
	for (size_t i = 0; i < ARRAY_SIZE(groups); i++)
		groups[i]();
	tenv_teardown();
	fprintf(stderr, "bpf: %d passed, %d failed\n", cases_passed(), cases_failed());
	return cases_failed() ? 1 : 0;
}
