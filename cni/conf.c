/* The CNI request: CNI_* environment variables, CNI_ARGS, and the network
 * config read from stdin, validated with the spec's error codes; and how
 * addresses are written in results and messages. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/naming.h"
#include "cni/cni.h"

/* A network config is a few hundred bytes; this is far beyond any. */
#define STDIN_MAX (1 << 20)
#define PREFIX_MAX (IFNAMSIZ - 1 - TERN_IFNAME_HASH_LEN)
#define PIN_PATH_MAX (PATH_MAX - 64)

static int vfail(struct cni_error *e, int code, int err, const char *msg, const char *fmt,
		 va_list ap)
{
	e->code = code;
	snprintf(e->msg, sizeof(e->msg), "%s", msg);
	vsnprintf(e->details, sizeof(e->details), fmt, ap);
	return err;
}

int cni_fail(struct cni_error *e, int code, int err, const char *msg, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err = vfail(e, code, err, msg, fmt, ap);
	va_end(ap);
	return err;
}

__attribute__((format(printf, 2, 3)))
static int env_fail(struct cni_error *e, const char *fmt, ...)
{
	va_list ap;
	int err;

	va_start(ap, fmt);
	err = vfail(e, CNI_ERR_ENV, -EINVAL, "invalid environment variables", fmt, ap);
	va_end(ap);
	return err;
}

__attribute__((format(printf, 2, 3)))
static int conf_fail(struct cni_error *e, const char *fmt, ...)
{
	va_list ap;
	int err;

	va_start(ap, fmt);
	err = vfail(e, CNI_ERR_CONFIG, -EINVAL, "invalid network config", fmt, ap);
	va_end(ap);
	return err;
}

/* The spec's rule for container IDs and network names: an alphanumeric,
 * then alphanumerics, '_', '.' or '-'. */
static bool id_ok(const char *s)
{
	if (!isalnum((unsigned char)*s))
		return false;
	for (s++; *s; s++) {
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.' && *s != '-')
			return false;
	}
	return true;
}

/* The kernel's rules for a name it accepts (dev_valid_name). */
static bool ifname_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= IFNAMSIZ || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (; *s; s++) {
		if (*s == '/' || *s == ':' || isspace((unsigned char)*s))
			return false;
	}
	return true;
}

static int read_stdin(struct cni_req *r, struct cni_error *e)
{
	size_t cap = 4096;
	char *buf = NULL, *p;
	ssize_t n;

	for (;;) {
		if (!buf || r->stdin_len + 1 >= cap) {
			if (buf)
				cap *= 2;
			if (cap > STDIN_MAX) {
				free(buf);
				return cni_fail(e, CNI_ERR_IO, -EFBIG, "reading the network config",
						"stdin: more than %d bytes", STDIN_MAX);
			}
			p = realloc(buf, cap);
			if (!p) {
				free(buf);
				return cni_fail(e, CNI_ERR_IO, -ENOMEM, "reading the network config",
						"stdin: %s", strerror(ENOMEM));
			}
			buf = p;
		}
		n = read(STDIN_FILENO, buf + r->stdin_len, cap - r->stdin_len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = -errno;

			free(buf);
			return cni_fail(e, CNI_ERR_IO, err, "reading the network config",
					"stdin: %s", strerror(-err));
		}
		if (n == 0)
			break;
		r->stdin_len += (size_t)n;
	}
	buf[r->stdin_len] = '\0';
	r->stdin_buf = buf;
	return 0;
}

/* The whole of stdin as one JSON object; nothing may follow it. */
static int parse_json(struct cni_req *r, struct cni_error *e)
{
	struct json_tokener *tok = json_tokener_new();
	enum json_tokener_error jerr;
	size_t used;

	if (!tok)
		return cni_fail(e, CNI_ERR_IO, -ENOMEM, "decoding the network config", "%s",
				strerror(ENOMEM));
	r->conf = json_tokener_parse_ex(tok, r->stdin_buf, (int)r->stdin_len);
	jerr = json_tokener_get_error(tok);
	used = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (jerr == json_tokener_continue)
		return cni_fail(e, CNI_ERR_DECODE, -EINVAL, "decoding the network config",
				"stdin: the JSON ends early");
	if (jerr != json_tokener_success)
		return cni_fail(e, CNI_ERR_DECODE, -EINVAL, "decoding the network config",
				"stdin: at byte %zu: %s", used, json_tokener_error_desc(jerr));
	for (; used < r->stdin_len; used++) {
		if (!isspace((unsigned char)r->stdin_buf[used]))
			return cni_fail(e, CNI_ERR_DECODE, -EINVAL, "decoding the network config",
					"stdin: unexpected text after the JSON at byte %zu", used);
	}
	if (!json_object_is_type(r->conf, json_type_object))
		return cni_fail(e, CNI_ERR_DECODE, -EINVAL, "decoding the network config",
				"stdin: expected a JSON object");
	return 0;
}

