/* IPAM delegation (CNI spec section 4): find the plugin in CNI_PATH, run
 * it with our environment (CNI_COMMAND set to the step) and the network
 * config on stdin, and read its result or error from stdout. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cni/cni.h"

/* An IPAM result is a few hundred bytes. */
#define OUT_MAX (1 << 20)

extern char **environ;

/* The first executable dir/type in the ':'-separated CNI_PATH. */
static int plugin_find(const char *path, const char *type, char *out, size_t len)
{
	const char *p = path;

	while (*p) {
		size_t dlen = strcspn(p, ":");

		if (dlen && (size_t)snprintf(out, len, "%.*s/%s", (int)dlen, p, type) < len &&
		    access(out, X_OK) == 0)
			return 0;
		p += dlen;
		if (*p == ':')
			p++;
	}
	return -ENOENT;
}

/* environ with CNI_COMMAND replaced by cmd; the strings are environ's. */
static char **env_with_command(const char *cmd_var)
{
	size_t n = 0, k = 0;
	char **env;

	while (environ[n])
		n++;
	env = calloc(n + 2, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (strncmp(environ[i], "CNI_COMMAND=", 12))
			env[k++] = environ[i];
	}
	env[k++] = (char *)cmd_var;
	return env;
}

/* The config on an in-memory file: the child reads it at its own pace,
 * and no pipe can fill up while we wait on its stdout. */
