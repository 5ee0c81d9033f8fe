/* The API server connection: the in-cluster service account, or the current
 * context of a kubeconfig read with the YAML doc parser; base64 *-data
 * decoded with OpenSSL's decoder (libcurl's TLS library already). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/evp.h>

#include "agent/doc.h"
#include "agent/kubeconfig.h"
#include "agent/log.h"

/* A kubeconfig with inline certificates is a few KiB; a token far less. */
#define KUBECONFIG_MAX_SIZE (4 << 20)
#define TOKEN_MAX_SIZE (64 << 10)

/* The whole of path, NUL-terminated, at most max bytes. 0 or -errno
 * (-EFBIG when larger). */
static int read_small(const char *path, size_t max, char **out, size_t *out_len)
{
	size_t len = 0;
	char *buf;
	ssize_t got;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf = malloc(max + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (len <= max) {
		got = read(fd, buf + len, max + 1 - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			err = -errno;
			break;
		}
		if (!got)
			break;
		len += (size_t)got;
	}
	close(fd);
	if (!err && len > max)
		err = -EFBIG;
	if (err) {
		free(buf);
		return err;
	}
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	return 0;
}

/* A token file's content without surrounding whitespace; -EINVAL when
 * empty. */
static int read_token(const char *path, char **out)
{
	size_t len, start = 0;
	char *buf;
	int err;

	err = read_small(path, TOKEN_MAX_SIZE, &buf, &len);
	if (err)
		return err;
	while (start < len && strchr(" \t\r\n", buf[start]))
		start++;
	while (len > start && strchr(" \t\r\n", buf[len - 1]))
		len--;
	if (len == start) {
		free(buf);
		return -EINVAL;
	}
	buf[len] = '\0';
	memmove(buf, buf + start, len - start + 1);
	*out = buf;
	return 0;
}

/* ---- in-cluster ---- */

int kube_conn_in_cluster(const char *sa_dir, struct kube_conn *c, char *err, size_t errlen)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	char *tok = NULL;
	int ret;

	memset(c, 0, sizeof(*c));
	if (!host || !*host || !port || !*port) {
		snprintf(err, errlen, "in-cluster config: KUBERNETES_SERVICE_HOST and "
			 "KUBERNETES_SERVICE_PORT are not set (not running in a pod?); set "
			 "datastore.kubeconfig to use a kubeconfig file instead");
		return -ENOENT;
	}
	/* an IPv6 service address needs brackets in a URL */
	if (asprintf(&c->server, strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s",
		     host, port) < 0 ||
	    asprintf(&c->ca_file, "%s/ca.crt", sa_dir) < 0 ||
	    asprintf(&c->token_file, "%s/token", sa_dir) < 0 || !(c->source = strdup("in-cluster"))) {
		ret = -ENOMEM;
		snprintf(err, errlen, "in-cluster config: out of memory");
		goto fail;
	}
	if (access(c->ca_file, R_OK)) {
		ret = -errno;
		snprintf(err, errlen, "in-cluster config: %s: %s (is the service account token "
			 "mounted? automountServiceAccountToken must not be false)", c->ca_file,
			 strerror(-ret));
		goto fail;
	}
	ret = read_token(c->token_file, &tok);
	if (ret) {
		snprintf(err, errlen, "in-cluster config: %s: %s", c->token_file,
			 ret == -EINVAL ? "empty" : strerror(-ret));
		goto fail;
	}
	c->cur_token = tok;
	return 0;
fail:
	kube_conn_free(c);
	return ret;
}

/* ---- kubeconfig ---- */