/* A string member: 0 with *out set; -ENOENT when absent (or null);
 * -EINVAL with e when not a string. */
static int get_str(struct json_object *o, const char *key, const char *where, const char **out,
		   struct cni_error *e)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !v)
		return -ENOENT;
	if (!json_object_is_type(v, json_type_string))
		return conf_fail(e, "%s%s: expected a string, got %s", where, key,
				 json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
	*out = json_object_get_string(v);
	return 0;
}

static int need_str(struct json_object *o, const char *key, const char *where, const char **out,
		    struct cni_error *e)
{
	int err = get_str(o, key, where, out, e);

	if (err == -ENOENT)
		return conf_fail(e, "%s%s: missing", where, key);
	if (!err && !**out)
		return conf_fail(e, "%s%s: must not be empty", where, key);
	return err;
}

static bool is_plugin_name(const char *s)
{
	return *s && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}

/* Keys tern-cni reads, and the ones the protocol or runtimes add that it
 * accepts and ignores; any other key is a typo or an unsupported feature. */
static const char *const known_keys[] = {
	"cniVersion", "name", "type", "ipam", "dns", "mtu", "workloadInterfacePrefix",
	"bpfPinPath", "prevResult", "runtimeConfig", "args", "capabilities", "ipMasq", NULL,
};

static int check_keys(struct cni_req *r, struct cni_error *e)
{
	json_object_object_foreach(r->conf, key, val) {
		size_t i = 0;

		while (known_keys[i] && strcmp(known_keys[i], key))
			i++;
		/* cni.dev/ is reserved for runtimes */
		if (known_keys[i] || !strncmp(key, "cni.dev/", 8))
			continue;
		return cni_fail(e, CNI_ERR_UNSUPPORTED, -EINVAL, "unsupported field in network config",
				"%s: %s: tern-cni does not know this key (its keys: mtu, "
				"workloadInterfacePrefix, bpfPinPath, ipam, dns)", key,
				json_object_to_json_string_ext(val, JSON_C_TO_STRING_PLAIN));
	}
	return 0;
}

