/* Unit tests of ternd's config: defaults, every key, and every kind of
 * error with its FILE:LINE:COL and key. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/config.h"
#include "test/unit/unit.h"

static char tmpdir[] = "/tmp/tern-test-config.XXXXXX";
static char paths[256][128];
static int n_paths;

/* Write text to a new file in tmpdir; the path stays valid until exit. */
static const char *write_config(const char *text)
{
	char *path = paths[n_paths];
	FILE *f;

	if (n_paths == sizeof(paths) / sizeof(paths[0])) {
		fprintf(stderr, "too many config files\n");
		exit(1);
	}
	snprintf(path, sizeof(paths[0]), "%s/c%d.yaml", tmpdir, n_paths);
	n_paths++;
	f = fopen(path, "w");
	if (!f) {
		perror(path);
		exit(1);
	}
	fputs(text, f);
	fclose(f);
	return path;
}

static int load_text(const char *text, struct tern_config *c, char *err, size_t len,
		     const char **path)
{
	*path = write_config(text);
	config_defaults(c);
	return config_load(*path, c, err, len);
}

/* The load fails with exactly "PATH:LINE:COL: " + want (want may be a
 * prefix of the rest). */
static void expect_error(const char *text, int line, int col, const char *want)
{
	struct tern_config c;
	char err[512], prefix[1024];
	const char *path;
	int ret = load_text(text, &c, err, sizeof(err), &path);

	CHECK_INT(ret, -EINVAL);
	snprintf(prefix, sizeof(prefix), "%s:%d:%d: %s", path, line, col, want);
	if (strncmp(err, prefix, strlen(prefix))) {
		fprintf(stderr, "  for:\n%s  got  \"%s\"\n  want \"%s...\"\n", text, err, prefix);
		unit_failed_checks++;
	}
	config_free(&c);
}

static void test_defaults(void)
{
	struct tern_config c;
	char host[256];

	unsetenv("NODE_NAME"); /* without it, nodeName is the host name */
	config_defaults(&c);
	CHECK(gethostname(host, sizeof(host)) == 0);
	for (char *p = host; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	CHECK_STR(c.node_name, host);
	CHECK_STR(c.log_level, "info");
	CHECK_INT(c.datastore_type, DATASTORE_FILES);
	CHECK_STR(c.datastore_path, "/etc/tern/state");
	CHECK_STR(c.kubeconfig, "");
	CHECK_STR(c.pin_path, "/sys/fs/bpf/tern");
	CHECK_STR(c.cgroup_path, "/sys/fs/cgroup");
	CHECK_STR(c.wl_prefix, "tern");
	CHECK_INT(c.n_data_ifaces, 0);
	CHECK(c.data_ifaces == NULL);
	CHECK_INT(c.max_interfaces, 1024);
	CHECK_INT(c.max_endpoints, 65536);
	CHECK_INT(c.ct_max_entries, 262144);
	CHECK_INT(c.ct_gc_interval, 10);
	CHECK_INT(c.ct_timeouts.tcp_syn, 20);
	CHECK_INT(c.ct_timeouts.tcp_established, 3600);
	CHECK_INT(c.ct_timeouts.tcp_fin, 30);
	CHECK_INT(c.ct_timeouts.tcp_rst, 10);
	CHECK_INT(c.ct_timeouts.udp, 60);
	CHECK_INT(c.ct_timeouts.icmp, 5);
	CHECK_INT(c.ct_timeouts.other, 600);
	CHECK_INT(c.snat_ports.min, 20000);
	CHECK_INT(c.snat_ports.max, 29999);
	CHECK_STR(c.health_address, "");
	CHECK(c.file == NULL);
	config_free(&c);
	CHECK(c.node_name == NULL);
	config_free(&c); /* twice is harmless */
}

static void test_empty_file(void)
{
	const char *texts[] = { "", "# nothing set\n\n", "---\n" };

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct tern_config c;
		char err[256] = "x";
		const char *path;

		CHECK_INT(load_text(texts[i], &c, err, sizeof(err), &path), 0);
		CHECK_STR(err, "");
		CHECK_STR(c.file, path);
		CHECK_STR(c.pin_path, "/sys/fs/bpf/tern");
		CHECK_INT(c.ct_max_entries, 262144);
		config_free(&c);
	}
}

