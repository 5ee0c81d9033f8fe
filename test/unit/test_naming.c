/* SHA-1 against FIPS 180 vectors, and the workload interface naming rule. */
#include <errno.h>

#include "unit.h"
#include "agent/naming.h"

static void hex(const uint8_t *d, char *out)
{
	for (int i = 0; i < 20; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

static void sha1_vectors(void)
{
	static const struct {
		const char *in, *want;
	} v[] = {
		{ "", "da39a3ee5e6b4b0d3255bfef95601890afd80709" },
		{ "abc", "a9993e364706816aba3e25717850c26c9cd0d89d" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		  "84983e441c3bd26ebaae4aa1f95129e5e54670f1" },
		/* 55, 56 and 64 bytes: the padding edge cases (values: sha1sum) */
		{ "0123456789012345678901234567890123456789012345678901234",
		  "9f3a4ce7f66b1b74c34da2c5d732c39f81e0f8df" },
		{ "01234567890123456789012345678901234567890123456789012345",
		  "0a40b8fbdaafb7c29651618ac15d27e772287130" },
		{ "0123456789012345678901234567890123456789012345678901234567890123",
		  "cf0800f7644ace3cb4c3fa33388d3ba0ea3c8b6e" },
	};
	char got[41];
	uint8_t d[20];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		sha1(v[i].in, strlen(v[i].in), d);
		hex(d, got);
		CHECK_STR(got, v[i].want);
	}
}

static void sha1_long(void)
{
	/* one million 'a': the third FIPS 180 vector, many blocks */
	static char buf[1000000];
	uint8_t d[20];
	char got[41];

	memset(buf, 'a', sizeof(buf));
	sha1(buf, sizeof(buf), d);
	hex(d, got);
	CHECK_STR(got, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

static void ifname_rule(void)
{
	char name[16];

	/* sha1("default.pod-a") = 5e1c4d6c68c9402d... */
	CHECK_INT(workload_ifname("tern", "default", "pod-a", name, sizeof(name)), 0);
	CHECK_STR(name, "tern5e1c4d6c68c");
	CHECK_INT(strlen(name), 15);
	CHECK_INT(workload_ifname("cali", "kube-system", "coredns-1", name, sizeof(name)), 0);
	CHECK(strncmp(name, "cali", 4) == 0 && strlen(name) == 15);
	/* a prefix that would not fit IFNAMSIZ */
	CHECK_INT(workload_ifname("toolong", "a", "b", name, sizeof(name)), -ENAMETOOLONG);
	CHECK_INT(workload_ifname("tern", "a", "b", name, 10), -ENAMETOOLONG);
}

int main(void)
{
	UNIT_BEGIN("naming");
	RUN(sha1_vectors);
	RUN(sha1_long);
	RUN(ifname_rule);
	return UNIT_END();
}