struct kc {
	const char *path;
	char *dir;          /* the kubeconfig's directory, for relative names */
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 3, 4)))
static int kc_fail(struct kc *kc, const struct doc_node *at, const char *fmt, ...)
{
	size_t off;
	va_list ap;

	if (at && at->line)
		off = snprintf(kc->err, kc->errlen, "%s:%d:%d: ", kc->path, at->line, at->col);
	else
		off = snprintf(kc->err, kc->errlen, "%s: ", kc->path);
	if (off >= kc->errlen)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(kc->err + off, kc->errlen - off, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* map[key] as a string; NULL when absent, null or "". */
static int kc_str(struct kc *kc, const struct doc_node *map, const char *key, const char *where,
		  const char **out)
{
	const struct doc_node *n = doc_get(map, key);

	*out = NULL;
	if (!n || n->type == DOC_NULL)
		return 0;
	if (n->type != DOC_SCALAR)
		return kc_fail(kc, n, "%s.%s: must be a string", where, key);
	*out = *n->str ? n->str : NULL;
	return 0;
}

/* The "field" map of the entry of list (clusters, users, contexts) whose
 * name is name; where gets its path ("users[1].user"). */
static int kc_named(struct kc *kc, const struct doc_node *root, const char *list,
		    const char *field, const char *name, const struct doc_node *from,
		    const struct doc_node **out, char *where, size_t wlen)
{
	const struct doc_node *seq = doc_get(root, list);

	if (seq && seq->type != DOC_SEQ && seq->type != DOC_NULL)
		return kc_fail(kc, seq, "%s: must be a list", list);
	for (size_t i = 0; seq && seq->type == DOC_SEQ && i < seq->n; i++) {
		const struct doc_node *e = seq->items[i], *m;

		if (e->type != DOC_MAP || !doc_str(doc_get(e, "name")) ||
		    strcmp(doc_str(doc_get(e, "name")), name))
			continue;
		m = doc_get(e, field);
		snprintf(where, wlen, "%s[%zu].%s", list, i, field);
		if (!m || m->type != DOC_MAP)
			return kc_fail(kc, m ? m : e, "%s: must be a map", where);
		*out = m;
		return 0;
	}
	return kc_fail(kc, from, "%s \"%s\" is not defined in %s", field, name, list);
}

/* A file name as written, made relative to the kubeconfig's directory. */
static int kc_file(struct kc *kc, const char *name, char **out)
{
	if (name[0] == '/')
		*out = strdup(name);
	else if (asprintf(out, "%s/%s", kc->dir, name) < 0)
		*out = NULL;
	return *out ? 0 : -ENOMEM;
}

/* map[key] base64-decoded into b. */
static int kc_base64(struct kc *kc, const struct doc_node *map, const char *key,
		     const char *where, struct kube_blob *b)
{
	const struct doc_node *n = doc_get(map, key);
	int len, fin, inlen;
	EVP_ENCODE_CTX *ctx;
	unsigned char *out;
	const char *s;
	int ret;

	if ((ret = kc_str(kc, map, key, where, &s)) || !s)
		return ret;
	inlen = (int)strlen(s);
	out = malloc((size_t)inlen / 4 * 3 + 4);
	ctx = EVP_ENCODE_CTX_new();
	if (!out || !ctx) {
		free(out);
		EVP_ENCODE_CTX_free(ctx);
		return -ENOMEM;
	}
	/* the decoder skips whitespace and newlines, as Go's does for PEM */
	EVP_DecodeInit(ctx);
	if (EVP_DecodeUpdate(ctx, out, &len, (const unsigned char *)s, inlen) < 0 ||
	    EVP_DecodeFinal(ctx, out + len, &fin) < 0 || len + fin == 0) {
		free(out);
		EVP_ENCODE_CTX_free(ctx);
		return kc_fail(kc, n, "%s.%s: not valid base64", where, key);
	}
	EVP_ENCODE_CTX_free(ctx);
	b->data = (char *)out;
	b->len = (size_t)(len + fin);
	return 0;
}

/* A file name field and its inline *-data twin: one or neither. */
static int kc_pem(struct kc *kc, const struct doc_node *map, const char *key, const char *where,
		  char **file, struct kube_blob *blob)
{
	char data_key[64];
	const char *name;
	int ret;

	snprintf(data_key, sizeof(data_key), "%s-data", key);
	if ((ret = kc_str(kc, map, key, where, &name)) ||
	    (ret = kc_base64(kc, map, data_key, where, blob)))
		return ret;
	if (name && blob->data)
		return kc_fail(kc, doc_get(map, key), "%s: set either %s or %s, not both", where,
			       key, data_key);
	return name ? kc_file(kc, name, file) : 0;
}

static int kc_cluster(struct kc *kc, const struct doc_node *cl, const char *where,
		      struct kube_conn *c)
{
	const struct doc_node *n;
	const char *server;
	size_t len;
	int ret;

	if ((ret = kc_str(kc, cl, "server", where, &server)))
		return ret;
	if (!server)
		return kc_fail(kc, cl, "%s.server: missing", where);
	if (strncmp(server, "https://", 8) && strncmp(server, "http://", 7))
		return kc_fail(kc, doc_get(cl, "server"), "%s.server: \"%s\" is not an http(s):// "
			       "URL", where, server);
	len = strlen(server);
	while (len > 8 && server[len - 1] == '/')
		len--;
	c->server = strndup(server, len);
	if (!c->server)
		return -ENOMEM;
	n = doc_get(cl, "insecure-skip-tls-verify");
	if (n && n->type != DOC_NULL && doc_bool(n, &c->insecure))
		return kc_fail(kc, n, "%s.insecure-skip-tls-verify: must be true or false", where);
	return kc_pem(kc, cl, "certificate-authority", where, &c->ca_file, &c->ca);
}

static int kc_user(struct kc *kc, const struct doc_node *u, const char *where,
		   struct kube_conn *c)
{
	static const char *const plugins[] = { "exec", "auth-provider" };
	const char *token, *token_file;
	int ret;

	for (size_t i = 0; i < sizeof(plugins) / sizeof(plugins[0]); i++) {
		const struct doc_node *n = doc_get(u, plugins[i]);

		if (n && n->type != DOC_NULL)
			return kc_fail(kc, n, "%s.%s: credential plugins are not supported; use a "
				       "client certificate or a token (a ServiceAccount's)", where,
				       plugins[i]);
	}
	if ((ret = kc_pem(kc, u, "client-certificate", where, &c->cert_file, &c->cert)) ||
	    (ret = kc_pem(kc, u, "client-key", where, &c->key_file, &c->key)) ||
	    (ret = kc_str(kc, u, "token", where, &token)) ||
	    (ret = kc_str(kc, u, "tokenFile", where, &token_file)))
		return ret;
	if (!!(c->cert_file || c->cert.data) != !!(c->key_file || c->key.data))
		return kc_fail(kc, u, "%s: a client certificate needs its key, and a key its "
			       "certificate", where);
	if (token && !(c->token = strdup(token)))
		return -ENOMEM;
	/* kubectl: a token given inline wins over tokenFile */
	if (!token && token_file) {
		if ((ret = kc_file(kc, token_file, &c->token_file)))
			return ret;
		ret = read_token(c->token_file, &c->cur_token);
		if (ret)
			return kc_fail(kc, doc_get(u, "tokenFile"), "%s.tokenFile: %s: %s", where,
				       c->token_file, ret == -EINVAL ? "empty" : strerror(-ret));
	}
	return 0;
}

int kube_conn_kubeconfig(const char *path, struct kube_conn *c, char *err, size_t errlen)
{
	struct kc kc = { .path = path, .err = err, .errlen = errlen };
	const struct doc_node *ctx, *cl, *u;
	const char *cur, *cl_name, *u_name;
	struct doc_node *root = NULL;
	struct doc_error derr;
	char where[64], *buf = NULL;
	const char *slash;
	size_t len;
	int ret;

	memset(c, 0, sizeof(*c));
	ret = read_small(path, KUBECONFIG_MAX_SIZE, &buf, &len);
	if (ret) {
		snprintf(err, errlen, "%s: %s", path, ret == -EFBIG ? "too large" : strerror(-ret));
		return ret;
	}
	slash = strrchr(path, '/');
	kc.dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
	c->source = strdup(path);
	if (!kc.dir || !c->source) {
		ret = -ENOMEM;
		goto out;
	}
	ret = doc_parse_yaml(buf, len, &root, &derr);
	if (ret == -EINVAL) {
		snprintf(err, errlen, "%s:%d:%d: %s", path, derr.line, derr.col, derr.msg);
		goto out;
	}
	if (ret)
		goto out;
	if (root->type != DOC_MAP) {
		ret = kc_fail(&kc, root, "a kubeconfig must be a map");
		goto out;
	}
	if ((ret = kc_str(&kc, root, "current-context", "", &cur)))
		goto out;
	if (!cur) {
		ret = kc_fail(&kc, root, "current-context: not set (kubectl config use-context "
			      "NAME)");
		goto out;
	}
	if ((ret = kc_named(&kc, root, "contexts", "context", cur,
			    doc_get(root, "current-context"), &ctx, where, sizeof(where))) ||
	    (ret = kc_str(&kc, ctx, "cluster", where, &cl_name)) ||
	    (ret = kc_str(&kc, ctx, "user", where, &u_name)))
		goto out;
	if (!cl_name) {
		ret = kc_fail(&kc, ctx, "%s.cluster: missing", where);
		goto out;
	}
	if ((ret = kc_named(&kc, root, "clusters", "cluster", cl_name, doc_get(ctx, "cluster"),
			    &cl, where, sizeof(where))) ||
	    (ret = kc_cluster(&kc, cl, where, c)))
		goto out;
	/* a context without a user talks to the server anonymously */
	if (u_name &&
	    ((ret = kc_named(&kc, root, "users", "user", u_name, doc_get(ctx, "user"), &u, where,
			     sizeof(where))) ||
	     (ret = kc_user(&kc, u, where, c))))
		goto out;
out:
	if (ret == -ENOMEM)
		snprintf(err, errlen, "%s: out of memory", path);
	if (ret)
		kube_conn_free(c);
	doc_free(root);
	free(kc.dir);
	free(buf);
	return ret;
}

const char *kube_conn_token(struct kube_conn *c)
{
	char *tok;
	int err;

	if (!c->token_file)
		return c->token;
	err = read_token(c->token_file, &tok);
	if (err) {
		log_warn("kubernetes: %s: %s; sending the token read before", c->token_file,
			 err == -EINVAL ? "empty" : strerror(-err));
		return c->cur_token;
	}
	if (c->cur_token && strcmp(tok, c->cur_token))
		log_info("kubernetes: %s: the token changed (rotated); using the new one",
			 c->token_file);
	free(c->cur_token);
	c->cur_token = tok;
	return tok;
}

void kube_conn_free(struct kube_conn *c)
{
	free(c->source);
	free(c->server);
	free(c->ca_file);
	free(c->ca.data);
	free(c->cert_file);
	free(c->cert.data);
	free(c->key_file);
	free(c->key.data);
	free(c->token);
	free(c->token_file);
	free(c->cur_token);
	memset(c, 0, sizeof(*c));
}