static void test_every_key(void)
{
	const char *text =
		"nodeName: node-7\n"
		"logLevel: debug\n"
		"datastore:\n"
		"  type: kubernetes\n"
		"  path: /var/lib/tern/state\n"
		"  kubeconfig: /etc/tern/kubeconfig\n"
		"bpf:\n"
		"  pinPath: /sys/fs/bpf/tern-test\n"
		"  cgroupPath: /sys/fs/cgroup/unified/tern\n"
		"  workloadInterfacePrefix: cali\n"
		"  dataInterfaces: [eth0, bond0.100]\n"
		"  maxInterfaces: 2048\n"
		"  maxEndpoints: 131072\n"
		"conntrack:\n"
		"  maxEntries: 1048576\n"
		"  gcInterval: 1m\n"
		"  timeouts:\n"
		"    tcpSynSent: 30s\n"
		"    tcpEstablished: 2h30m\n"
		"    tcpFinWait: 45\n"
		"    tcpReset: 5s\n"
		"    udp: 2m\n"
		"    icmp: 3s\n"
		"    other: 1h1m1s\n"
		"services:\n"
		"  snatPorts: 40000-40999\n"
		"health:\n"
		"  address: \":9099\"\n";
	struct tern_config c;
	char err[256];
	const char *path;

	CHECK_INT(load_text(text, &c, err, sizeof(err), &path), 0);
	CHECK_STR(err, "");
	CHECK_STR(c.node_name, "node-7");
	CHECK_STR(c.log_level, "debug");
	CHECK_INT(c.datastore_type, DATASTORE_KUBERNETES);
	CHECK_STR(c.datastore_path, "/var/lib/tern/state");
	CHECK_STR(c.kubeconfig, "/etc/tern/kubeconfig");
	CHECK_STR(c.pin_path, "/sys/fs/bpf/tern-test");
	CHECK_STR(c.cgroup_path, "/sys/fs/cgroup/unified/tern");
	CHECK_STR(c.wl_prefix, "cali");
	CHECK_INT(c.n_data_ifaces, 2);
	if (c.n_data_ifaces == 2) {
		CHECK_STR(c.data_ifaces[0], "eth0");
		CHECK_STR(c.data_ifaces[1], "bond0.100");
	}
	CHECK_INT(c.max_interfaces, 2048);
	CHECK_INT(c.max_endpoints, 131072);
	CHECK_INT(c.ct_max_entries, 1048576);
	CHECK_INT(c.ct_gc_interval, 60);
	CHECK_INT(c.ct_timeouts.tcp_syn, 30);
	CHECK_INT(c.ct_timeouts.tcp_established, 9000);
	CHECK_INT(c.ct_timeouts.tcp_fin, 45);
	CHECK_INT(c.ct_timeouts.tcp_rst, 5);
	CHECK_INT(c.ct_timeouts.udp, 120);
	CHECK_INT(c.ct_timeouts.icmp, 3);
	CHECK_INT(c.ct_timeouts.other, 3661);
	CHECK_INT(c.snat_ports.min, 40000);
	CHECK_INT(c.snat_ports.max, 40999);
	CHECK_STR(c.health_address, ":9099");
	config_free(&c);
}

static void test_null_keeps_default(void)
{
	struct tern_config c;
	char err[256];
	const char *path;

	CHECK_INT(load_text("nodeName:\nbpf:\n  pinPath: ~\n  dataInterfaces:\nhealth:\n",
			    &c, err, sizeof(err), &path), 0);
	CHECK_STR(err, "");
	CHECK(c.node_name && c.node_name[0]);
	CHECK_STR(c.pin_path, "/sys/fs/bpf/tern");
	CHECK_INT(c.n_data_ifaces, 0);
	config_free(&c);
}

