/* Unit tests of agent/kubeconfig.c: the current context of a kubeconfig
 * (inline and file credentials, relative names, errors with positions)
 * and the in-cluster config, with the token re-read as it rotates. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/kubeconfig.h"
#include "test/unit/unit.h"

static char dir[64];

static void write_file(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fputs(text, f);
	fclose(f);
}

/* Load text as dir/kubeconfig. */
static int load(const char *text, struct kube_conn *c, char *err, size_t len)
{
	char path[256];

	write_file("kubeconfig", text);
	snprintf(path, sizeof(path), "%s/kubeconfig", dir);
	return kube_conn_kubeconfig(path, c, err, len);
}

/* Load text expecting an error whose message holds want. */
static void check_error(const char *text, const char *want)
{
	struct kube_conn c;
	char err[512];

	CHECK_INT(load(text, &c, err, sizeof(err)), -EINVAL);
	if (!strstr(err, want)) {
		fprintf(stderr, "  error \"%s\" lacks \"%s\"\n", err, want);
		CHECK(0);
	}
	CHECK(c.server == NULL);
}

#define HEAD                                                                         \
	"apiVersion: v1\nkind: Config\ncurrent-context: prod\n"                      \
	"contexts:\n- name: dev\n  context: {cluster: dev, user: dev}\n"             \
	"- name: prod\n  context:\n    cluster: prod\n    user: ternd\n"

/* "-----BEGIN X-----" base64-encoded, the shape of real *-data fields */
#define CA_B64 "LS0tLS1CRUdJTiBYLS0tLS0K"

static void test_token_inline(void)
{
	struct kube_conn c;
	char err[512] = "";

	CHECK_INT(load(HEAD
		       "clusters:\n- name: dev\n  cluster: {server: 'https://dev:6443'}\n"
		       "- name: prod\n  cluster:\n    server: https://10.0.0.1:6443/\n"
		       "    certificate-authority-data: " CA_B64 "\n"
		       "users:\n- name: dev\n  user: {token: wrong}\n"
		       "- name: ternd\n  user:\n    token: abc.def\n",
		       &c, err, sizeof(err)), 0);
	if (err[0])
		fprintf(stderr, "  %s\n", err);
	CHECK_STR(c.server, "https://10.0.0.1:6443");
	CHECK(c.ca_file == NULL);
	CHECK_INT(c.ca.len, 18);
	CHECK(c.ca.data && !memcmp(c.ca.data, "-----BEGIN X-----\n", 18));
	CHECK_STR(c.token, "abc.def");
	CHECK(c.token_file == NULL);
	CHECK_STR(kube_conn_token(&c), "abc.def");
	CHECK_INT(c.insecure, 0);
	kube_conn_free(&c);
}

static void test_client_cert_data(void)
{
	struct kube_conn c;
	char err[512] = "";

	CHECK_INT(load(HEAD
		       "clusters:\n- name: prod\n  cluster:\n    server: https://api:6443\n"
		       "    insecure-skip-tls-verify: true\n"
		       "users:\n- name: ternd\n  user:\n"
		       "    client-certificate-data: " CA_B64 "\n"
		       "    client-key-data: \"" CA_B64 "\"\n",
		       &c, err, sizeof(err)), 0);
	if (err[0])
		fprintf(stderr, "  %s\n", err);
	CHECK_INT(c.insecure, 1);
	CHECK_INT(c.cert.len, 18);
	CHECK_INT(c.key.len, 18);
	CHECK(c.token == NULL && c.token_file == NULL);
	CHECK(kube_conn_token(&c) == NULL);
	kube_conn_free(&c);
}

/* File names relative to the kubeconfig; a tokenFile re-read on rotation. */
static void test_files_relative(void)
{
	struct kube_conn c;
	char err[512] = "", want[256];

	write_file("token", "first\n");
	CHECK_INT(load(HEAD
		       "clusters:\n- name: prod\n  cluster:\n    server: https://api:6443\n"
		       "    certificate-authority: certs/ca.crt\n"
		       "users:\n- name: ternd\n  user:\n"
		       "    client-certificate: /etc/abs.crt\n    client-key: k.key\n"
		       "    tokenFile: token\n",
		       &c, err, sizeof(err)), 0);
	if (err[0])
		fprintf(stderr, "  %s\n", err);
	snprintf(want, sizeof(want), "%s/certs/ca.crt", dir);
	CHECK_STR(c.ca_file, want);
	CHECK_STR(c.cert_file, "/etc/abs.crt");
	snprintf(want, sizeof(want), "%s/k.key", dir);
	CHECK_STR(c.key_file, want);
	CHECK_STR(kube_conn_token(&c), "first");
	write_file("token", "  second\n");
	CHECK_STR(kube_conn_token(&c), "second");
	/* unreadable: the last token read stays */
	write_file("token", "\n");
	CHECK_STR(kube_conn_token(&c), "second");
	kube_conn_free(&c);
}