static int parse_conf(struct cni_req *r, struct cni_error *e)
{
	struct json_object *ipam, *v;
	const char *name, *type;
	int err;

	err = check_keys(r, e);
	if (err)
		return err;
	if ((err = need_str(r->conf, "name", "", &name, e)) ||
	    (err = need_str(r->conf, "type", "", &type, e)))
		return err;
	if (!id_ok(name))
		return conf_fail(e, "name: \"%s\": expected an alphanumeric, then alphanumerics, "
				 "'_', '.' or '-'", name);
	if (!json_object_object_get_ex(r->conf, "ipam", &ipam) ||
	    !json_object_is_type(ipam, json_type_object))
		return conf_fail(e, "ipam: missing, or not an object: tern-cni delegates address "
				 "allocation to an IPAM plugin (e.g. {\"type\": \"host-local\", ...})");
	if ((err = need_str(ipam, "type", "ipam.", &r->ipam_type, e)))
		return err;
	if (!is_plugin_name(r->ipam_type))
		return conf_fail(e, "ipam.type: \"%s\": expected a plugin name, not a path",
				 r->ipam_type);

	r->prefix = "tern";
	err = get_str(r->conf, "workloadInterfacePrefix", "", &r->prefix, e);
	if (err && err != -ENOENT)
		return err;
	if (strlen(r->prefix) < 1 || strlen(r->prefix) > PREFIX_MAX || !ifname_ok(r->prefix))
		return conf_fail(e, "workloadInterfacePrefix: \"%s\": expected 1..%d characters, "
				 "no '/', ':' or whitespace (it must equal ternd's "
				 "bpf.workloadInterfacePrefix)", r->prefix, PREFIX_MAX);

	r->pin_path = "/sys/fs/bpf/tern";
	err = get_str(r->conf, "bpfPinPath", "", &r->pin_path, e);
	if (err && err != -ENOENT)
		return err;
	/* room for links/tc-out/<ifname> below it */
	if (r->pin_path[0] != '/' || strlen(r->pin_path) > PIN_PATH_MAX)
		return conf_fail(e, "bpfPinPath: \"%s\": expected an absolute path of at most %d "
				 "characters (ternd's bpf.pinPath, as the host sees it)",
				 r->pin_path, PIN_PATH_MAX);

	r->mtu = 1500;
	if (json_object_object_get_ex(r->conf, "mtu", &v) && v) {
		int64_t mtu = json_object_get_int64(v);

		if (!json_object_is_type(v, json_type_int) || mtu < 68 || mtu > 65535)
			return conf_fail(e, "mtu: expected an integer in 68..65535, got %s",
					 json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
		r->mtu = (int)mtu;
	}
	if (json_object_object_get_ex(r->conf, "ipMasq", &v) && json_object_get_boolean(v))
		return cni_fail(e, CNI_ERR_UNSUPPORTED, -EINVAL, "unsupported field in network config",
				"ipMasq: true: tern masquerades in its dataplane, not per "
				"network; leave ipMasq out");
	if (json_object_object_get_ex(r->conf, "dns", &v) && v &&
	    !json_object_is_type(v, json_type_object))
		return conf_fail(e, "dns: expected an object");
	if (json_object_object_get_ex(r->conf, "prevResult", &v) && v) {
		if (!json_object_is_type(v, json_type_object))
			return conf_fail(e, "prevResult: expected an object");
		r->prev = v;
	}
	return 0;
}

/* K8S_POD_NAMESPACE and K8S_POD_NAME from "K1=V1;K2=V2"; the rest (the
 * pod's UID, the sandbox ID, IgnoreUnknown) is not tern-cni's. */
static int parse_args(struct cni_req *r, const char *args, struct cni_error *e)
{
	const char *p = args;

	while (p && *p) {
		const char *end = strchr(p, ';'), *eq;
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char *dst = NULL;
		size_t klen;

		eq = memchr(p, '=', len);
		if (!eq)
			return env_fail(e, "CNI_ARGS: \"%.*s\": expected KEY=VALUE pairs separated "
					"by ';'", (int)len, p);
		klen = (size_t)(eq - p);
		if (klen == 17 && !strncmp(p, "K8S_POD_NAMESPACE", klen))
			dst = r->pod_ns;
		else if (klen == 12 && !strncmp(p, "K8S_POD_NAME", klen))
			dst = r->pod_name;
		if (dst) {
			size_t vlen = len - klen - 1;

			if (vlen >= sizeof(r->pod_ns))
				return env_fail(e, "CNI_ARGS: %.*s: longer than a Kubernetes name",
						(int)klen, p);
			memcpy(dst, eq + 1, vlen);
			dst[vlen] = '\0';
		}
		p = end ? end + 1 : NULL;
	}
	return 0;
}

static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

static int load_env(struct cni_req *r, struct cni_error *e)
{
	bool need_pod = r->cmd == CNI_ADD || r->cmd == CNI_CHECK;
	int err;

	r->container_id = env("CNI_CONTAINERID");
	r->netns = env("CNI_NETNS");
	r->ifname = env("CNI_IFNAME");
	r->path = env("CNI_PATH");
	if (!r->container_id)
		return env_fail(e, "CNI_CONTAINERID: not set");
	if (!id_ok(r->container_id))
		return env_fail(e, "CNI_CONTAINERID: \"%s\": expected an alphanumeric, then "
				"alphanumerics, '_', '.' or '-'", r->container_id);
	if (!r->netns && need_pod)
		return env_fail(e, "CNI_NETNS: not set");
	if (!r->ifname)
		return env_fail(e, "CNI_IFNAME: not set");
	if (!ifname_ok(r->ifname))
		return env_fail(e, "CNI_IFNAME: \"%s\": not a valid interface name", r->ifname);
	if (!r->path)
		return env_fail(e, "CNI_PATH: not set (tern-cni finds the IPAM plugin there)");
	err = parse_args(r, getenv("CNI_ARGS"), e);
	if (err)
		return err;
	/* DEL needs the host-side name only to unpin the pod's links;
	 * without the pod in CNI_ARGS (Kubernetes runtimes always pass it)
	 * they stay until ternd or the pod's next ADD finds them stale */
	if (!need_pod && (!r->prefix || !r->pod_ns[0] || !r->pod_name[0]))
		return 0;
	if (!r->pod_ns[0] || !r->pod_name[0])
		return env_fail(e, "CNI_ARGS: K8S_POD_NAMESPACE and K8S_POD_NAME are needed: the "
				"host-side interface is named after the pod (got \"%s\")",
				getenv("CNI_ARGS") ? getenv("CNI_ARGS") : "");
	err = workload_ifname(r->prefix, r->pod_ns, r->pod_name, r->host_ifname,
			      sizeof(r->host_ifname));
	if (err)
		return env_fail(e, "CNI_ARGS: cannot name the interface of pod %s/%s: %s",
				r->pod_ns, r->pod_name, strerror(-err));
	return 0;
}

static const struct {
	const char *name;
	enum cni_cmd cmd;
} commands[] = {
	{ "ADD", CNI_ADD },
	{ "DEL", CNI_DEL },
	{ "CHECK", CNI_CHECK },
	{ "VERSION", CNI_VERSION_CMD },
};

int cni_req__load(struct cni_req *r, struct cni_error *e)
{
	const char *cmd = env("CNI_COMMAND");
	int err;

	memset(r, 0, sizeof(*r));
	r->version = CNI_VERSION;
	if (!cmd)
		return env_fail(e, "CNI_COMMAND: not set (ADD, DEL, CHECK or VERSION)");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (!strcmp(commands[i].name, cmd))
			r->cmd = commands[i].cmd;
	}
	if (!r->cmd)
		return env_fail(e, "CNI_COMMAND: \"%s\": expected ADD, DEL, CHECK or VERSION", cmd);

	err = read_stdin(r, e);
	if (err)
		return err;
	/* VERSION may come with nothing on stdin */
	if (r->cmd == CNI_VERSION_CMD && strspn(r->stdin_buf, " \t\r\n") == r->stdin_len)
		return 0;
	err = parse_json(r, e);
	if (err)
		return err;
	err = need_str(r->conf, "cniVersion", "", &r->version, e);
	if (err) {
		r->version = CNI_VERSION;
		return err;
	}
	if (r->cmd == CNI_VERSION_CMD)
		return 0;
	if (strcmp(r->version, CNI_VERSION))
		err = cni_fail(e, CNI_ERR_VERSION, -EINVAL, "incompatible CNI version",
			       "cniVersion \"%s\": tern-cni implements %s", r->version,
			       CNI_VERSION);
	else
		err = parse_conf(r, e);
	/* ADD validates the whole config before it creates or allocates
	 * anything, so under this config it made nothing: DEL, which the
	 * runtime retries until it succeeds, looks for the pod's interface
	 * only and has no address to release. */
	if (err == -EINVAL && r->cmd == CNI_DEL) {
		fprintf(stderr, "tern-cni: DEL: %s: %s; nothing was allocated under it\n", e->msg,
			e->details);
		r->ipam_type = NULL;
		r->prefix = NULL;
		r->pin_path = NULL;
		err = 0;
	}
	if (!err)
		err = load_env(r, e);
	return err;
}

void cni_req__free(struct cni_req *r)
{
	json_object_put(r->conf);
	free(r->stdin_buf);
	memset(r, 0, sizeof(*r));
}

int cni_ip__parse(const char *s, struct cni_ip *ip)
{
	memset(ip, 0, sizeof(*ip));
	if (inet_pton(AF_INET, s, ip->addr) == 1) {
		ip->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, ip->addr) == 1) {
		ip->family = AF_INET6;
		return 0;
	}
	return -EINVAL;
}

const char *cni_ip__str(const struct cni_ip *ip, char *buf, size_t len)
{
	if (!inet_ntop(ip->family, ip->addr, buf, (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

const char *cni_mac__str(const uint8_t m[6], char *buf, size_t len)
{
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
	return buf;
}