static void test_value_errors(void)
{
	expect_error("bpf:\n  maxInterfaces: lots\n", 2, 18,
		     "bpf.maxInterfaces: expected an integer in 2..65536, got \"lots\"");
	expect_error("bpf:\n  maxInterfaces: 1\n", 2, 18,
		     "bpf.maxInterfaces: expected an integer in 2..65536, got \"1\"");
	expect_error("bpf:\n  maxInterfaces: 65537\n", 2, 18,
		     "bpf.maxInterfaces: expected an integer in 2..65536, got \"65537\"");
	expect_error("bpf:\n  maxEndpoints: 15\n", 2, 17,
		     "bpf.maxEndpoints: expected an integer in 16..16777216, got \"15\"");
	expect_error("bpf:\n  maxEndpoints: \"1024\"\n", 2, 17,
		     "bpf.maxEndpoints: expected an integer in 16..16777216, got the quoted string \"1024\"");
	expect_error("conntrack:\n  maxEntries: -5\n", 2, 15,
		     "conntrack.maxEntries: expected an integer in 1024..67108864, got \"-5\"");
	expect_error("conntrack:\n  maxEntries: 1e6\n", 2, 15,
		     "conntrack.maxEntries: expected an integer in 1024..67108864, got \"1e6\"");
	expect_error("datastore:\n  type: etcd\n", 2, 9,
		     "datastore.type: expected one of files|kubernetes, got \"etcd\"");
	expect_error("logLevel: verbose\n", 1, 11,
		     "logLevel: expected one of error|warn|info|debug, got \"verbose\"");
	expect_error("conntrack:\n  gcInterval: 5 minutes\n", 2, 15,
		     "conntrack.gcInterval: expected a duration in 1s..1h (like 30s, 5m, 1h30m), got \"5 minutes\"");
	expect_error("conntrack:\n  gcInterval: 0s\n", 2, 15,
		     "conntrack.gcInterval: expected a duration in 1s..1h");
	expect_error("conntrack:\n  timeouts:\n    udp: -5s\n", 3, 10,
		     "conntrack.timeouts.udp: expected a duration in 1s..720h (like 30s, 5m, 1h30m), got \"-5s\"");
	expect_error("nodeName: \"\"\n", 1, 11, "nodeName: must not be empty");
	expect_error("bpf:\n  pinPath: sys/fs/bpf\n", 2, 12,
		     "bpf.pinPath: expected an absolute path, got \"sys/fs/bpf\"");
	expect_error("health:\n  address: 9099\n", 2, 12,
		     "health.address: expected host:port or :port (port 1..65535), got \"9099\"");
}

static void test_type_errors(void)
{
	expect_error("nodeName: {a: 1}\n", 1, 11, "nodeName: expected a string, got a map");
	expect_error("logLevel: [debug]\n", 1, 11,
		     "logLevel: expected one of error|warn|info|debug, got a list");
	expect_error("bpf: 5\n", 1, 6, "bpf: expected a map of settings, got a value");
	expect_error("conntrack:\n  timeouts: [1]\n", 2, 13,
		     "conntrack.timeouts: expected a map of settings, got a list");
	expect_error("bpf:\n  maxInterfaces:\n    n: 1\n", 3, 5,
		     "bpf.maxInterfaces: expected an integer in 2..65536, got a map");
	expect_error("bpf:\n  dataInterfaces: eth0\n", 2, 19,
		     "bpf.dataInterfaces: expected a list, got a value");
	expect_error("bpf:\n  dataInterfaces:\n    - eth0\n    - [eth1]\n", 4, 7,
		     "bpf.dataInterfaces[1]: expected a string, got a list");
	expect_error("- nodeName: a\n", 1, 1, "the top level must be a map of settings, got a list");
	expect_error("just text\n", 1, 1, "the top level must be a map of settings, got a value");
}