static void test_errors(void)
{
	check_error("apiVersion: v1\nkind: Config\n", "current-context: not set");
	check_error(HEAD "clusters: []\n", ":9:14: cluster \"prod\" is not defined in clusters");
	check_error("current-context: x\ncontexts:\n- name: y\n  context: {cluster: c}\n",
		    ":1:18: context \"x\" is not defined in contexts");
	check_error(HEAD "clusters:\n- name: prod\n  cluster: {}\n",
		    "clusters[0].cluster.server: missing");
	check_error(HEAD "clusters:\n- name: prod\n  cluster: {server: 'api:6443'}\n",
		    "is not an http(s):// URL");
	check_error(HEAD "clusters:\n- name: prod\n  cluster:\n    server: https://a\n"
		    "    certificate-authority-data: '!!notbase64!!'\n",
		    ":15:33: clusters[0].cluster.certificate-authority-data: not valid base64");
	check_error(HEAD "clusters:\n- name: prod\n  cluster:\n    server: https://a\n"
		    "    certificate-authority: ca.crt\n    certificate-authority-data: " CA_B64 "\n",
		    "set either certificate-authority or certificate-authority-data, not both");
	check_error(HEAD "clusters:\n- name: prod\n  cluster: {server: https://a}\n"
		    "users:\n- name: ternd\n  user:\n    exec: {command: aws}\n",
		    "users[0].user.exec: credential plugins are not supported");
	check_error(HEAD "clusters:\n- name: prod\n  cluster: {server: https://a}\n"
		    "users:\n- name: ternd\n  user:\n    client-certificate: c.crt\n",
		    "a client certificate needs its key");
	check_error(HEAD "clusters:\n- name: prod\n  cluster: {server: https://a}\n"
		    "users:\n- name: ternd\n  user:\n    tokenFile: missing-token\n",
		    "tokenFile: ");
	check_error("- a\n- b\n", "a kubeconfig must be a map");
	check_error("current-context: [\n", "kubeconfig:");
}

static void test_missing_file(void)
{
	struct kube_conn c;
	char err[512];

	CHECK_INT(kube_conn_kubeconfig("/nonexistent/kubeconfig", &c, err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "/nonexistent/kubeconfig: No such file") != NULL);
}

static void test_in_cluster(void)
{
	struct kube_conn c;
	char err[512] = "";

	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	CHECK_INT(kube_conn_in_cluster(dir, &c, err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set") != NULL);

	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	unlink("ca.crt");
	CHECK_INT(kube_conn_in_cluster(dir, &c, err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "ca.crt: No such file") != NULL);

	write_file("ca.crt", "-----BEGIN CERTIFICATE-----\n");
	write_file("token", "");
	CHECK_INT(kube_conn_in_cluster(dir, &c, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "token: empty") != NULL);

	write_file("token", "eyJhbGciOi.one\n");
	CHECK_INT(kube_conn_in_cluster(dir, &c, err, sizeof(err)), 0);
	CHECK_STR(c.server, "https://10.96.0.1:443");
	CHECK_STR(c.source, "in-cluster");
	CHECK_STR(kube_conn_token(&c), "eyJhbGciOi.one");
	write_file("token", "eyJhbGciOi.two");
	CHECK_STR(kube_conn_token(&c), "eyJhbGciOi.two");
	kube_conn_free(&c);

	setenv("KUBERNETES_SERVICE_HOST", "fd00:96::1", 1);
	CHECK_INT(kube_conn_in_cluster(dir, &c, err, sizeof(err)), 0);
	CHECK_STR(c.server, "https://[fd00:96::1]:443");
	kube_conn_free(&c);
}

int main(void)
{
	int ret;

	snprintf(dir, sizeof(dir), "/tmp/tern-unit-kubeconfig.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	if (chdir(dir)) {
		perror(dir);
		return 1;
	}
	UNIT_BEGIN("kubeconfig");
	RUN(test_token_inline);
	RUN(test_client_cert_data);
	RUN(test_files_relative);
	RUN(test_errors);
	RUN(test_missing_file);
	RUN(test_in_cluster);
	ret = UNIT_END();
	for (const char *const *f = (const char *const[]){ "kubeconfig", "token", "ca.crt", NULL };
	     *f; f++)
		unlink(*f);
	if (chdir("/") || rmdir(dir))
		perror(dir);
	return ret;
}