static int stdin_file(const struct cni_req *r)
{
	int fd = memfd_create("tern-cni-conf", MFD_CLOEXEC);
	size_t off = 0;

	if (fd < 0)
		return -errno;
	while (off < r->stdin_len) {
		ssize_t n = write(fd, r->stdin_buf + off, r->stdin_len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = -errno;

			close(fd);
			return err;
		}
		off += (size_t)n;
	}
	if (lseek(fd, 0, SEEK_SET) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* Run plugin, collect stdout into *out (NUL-terminated), its exit status
 * into *status. Its stderr is ours, as the spec asks. */
static int run(const char *plugin, char **env, int in_fd, char **out, int *status)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	int pfd[2] = { -1, -1 }, err = 0;
	pid_t pid;

	if (!buf)
		return -ENOMEM;
	if (pipe2(pfd, O_CLOEXEC)) {
		err = -errno;
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		err = -errno;
		goto out;
	}
	if (pid == 0) {
		if (dup2(in_fd, STDIN_FILENO) < 0 || dup2(pfd[1], STDOUT_FILENO) < 0)
			_exit(127);
		execve(plugin, (char *const[]){ (char *)plugin, NULL }, env);
		fprintf(stderr, "tern-cni: exec %s: %s\n", plugin, strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	pfd[1] = -1;
	for (;;) {
		ssize_t n;

		if (len + 1 >= cap) {
			char *p = cap < OUT_MAX ? realloc(buf, cap * 2) : NULL;

			if (!p) {
				/* no result is this big: closing the pipe ends the child */
				err = -EFBIG;
				break;
			}
			buf = p;
			cap *= 2;
		}
		n = read(pfd[0], buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(pfd[0]);
	pfd[0] = -1;
	while (waitpid(pid, status, 0) < 0) {
		if (errno != EINTR) {
			err = err ? err : -errno;
			break;
		}
	}
	buf[len] = '\0';
out:
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	if (err) {
		free(buf);
		return err;
	}
	*out = buf;
	return 0;
}

/* The plugin failed: pass its error result on, naming it. */
static int plugin_error(const struct cni_req *r, const char *cmd, const char *out, int status,
			struct cni_error *e)
{
	struct json_object *j = json_tokener_parse(out);
	struct json_object *code, *msg, *details;
	char how[64];
	int ret;

	if (WIFEXITED(status))
		snprintf(how, sizeof(how), "exit status %d", WEXITSTATUS(status));
	else
		snprintf(how, sizeof(how), "signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	if (j && json_object_object_get_ex(j, "code", &code) &&
	    json_object_is_type(code, json_type_int)) {
		json_object_object_get_ex(j, "msg", &msg);
		json_object_object_get_ex(j, "details", &details);
		ret = cni_fail(e, json_object_get_int(code), -EIO, "IPAM plugin failed",
			       "ipam %s %s (%s): %s%s%s", r->ipam_type, cmd, how,
			       msg ? json_object_get_string(msg) : "",
			       details ? ": " : "", details ? json_object_get_string(details) : "");
		/* its msg is the short one the runtime shows */
		if (msg)
			snprintf(e->msg, sizeof(e->msg), "%s", json_object_get_string(msg));
	} else {
		ret = cni_fail(e, TERN_ERR_IPAM, -EIO, "IPAM plugin failed",
			       "ipam %s %s (%s), no error result on stdout (see stderr)%s%.200s",
			       r->ipam_type, cmd, how, *out ? ": " : "", out);
	}
	json_object_put(j);
	return ret;
}

static int result_parse(const struct cni_req *r, const char *out, struct ipam_result *res,
			struct cni_error *e)
{
	struct json_object *j = json_tokener_parse(out), *ips, *dns, *ver;
	char addr[INET6_ADDRSTRLEN + 8];
	int ret = 0;

	memset(res, 0, sizeof(*res));
	if (!j || !json_object_is_type(j, json_type_object)) {
		ret = cni_fail(e, TERN_ERR_IPAM, -EBADMSG, "IPAM plugin returned no result",
			       "ipam %s ADD: stdout is not a JSON object: %.200s", r->ipam_type,
			       out);
		goto out;
	}
	if (json_object_object_get_ex(j, "cniVersion", &ver) &&
	    strcmp(json_object_get_string(ver), r->version)) {
		ret = cni_fail(e, TERN_ERR_IPAM, -EBADMSG, "IPAM plugin returned another version",
			       "ipam %s ADD: result cniVersion \"%s\", the config's is \"%s\"",
			       r->ipam_type, json_object_get_string(ver), r->version);
		goto out;
	}
	if (!json_object_object_get_ex(j, "ips", &ips) ||
	    !json_object_is_type(ips, json_type_array) || json_object_array_length(ips) == 0) {
		ret = cni_fail(e, TERN_ERR_IPAM, -EBADMSG, "IPAM plugin returned no address",
			       "ipam %s ADD: the result has no ips", r->ipam_type);
		goto out;
	}
	for (size_t i = 0; i < json_object_array_length(ips); i++) {
		struct json_object *ip = json_object_array_get_idx(ips, i), *a;
		const char *s = NULL;
		struct cni_ip parsed;

		if (json_object_object_get_ex(ip, "address", &a))
			s = json_object_get_string(a);
		/* "10.244.1.5/24": the subnet is the IPAM's; the pod holds a /32 */
		snprintf(addr, sizeof(addr), "%s", s ? s : "");
		addr[strcspn(addr, "/")] = '\0';
		if (!s || !strchr(s, '/') || cni_ip__parse(addr, &parsed)) {
			ret = cni_fail(e, TERN_ERR_IPAM, -EBADMSG, "IPAM plugin returned a bad address",
				       "ipam %s ADD: ips[%zu].address: \"%s\": expected an "
				       "address/prefix", r->ipam_type, i, s ? s : "");
			goto out;
		}
		for (size_t k = 0; k < res->n_ips; k++) {
			if (res->ips[k].family != parsed.family)
				continue;
			ret = cni_fail(e, TERN_ERR_IPAM, -EBADMSG,
				       "IPAM plugin returned two addresses of a family",
				       "ipam %s ADD: ips[%zu] \"%s\": a pod gets one IPv4 and one "
				       "IPv6 address at most; configure one range per family",
				       r->ipam_type, i, s);
			goto out;
		}
		res->ips[res->n_ips++] = parsed;
	}
	if (json_object_object_get_ex(j, "dns", &dns) && json_object_is_type(dns, json_type_object))
		res->dns = json_object_get(dns);
out:
	json_object_put(j);
	return ret;
}

int ipam__exec(const struct cni_req *r, const char *cmd, struct ipam_result *res,
	       struct cni_error *e)
{
	char plugin[PATH_MAX], cmd_var[32];
	char **env = NULL, *out = NULL;
	int in_fd = -1, status = 0, err;

	if (plugin_find(r->path, r->ipam_type, plugin, sizeof(plugin)))
		return cni_fail(e, TERN_ERR_IPAM, -ENOENT, "IPAM plugin not found",
				"ipam.type \"%s\": no executable of that name in CNI_PATH %s",
				r->ipam_type, r->path);
	snprintf(cmd_var, sizeof(cmd_var), "CNI_COMMAND=%s", cmd);
	env = env_with_command(cmd_var);
	if (!env) {
		err = cni_fail(e, TERN_ERR_IPAM, -ENOMEM, "running the IPAM plugin", "%s",
			       strerror(ENOMEM));
		goto out;
	}
	in_fd = stdin_file(r);
	if (in_fd < 0) {
		err = cni_fail(e, TERN_ERR_IPAM, in_fd, "running the IPAM plugin",
			       "ipam %s %s: config for its stdin: %s", r->ipam_type, cmd,
			       strerror(-in_fd));
		goto out;
	}
	err = run(plugin, env, in_fd, &out, &status);
	if (err) {
		cni_fail(e, TERN_ERR_IPAM, err, "running the IPAM plugin", "ipam %s %s: %s",
			 plugin, cmd, strerror(-err));
		goto out;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		err = plugin_error(r, cmd, out, status, e);
		goto out;
	}
	if (res)
		err = result_parse(r, out, res, e);
out:
	if (in_fd >= 0)
		close(in_fd);
	free(out);
	free(env);
	return err;
}

void ipam_result__free(struct ipam_result *res)
{
	json_object_put(res->dns);
	memset(res, 0, sizeof(*res));
}