static void test_unknown_keys(void)
{
	expect_error("bpf:\n  pinPth: /x\n", 2, 3,
		     "bpf.pinPth: unknown key (did you mean bpf.pinPath?)");
	expect_error("nodeName: a\nloglevel: info\n", 2, 1,
		     "loglevel: unknown key (did you mean logLevel?)");
	expect_error("bfp:\n  pinPath: /x\n", 1, 1, "bfp: unknown key (did you mean bpf?)");
	expect_error("conntrack:\n  timeouts:\n    tcpEstablised: 1h\n", 3, 5,
		     "conntrack.timeouts.tcpEstablised: unknown key (did you mean "
		     "conntrack.timeouts.tcpEstablished?)");
	expect_error("conntrack:\n  timeout:\n    udp: 1m\n", 2, 3,
		     "conntrack.timeout: unknown key (did you mean conntrack.timeouts?)");
	expect_error("bpf.pinPath: /x\n", 1, 1, "bpf.pinPath: a key must not contain '.'");

	/* nothing close: no suggestion */
	struct tern_config c;
	char err[256];
	const char *path;

	CHECK_INT(load_text("\n\nfrobnicate: 1\n", &c, err, sizeof(err), &path), -EINVAL);
	CHECK(strstr(err, ":3:1: frobnicate: unknown key") != NULL);
	CHECK(strstr(err, "did you mean") == NULL);
	config_free(&c);
}

static void test_yaml_errors(void)
{
	expect_error("bpf:\n  pinPath: a: b\n", 2, 13, "mapping values are not allowed");
	expect_error("nodeName: a\nbpf:\n  pinPath: /a\n  pinPath: /b\n", 4, 3,
		     "duplicate key \"pinPath\" (first at line 3, column 3)");
	expect_error("nodeName: a\n---\nnodeName: b\n", 2, 1, "a second document");
	expect_error("a: &x 1\nnodeName: *x\n", 2, 11, "aliases (*x) are not supported");
	expect_error("bpf: [a\n", 2, 1, "did not find expected");
}

static void test_file_errors(void)
{
	struct tern_config c;
	char err[512], want[512];

	config_defaults(&c);
	snprintf(want, sizeof(want), "%s/missing.yaml", tmpdir);
	CHECK_INT(config_load(want, &c, err, sizeof(err)), -ENOENT);
	strcat(want, ": No such file or directory");
	CHECK_STR(err, want);

	CHECK_INT(config_load(tmpdir, &c, err, sizeof(err)), -EISDIR);
	snprintf(want, sizeof(want), "%s: %s", tmpdir, strerror(EISDIR));
	CHECK_STR(err, want);
	CHECK_STR(c.pin_path, "/sys/fs/bpf/tern");
	config_free(&c);
}

static void check_duration(const char *value, int ok, uint32_t want)
{
	char text[128], err[512];
	struct tern_config c;
	const char *path;
	int ret;

	snprintf(text, sizeof(text), "conntrack:\n  timeouts:\n    other: %s\n", value);
	ret = load_text(text, &c, err, sizeof(err), &path);
	if (ok) {
		if (ret || c.ct_timeouts.other != want) {
			fprintf(stderr, "  %s: ret %d, %u s, want %u: %s\n", value, ret,
				c.ct_timeouts.other, want, err);
			unit_failed_checks++;
		}
	} else if (ret != -EINVAL || !strstr(err, ":3:12: conntrack.timeouts.other: expected a duration")) {
		fprintf(stderr, "  %s: ret %d, want an error; err \"%s\"\n", value, ret, err);
		unit_failed_checks++;
	}
	config_free(&c);
}

static void test_durations(void)
{
	check_duration("30", 1, 30);
	check_duration("30s", 1, 30);
	check_duration("5m", 1, 300);
	check_duration("1h", 1, 3600);
	check_duration("1h30m", 1, 5400);
	check_duration("1h30m15s", 1, 5415);
	check_duration("2h5s", 1, 7205);
	check_duration("90m", 1, 5400);
	check_duration("\"45s\"", 1, 45);
	check_duration("720h", 1, 720 * 3600);
	check_duration("1", 1, 1);

	check_duration("0", 0, 0);
	check_duration("0s", 0, 0);
	check_duration("0h0m", 0, 0);
	check_duration("-5s", 0, 0);
	check_duration("s", 0, 0);
	check_duration("5x", 0, 0);
	check_duration("5ms", 0, 0);
	check_duration("1m1h", 0, 0);
	check_duration("1h1h", 0, 0);
	check_duration("1.5h", 0, 0);
	check_duration("1h30", 0, 0);
	check_duration("30 s", 0, 0);
	check_duration("721h", 0, 0);
	check_duration("99999999999s", 0, 0);
	check_duration("\"\"", 0, 0);
	check_duration("\" 5s\"", 0, 0);
}

static void test_interfaces(void)
{
	struct tern_config c;
	char err[256];
	const char *path;

	CHECK_INT(load_text("bpf:\n  dataInterfaces:\n    - eth0\n    - abcdefghijklmno\n    - \"ens3\"\n",
			    &c, err, sizeof(err), &path), 0);
	CHECK_INT(c.n_data_ifaces, 3);
	if (c.n_data_ifaces == 3) {
		CHECK_STR(c.data_ifaces[0], "eth0");
		CHECK_STR(c.data_ifaces[1], "abcdefghijklmno");
		CHECK_STR(c.data_ifaces[2], "ens3");
	}
	config_free(&c);

	CHECK_INT(load_text("bpf:\n  dataInterfaces: []\n", &c, err, sizeof(err), &path), 0);
	CHECK_INT(c.n_data_ifaces, 0);
	config_free(&c);

	expect_error("bpf:\n  dataInterfaces: [eth0, \"a/b\"]\n", 2, 26,
		     "bpf.dataInterfaces[1]: expected an interface name (1..15 characters, no '/', ':' "
		     "or whitespace), got \"a/b\"");
	expect_error("bpf:\n  dataInterfaces: [abcdefghijklmnop]\n", 2, 20,
		     "bpf.dataInterfaces[0]: expected an interface name");
	expect_error("bpf:\n  dataInterfaces: [\"\"]\n", 2, 20,
		     "bpf.dataInterfaces[0]: expected an interface name");
	expect_error("bpf:\n  dataInterfaces: [\"eth 0\"]\n", 2, 20,
		     "bpf.dataInterfaces[0]: expected an interface name");
	expect_error("bpf:\n  dataInterfaces: [eth0:1]\n", 2, 20,
		     "bpf.dataInterfaces[0]: expected an interface name");
	expect_error("bpf:\n  dataInterfaces: [\"..\"]\n", 2, 20,
		     "bpf.dataInterfaces[0]: expected an interface name");
	expect_error("bpf:\n  dataInterfaces:\n    - eth0\n    - eth1\n    - eth0\n", 5, 7,
		     "bpf.dataInterfaces[2]: \"eth0\" is listed twice");
}

static void test_prefix_limits(void)
{
	const char *good[] = { "t", "tern", "ab1_" };
	const char *bad[] = { "\"\"", "terns", "abcdefgh", "\"a/\"", "\"a b\"", "\"t:\"" };

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct tern_config c;
		char text[128], err[256];
		const char *path;

		snprintf(text, sizeof(text), "bpf:\n  workloadInterfacePrefix: %s\n", good[i]);
		CHECK_INT(load_text(text, &c, err, sizeof(err), &path), 0);
		CHECK_STR(c.wl_prefix, good[i]);
		config_free(&c);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[128];

		snprintf(text, sizeof(text), "bpf:\n  workloadInterfacePrefix: %s\n", bad[i]);
		expect_error(text, 2, 28, "bpf.workloadInterfacePrefix: expected 1..4 characters");
	}
}

static void test_health_address(void)
{
	const char *good[] = { "\"\"", "\":8080\"", "0.0.0.0:9099", "localhost:1",
			       "\"[::1]:9099\"", "\"[::]:65535\"", "node-1.example.com:80" };
	const char *bad[] = { "9099", "\"host:\"", "host:0", "\":65536\"", "\"[::1:80\"",
			      "\"[zz]:80\"", "\"a b:80\"", "\"host:+80\"", "\"::1:80\"", "\":http\"" };

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct tern_config c;
		char text[128], err[256];
		const char *path;

		snprintf(text, sizeof(text), "health:\n  address: %s\n", good[i]);
		CHECK_INT(load_text(text, &c, err, sizeof(err), &path), 0);
		if (*err)
			fprintf(stderr, "  %s\n", err);
		config_free(&c);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[128];

		snprintf(text, sizeof(text), "health:\n  address: %s\n", bad[i]);
		expect_error(text, 2, 12, "health.address: expected host:port or :port");
	}
}

static void check_snat_ports(const char *value, int min, int max)
{
	struct tern_config c;
	char text[128], err[256];
	const char *path;

	snprintf(text, sizeof(text), "services:\n  snatPorts: %s\n", value);
	CHECK_INT(load_text(text, &c, err, sizeof(err), &path), 0);
	CHECK_STR(err, "");
	CHECK_INT(c.snat_ports.min, min);
	CHECK_INT(c.snat_ports.max, max);
	config_free(&c);
}

/* services.snatPorts: MIN-MAX within 1024..65535, at least 1000 ports */
static void test_snat_ports(void)
{
	check_snat_ports("20000-29999", 20000, 29999);
	check_snat_ports("1024-2023", 1024, 2023);    /* the least range, at the bottom */
	check_snat_ports("64536-65535", 64536, 65535); /* and at the top */
	check_snat_ports("\"40000-49999\"", 40000, 49999);
	check_snat_ports("~", 20000, 29999);          /* null keeps the default */

	expect_error("services:\n  snatPorts: 20000\n", 2, 14,
		     "services.snatPorts: expected MIN-MAX (like 20000-29999), got \"20000\"");
	expect_error("services:\n  snatPorts: 20000:29999\n", 2, 14,
		     "services.snatPorts: expected MIN-MAX (like 20000-29999), got \"20000:29999\"");
	expect_error("services:\n  snatPorts: \"20000 - 29999\"\n", 2, 14,
		     "services.snatPorts: expected MIN-MAX (like 20000-29999), got \"20000 - 29999\"");
	expect_error("services:\n  snatPorts: 20000-29999x\n", 2, 14,
		     "services.snatPorts: expected MIN-MAX (like 20000-29999), got \"20000-29999x\"");
	expect_error("services:\n  snatPorts: +20000-29999\n", 2, 14,
		     "services.snatPorts: expected MIN-MAX (like 20000-29999), got \"+20000-29999\"");
	expect_error("services:\n  snatPorts: 020000-29999\n", 2, 14,
		     "services.snatPorts: expected MIN-MAX (like 20000-29999), got \"020000-29999\"");
	expect_error("services:\n  snatPorts: 02000-29999\n", 2, 14,
		     "services.snatPorts: expected MIN-MAX (like 20000-29999), got \"02000-29999\"");
	expect_error("services:\n  snatPorts: \"\"\n", 2, 14,
		     "services.snatPorts: expected MIN-MAX (like 20000-29999), got \"\"");
	expect_error("services:\n  snatPorts: 80-2000\n", 2, 14,
		     "services.snatPorts: ports must lie in 1024..65535, got \"80-2000\"");
	expect_error("services:\n  snatPorts: 1023-2023\n", 2, 14,
		     "services.snatPorts: ports must lie in 1024..65535, got \"1023-2023\"");
	expect_error("services:\n  snatPorts: 64537-65536\n", 2, 14,
		     "services.snatPorts: ports must lie in 1024..65535, got \"64537-65536\"");
	expect_error("services:\n  snatPorts: 29999-20000\n", 2, 14,
		     "services.snatPorts: MIN must not exceed MAX, got \"29999-20000\"");
	expect_error("services:\n  snatPorts: 20000-20998\n", 2, 14,
		     "services.snatPorts: at least 1000 ports, got 999 in \"20000-20998\"");
	expect_error("services:\n  snatPorts: 20000-20000\n", 2, 14,
		     "services.snatPorts: at least 1000 ports, got 1 in \"20000-20000\"");
	expect_error("services:\n  snatPorts: [20000, 29999]\n", 2, 14,
		     "services.snatPorts: expected a port range MIN-MAX, got a list");
	expect_error("services:\n  snatPort: 20000-29999\n", 2, 3,
		     "services.snatPort: unknown key (did you mean services.snatPorts?)");
}

static void test_reload(void)
{
	struct tern_config c;
	char err[256];
	const char *p1 = write_config("nodeName: a\nbpf:\n  dataInterfaces: [eth0, eth1]\n");
	const char *p2 = write_config("nodeName: b\nbpf:\n  dataInterfaces: [eth2]\n");
	const char *p3 = write_config("bpf:\n  dataInterfaces: [eth3, bad/name]\n");

	config_defaults(&c);
	CHECK_INT(config_load(p1, &c, err, sizeof(err)), 0);
	CHECK_INT(config_load(p2, &c, err, sizeof(err)), 0);
	CHECK_STR(c.file, p2);
	CHECK_STR(c.node_name, "b");
	CHECK_INT(c.n_data_ifaces, 1);
	CHECK_STR(c.data_ifaces[0], "eth2");
	/* a failed list leaves the old one in place */
	CHECK_INT(config_load(p3, &c, err, sizeof(err)), -EINVAL);
	CHECK_INT(c.n_data_ifaces, 1);
	CHECK_STR(c.data_ifaces[0], "eth2");
	config_free(&c);

	/* a NULL or short error buffer is fine */
	config_defaults(&c);
	CHECK_INT(config_load(p3, &c, NULL, 0), -EINVAL);
	CHECK_INT(config_load(p3, &c, NULL, 100), -EINVAL);
	CHECK_INT(config_load(p3, &c, err, 8), -EINVAL);
	CHECK_INT(strlen(err), 7);
	config_free(&c);
}

static void test_bools(void)
{
	char dir[] = "/tmp/tern-cfg-bool.XXXXXX", path[64], err[256];
	struct tern_config c;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/c.yaml", dir);
	FILE *f = fopen(path, "w");

	fputs("services:\n  connectTimeLB:\n    tcp: false\n    udp: off\n", f);
	fclose(f);
	config_defaults(&c);
	CHECK_INT(c.ctlb_tcp, 1);
	CHECK_INT(c.ctlb_sctp, 1);
	CHECK_INT(config_load(path, &c, err, sizeof(err)), 0);
	CHECK_INT(c.ctlb_tcp, 0);
	CHECK_INT(c.ctlb_udp, 0);
	CHECK_INT(c.ctlb_sctp, 1);
	config_free(&c);
	f = fopen(path, "w");
	fputs("services:\n  connectTimeLB:\n    sctp: 1\n", f);
	fclose(f);
	config_defaults(&c);
	CHECK_INT(config_load(path, &c, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, ":3:11: services.connectTimeLB.sctp: expected true or false") != NULL);
	config_free(&c);
	unlink(path);
	rmdir(dir);
}

/* The DaemonSet passes the pod's spec.nodeName as $NODE_NAME; a nodeName
 * in the file still wins. */
static void test_node_name_env(void)
{
	struct tern_config c;
	const char *path;
	char err[512];

	setenv("NODE_NAME", "worker-3", 1);
	config_defaults(&c);
	CHECK_STR(c.node_name, "worker-3");
	config_free(&c);
	CHECK_INT(load_text("nodeName: node-7\n", &c, err, sizeof(err), &path), 0);
	CHECK_STR(c.node_name, "node-7");
	config_free(&c);
	setenv("NODE_NAME", "", 1); /* empty: as unset */
	config_defaults(&c);
	CHECK(c.node_name && c.node_name[0]);
	config_free(&c);
	unsetenv("NODE_NAME");
}

static void test_schema(void)
{
	static const char *keys[] = {
		"nodeName", "logLevel", "datastore.type", "datastore.path", "datastore.kubeconfig",
		"bpf.pinPath", "bpf.cgroupPath", "bpf.workloadInterfacePrefix", "bpf.dataInterfaces",
		"bpf.maxInterfaces", "bpf.maxEndpoints", "conntrack.maxEntries",
		"conntrack.gcInterval", "conntrack.timeouts.tcpSynSent",
		"conntrack.timeouts.tcpEstablished", "conntrack.timeouts.tcpFinWait",
		"conntrack.timeouts.tcpReset", "conntrack.timeouts.udp", "conntrack.timeouts.icmp",
		"conntrack.timeouts.other", "services.connectTimeLB.tcp",
		"services.connectTimeLB.udp", "services.connectTimeLB.sctp", "services.snatPorts",
		"health.address",
	};
	size_t n_keys = sizeof(keys) / sizeof(keys[0]);
	char *buf = NULL, *line, *save = NULL;
	size_t len = 0, lines = 0;
	FILE *f = open_memstream(&buf, &len);

	CHECK(f != NULL);
	if (!f)
		return;
	config_print_schema(f);
	fclose(f);
	CHECK(strncmp(buf, "KEY", 3) == 0);
	/* one row per key, in table order, after the header */
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (lines > 0 && lines <= n_keys)
			CHECK(strncmp(line, keys[lines - 1], strlen(keys[lines - 1])) == 0 &&
			      line[strlen(keys[lines - 1])] == ' ');
		lines++;
	}
	CHECK_INT(lines, n_keys + 1);
	free(buf);

	/* aligned: the TYPE column starts at the same offset on every row */
	buf = NULL;
	f = open_memstream(&buf, &len);
	config_print_schema(f);
	fclose(f);
	{
		const char *hdr_type = strstr(buf, "TYPE");
		size_t col = (size_t)(hdr_type - buf);
		const char *row = strstr(buf, "\nbpf.maxInterfaces");

		CHECK(row != NULL);
		if (row) {
			row++;
			CHECK(strncmp(row + col, "integer 2..65536", 16) == 0);
			CHECK(strstr(row, " 1024 ") != NULL);
		}
		row = strstr(buf, "\ndatastore.type");
		CHECK(row && strncmp(row + 1 + col, "files|kubernetes", 16) == 0);
		row = strstr(buf, "\nservices.snatPorts");
		CHECK(row && strncmp(row + 1 + col, "port range 1024..65535", 22) == 0);
		CHECK(row && strstr(row, " 20000-29999 ") != NULL);
		row = strstr(buf, "\nconntrack.timeouts.tcpEstablished");
		CHECK(row && strncmp(row + 1 + col, "duration 1s..720h", 17) == 0);
	}
	free(buf);
}

int main(void)
{
	int ret;

	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	UNIT_BEGIN("config");
	RUN(test_defaults);
	RUN(test_empty_file);
	RUN(test_every_key);
	RUN(test_null_keeps_default);
	RUN(test_value_errors);
	RUN(test_type_errors);
	RUN(test_unknown_keys);
	RUN(test_yaml_errors);
	RUN(test_file_errors);
	RUN(test_durations);
	RUN(test_interfaces);
	RUN(test_prefix_limits);
	RUN(test_health_address);
	RUN(test_snat_ports);
	RUN(test_reload);
	RUN(test_bools);
	RUN(test_node_name_env);
	RUN(test_schema);
	ret = UNIT_END();
	for (int i = 0; i < n_paths; i++)
		unlink(paths[i]);
	rmdir(tmpdir);
	return ret;
}
