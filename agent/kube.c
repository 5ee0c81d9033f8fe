/* The Kubernetes datastore: one watcher per kind, each a small state
 * machine (list, page by page -> watch from the list's resourceVersion ->
 * on 410 Gone list again), over libcurl's multi interface. libcurl tells us
 * which sockets to wait on and when its next timeout is; we keep those in a
 * private epoll fd (with a timerfd) that ternd's loop polls like any other
 * fd, so the agent stays one thread. json-c's incremental tokener cuts the
 * watch stream into events however the bytes arrive.
 *
 * What each watcher guarantees the model:
 * - a list is applied only once complete (all pages), and only as a
 *   difference: objects equal to the model's are not touched (model_upsert
 *   says so), objects the model has and the list lacks are deleted;
 * - a watch resumes from the last resourceVersion seen (event or bookmark)
 *   after a broken stream, so nothing is missed or replayed twice; only when
 *   the server no longer has that version (410) does it list again;
 * - an object that does not decode is logged and skipped; if the model has
 *   a good version of it, that version stays (dropping a policy because a
 *   newer one is unreadable would open the pods it isolates). */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>
#include <json-c/json.h>

#include "agent/doc_json.h"
#include "agent/kube.h"
#include "agent/kubeconfig.h"
#include "agent/log.h"

#define LIST_PAGE_SIZE 500
/* Reconnects wait base * 2^failures, capped, with half of it random: a
 * restarted API server is not hit by every node at the same instant. */
#define BACKOFF_BASE_MS 250
#define BACKOFF_CAP_MS 30000
/* Watches are renewed every 5..10 minutes (as client-go does), so a
 * half-dead connection the kernel has not noticed is not trusted forever. */
#define WATCH_MIN_S 300
#define WATCH_MAX_S 600
#define CONNECT_TIMEOUT_MS 10000
#define LIST_TIMEOUT_S 120
#define MAX_PAGE_BYTES (256UL << 20)
#define MAX_EVENT_BYTES (64UL << 20)
#define MAX_ERROR_BYTES (64UL << 10)

/* The resources ternd reads; RBAC must allow list and watch on each. */
struct kind_desc {
	enum k8s_kind kind;
	const char *resource;     /* the URL's plural, and the name in logs */
	const char *api_version;
	const char *path;
};

static const struct kind_desc kinds[] = {
	{ K8S_NAMESPACE, "namespaces", "v1", "/api/v1/namespaces" },
	{ K8S_NODE, "nodes", "v1", "/api/v1/nodes" },
	{ K8S_POD, "pods", "v1", "/api/v1/pods" },
	{ K8S_SERVICE, "services", "v1", "/api/v1/services" },
	{ K8S_ENDPOINTSLICE, "endpointslices", "discovery.k8s.io/v1",
	  "/apis/discovery.k8s.io/v1/endpointslices" },
	{ K8S_NETWORKPOLICY, "networkpolicies", "networking.k8s.io/v1",
	  "/apis/networking.k8s.io/v1/networkpolicies" },
};

#define N_KINDS (sizeof(kinds) / sizeof(kinds[0]))

struct buf {
	char *p;
	size_t len, cap;
};

enum phase {
	PH_WAIT,   /* nothing in flight; retry_at says when to go on */
	PH_LIST,   /* a list page is in flight */
	PH_WATCH,  /* a watch is streaming */
};

/* An item of a list: its model key, and the object when it decoded. */
struct listed {
	char *key;                  /* "ns/name" ('/' is in neither) */
	struct k8s_object *obj;     /* NULL: a bad item, logged */
};

struct kube_ds;

struct watcher {
	struct kube_ds *k;
	const struct kind_desc *d;
	enum phase phase;
	CURL *easy;                 /* the request in flight, or NULL */
	struct curl_slist *hdrs;
	char errbuf[CURL_ERROR_SIZE];
	char why[512];              /* why our own callback stopped a transfer */
	int64_t started;            /* ms: when the request began */
	char *rv;                   /* the resourceVersion to resume from */
	int need_list;              /* the next request is a list */
	int synced;                 /* listed completely at least once */
	/* a list in progress */
	char *cont;                 /* the next page's continue token */
	char *list_rv;
	unsigned pages;
	struct listed *items;       /* every page's items so far */
	size_t n_items, cap_items;
	unsigned bad;
	struct buf body;            /* a list page, or an error's Status */
	/* a watch in progress */
	struct json_tokener *tok;
	size_t pending;             /* bytes of the event being read */
	unsigned events;
	int relist;                 /* the server said 410: list again */
	/* retrying */
	unsigned failures;          /* in a row: the backoff's exponent */
	int64_t retry_at;
};

struct kube_ds {
	struct model *m;
	struct kube_conn conn;
	CURLM *multi;
	int epfd;                   /* curl's sockets and tfd */
	int tfd;                    /* curl's timeout and the retries */
	int64_t curl_deadline;      /* ms; -1: none */
	unsigned seed;              /* for the backoff's jitter */
	int changes;                /* model changes in this kube_ds_process */
	int synced;
	struct watcher w[N_KINDS];
};

static void watcher_start(struct watcher *w);

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int buf_append(struct buf *b, const char *p, size_t len, size_t max)
{
	size_t cap = b->cap ? b->cap : 16384;
	char *grown;

	if (b->len + len + 1 > max)
		return -EFBIG;
	while (cap < b->len + len + 1)
		cap *= 2;
	if (cap != b->cap) {
		grown = realloc(b->p, cap);
		if (!grown)
			return -ENOMEM;
		b->p = grown;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, len);
	b->len += len;
	b->p[b->len] = '\0';
	return 0;
}

static void buf_reset(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static void set_str(char **dst, const char *src)
{
	char *s = src ? strdup(src) : NULL;

	/* on ENOMEM keep the old value: a stale resume point only costs a
	 * relist, never a wrong model */
	if (src && !s)
		return;
	free(*dst);
	*dst = s;
}

/* ---- JSON helpers ---- */

static struct json_object *jget(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

/* o[key] when it is a string, else NULL. */
static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v = jget(o, key);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static const char *meta_str(struct json_object *o, const char *key)
{
	return jstr(jget(o, "metadata"), key);
}

/* One whole JSON text; NULL with why filled when malformed. */
static struct json_object *json_parse(const char *p, size_t len, char *why, size_t wlen)
{
	struct json_tokener *tok = json_tokener_new_ex(DOC_JSON_MAX_DEPTH);
	struct json_object *o;

	if (!tok) {
		snprintf(why, wlen, "out of memory");
		return NULL;
	}
	o = json_tokener_parse_ex(tok, p, (int)len);
	if (!o)
		snprintf(why, wlen, "malformed JSON: %s",
			 json_tokener_get_error(tok) == json_tokener_continue ?
			 "unexpected end" : json_tokener_error_desc(json_tokener_get_error(tok)));
	json_tokener_free(tok);
	return o;
}

/* ---- objects ---- */

/* The model's key of an API object, "ns/name" ('/' is in neither). */
static char *object_key(struct json_object *o)
{
	const char *ns = meta_str(o, "namespace"), *name = meta_str(o, "name");
	char *key;

	if (!name || !*name)
		return NULL;
	return asprintf(&key, "%s/%s", ns ? ns : "", name) < 0 ? NULL : key;
}

/* Decode an API object of w's kind; -EINVAL with why set when it is bad. */
static int object_decode(struct watcher *w, struct json_object *j, struct k8s_object **out,
			 char *why, size_t wlen)
{
	struct doc_node *doc = NULL;
	struct doc_error err;
	int ret;

	*out = NULL;
	/* a list's items leave out kind and apiVersion: they are the list's */
	if ((!jget(j, "kind") &&
	     json_object_object_add(j, "kind", json_object_new_string(k8s_kind_name(w->d->kind)))) ||
	    (!jget(j, "apiVersion") &&
	     json_object_object_add(j, "apiVersion", json_object_new_string(w->d->api_version))))
		return -ENOMEM;
	ret = doc_from_json(j, &doc, &err);
	if (!ret)
		ret = k8s_decode(doc, out, &err);
	doc_free(doc);
	if (ret == 1 || (!ret && (*out)->kind != w->d->kind)) {
		snprintf(why, wlen, "%s %s/%s: not a %s", jstr(j, "kind"),
			 meta_str(j, "namespace") ? meta_str(j, "namespace") : "",
			 meta_str(j, "name") ? meta_str(j, "name") : "", k8s_kind_name(w->d->kind));
		k8s_object_free(*out);
		*out = NULL;
		return -EINVAL;
	}
	if (ret)
		snprintf(why, wlen, "%s", err.msg);
	return ret;
}

static void count_change(struct kube_ds *k, int ret)
{
	if (ret > 0)
		k->changes += ret;
}

/* ADDED or MODIFIED. */
static void object_apply(struct watcher *w, struct json_object *j, const char *type)
{
	struct kube_ds *k = w->k;
	const char *ns = meta_str(j, "namespace"), *name = meta_str(j, "name");
	struct k8s_object *o;
	char why[512];
	int ret;

	ret = object_decode(w, j, &o, why, sizeof(why));
	if (ret == -EINVAL) {
		if (name && model_get(k->m, w->d->kind, ns ? ns : "", name))
			log_warn("kubernetes: %s: %s: %s; keeping its last good version",
				 w->d->resource, type, why);
		else
			log_warn("kubernetes: %s: %s: %s; skipped", w->d->resource, type, why);
		return;
	}
	if (ret) {
		log_error("kubernetes: %s: %s: out of memory", w->d->resource, type);
		return;
	}
	ret = model_upsert(k->m, o);
	if (ret < 0)
		log_error("kubernetes: %s: %s: %s", w->d->resource, type, strerror(-ret));
	count_change(k, ret);
	log_debug("kubernetes: %s: %s %s%s%s%s", w->d->resource, type, ns ? ns : "",
		  ns ? "/" : "", name, ret == 0 ? " (unchanged)" : "");
}

static void object_delete(struct watcher *w, struct json_object *j)
{
	const char *ns = meta_str(j, "namespace"), *name = meta_str(j, "name");

	if (!name) {
		log_warn("kubernetes: %s: DELETED event without metadata.name; ignored",
			 w->d->resource);
		return;
	}
	count_change(w->k, model_delete(w->k->m, w->d->kind, ns ? ns : "", name));
	log_debug("kubernetes: %s: DELETED %s%s%s", w->d->resource, ns ? ns : "", ns ? "/" : "",
		  name);
}

/* ---- requests ---- */

static size_t on_data(char *p, size_t size, size_t n, void *arg);

/* base + each query item ("key=value"), the values URL-encoded. */
static char *url_new(const char *base, const char *const *query, size_t n_query)
{
	CURLU *u = curl_url();
	char *s = NULL, *url = NULL;

	if (!u || curl_url_set(u, CURLUPART_URL, base, 0))
		goto out;
	for (size_t i = 0; i < n_query; i++)
		if (curl_url_set(u, CURLUPART_QUERY, query[i], CURLU_APPENDQUERY | CURLU_URLENCODE))
			goto out;
	if (curl_url_get(u, CURLUPART_URL, &s, 0) == CURLUE_OK)
		url = strdup(s);
out:
	curl_free(s);
	curl_url_cleanup(u);
	return url;
}

/* Inline PEM for curl, which copies it. */
static CURLcode set_blob(CURL *e, CURLoption opt, const struct kube_blob *b)
{
	struct curl_blob blob = { .data = b->data, .len = b->len, .flags = CURL_BLOB_COPY };

	return curl_easy_setopt(e, opt, &blob);
}

/* TLS and auth: the options whose failure means the request must not go. */
static CURLcode request_secure(struct kube_ds *k, CURL *e)
{
	struct kube_conn *c = &k->conn;
	const char *token = kube_conn_token(c);
	CURLcode rc = CURLE_OK;

	if (c->ca_file)
		rc = curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
	else if (c->ca.data)
		rc = set_blob(e, CURLOPT_CAINFO_BLOB, &c->ca);
	if (!rc && c->cert_file)
		rc = curl_easy_setopt(e, CURLOPT_SSLCERT, c->cert_file);
	else if (!rc && c->cert.data)
		rc = set_blob(e, CURLOPT_SSLCERT_BLOB, &c->cert);
	if (!rc && c->key_file)
		rc = curl_easy_setopt(e, CURLOPT_SSLKEY, c->key_file);
	else if (!rc && c->key.data)
		rc = set_blob(e, CURLOPT_SSLKEY_BLOB, &c->key);
	if (!rc && c->insecure) {
		rc = curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		if (!rc)
			rc = curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (!rc && token) {
		rc = curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
		if (!rc)
			rc = curl_easy_setopt(e, CURLOPT_XOAUTH2_BEARER, token);
	}
	return rc;
}

/* Send GET url for w; the answer arrives in on_data and watcher_done. 0,
 * or -errno (w then retries later). */
static int request_start(struct watcher *w, const char *url, long timeout_s)
{
	struct kube_ds *k = w->k;
	CURLcode rc;
	CURL *e;

	w->errbuf[0] = w->why[0] = '\0';
	buf_reset(&w->body);
	e = curl_easy_init();
	w->hdrs = curl_slist_append(NULL, "Accept: application/json");
	if (!e || !w->hdrs) {
		snprintf(w->why, sizeof(w->why), "out of memory");
		goto fail;
	}
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, w);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, w);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, w->hdrs);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "ternd");
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, w->errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	/* the API server gzips large lists when asked */
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	/* over HTTP/2 every watch shares one connection */
	curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_TIMEOUT_MS);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, timeout_s);
	/* a watch is quiet for minutes: keepalives find a dead peer */
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 10L);
	rc = request_secure(k, e);
	if (rc) {
		snprintf(w->why, sizeof(w->why), "TLS or auth setup: %s", curl_easy_strerror(rc));
		goto fail;
	}
	if (curl_multi_add_handle(k->multi, e)) {
		snprintf(w->why, sizeof(w->why), "out of memory");
		goto fail;
	}
	w->easy = e;
	w->started = now_ms();
	return 0;
fail:
	curl_easy_cleanup(e);
	curl_slist_free_all(w->hdrs);
	w->hdrs = NULL;
	return -ENOMEM;
}

static void request_end(struct watcher *w)
{
	if (w->easy) {
		curl_multi_remove_handle(w->k->multi, w->easy);
		curl_easy_cleanup(w->easy);
		w->easy = NULL;
	}
	curl_slist_free_all(w->hdrs);
	w->hdrs = NULL;
}

/* ---- retrying ---- */

/* Wait (capped, jittered exponential backoff), then go on where w was. */
__attribute__((format(printf, 2, 3)))
static void watcher_retry(struct watcher *w, const char *fmt, ...)
{
	unsigned shift = w->failures < 16 ? w->failures : 16;
	int64_t delay = (int64_t)BACKOFF_BASE_MS << shift;
	char msg[768];
	va_list ap;

	if (delay > BACKOFF_CAP_MS)
		delay = BACKOFF_CAP_MS;
	delay = delay / 2 + rand_r(&w->k->seed) % (delay / 2 + 1);
	w->failures++;
	w->phase = PH_WAIT;
	w->retry_at = now_ms() + delay;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (w->need_list)
		log_warn("kubernetes: %s: %s; listing again in %.1fs (attempt %u)", w->d->resource,
			 msg, delay / 1000.0, w->failures + 1);
	else
		log_warn("kubernetes: %s: %s; resuming the watch from resourceVersion %s in %.1fs "
			 "(attempt %u)", w->d->resource, msg, w->rv, delay / 1000.0, w->failures + 1);
}

/* Why a transfer failed: our own reason, else curl's. */
static const char *transfer_error(struct watcher *w, CURLcode res)
{
	if (w->why[0])
		return w->why;
	return w->errbuf[0] ? w->errbuf : curl_easy_strerror(res);
}

/* What to tell an operator about a status code. */
static const char *status_hint(long code)
{
	switch (code) {
	case 401:
		return " (the token or client certificate was rejected: expired, rotated or "
		       "revoked; a token file is re-read before each try)";
	case 403:
		return " (RBAC: ternd's ClusterRole needs list and watch on this resource)";
	case 404:
		return " (the API server does not serve this resource: Kubernetes 1.21 or newer "
		       "is needed)";
	case 429:
		return " (the API server is throttling)";
	}
	return "";
}

/* A failed HTTP status: the Status object's message when there is one. */
static void watcher_fail_status(struct watcher *w, const char *what, long code)
{
	struct json_object *st = NULL;
	const char *msg = NULL;
	char why[128];

	if (w->body.len)
		st = json_parse(w->body.p, w->body.len, why, sizeof(why));
	msg = jstr(st, "message");
	watcher_retry(w, "%s: HTTP %ld%s%s%s", what, code, msg ? ": " : "", msg ? msg : "",
		      status_hint(code));
	json_object_put(st);
}

/* ---- listing ---- */

static void list_reset(struct watcher *w)
{
	for (size_t i = 0; i < w->n_items; i++) {
		free(w->items[i].key);
		k8s_object_free(w->items[i].obj);
	}
	free(w->items);
	w->items = NULL;
	w->n_items = w->cap_items = 0;
	w->pages = w->bad = 0;
	set_str(&w->cont, NULL);
	set_str(&w->list_rv, NULL);
}

/* Request the next page (the first when no continue token is held). */
static void list_start(struct watcher *w)
{
	char limit[32], *base = NULL, *cont = NULL, *url = NULL;
	const char *query[2] = { limit };
	size_t n_query = 1;

	if (!w->cont)
		list_reset(w);
	w->need_list = 1;
	w->phase = PH_LIST;
	snprintf(limit, sizeof(limit), "limit=%d", LIST_PAGE_SIZE);
	if (w->cont && asprintf(&cont, "continue=%s", w->cont) >= 0)
		query[n_query++] = cont;
	if ((!w->cont || cont) && asprintf(&base, "%s%s", w->k->conn.server, w->d->path) >= 0)
		url = url_new(base, query, n_query);
	if (!url)
		snprintf(w->why, sizeof(w->why), "out of memory");
	if (!url || request_start(w, url, LIST_TIMEOUT_S)) {
		list_reset(w);
		watcher_retry(w, "list: %s", w->why);
	}
	free(url);
	free(base);
	free(cont);
}

/* Room for one more listed item: the new, empty one, or NULL. */
static struct listed *listed_push(struct watcher *w)
{
	if (w->n_items == w->cap_items) {
		size_t cap = w->cap_items ? 2 * w->cap_items : 256;
		struct listed *grown = realloc(w->items, cap * sizeof(*grown));

		if (!grown)
			return NULL;
		w->items = grown;
		w->cap_items = cap;
	}
	w->items[w->n_items] = (struct listed){ 0 };
	return &w->items[w->n_items++];
}

/* Take in one page: its items (decoded, or logged when bad), its
 * resourceVersion and continue token. 0, or -EINVAL/-ENOMEM with why. */
static int list_page(struct watcher *w)
{
	struct json_object *root, *items;
	const char *rv, *cont;
	char why[512];
	int ret = 0;

	w->pages++;
	root = json_parse(w->body.p, w->body.len, w->why, sizeof(w->why));
	if (!root)
		return -EINVAL;
	rv = meta_str(root, "resourceVersion");
	cont = meta_str(root, "continue");
	items = jget(root, "items");
	if (!rv || !*rv || (items && !json_object_is_type(items, json_type_array) &&
			    !json_object_is_type(items, json_type_null))) {
		snprintf(w->why, sizeof(w->why), "not a %sList: no metadata.resourceVersion or "
			 "items", k8s_kind_name(w->d->kind));
		ret = -EINVAL;
		goto out;
	}
	for (size_t i = 0; items && i < json_object_array_length(items); i++) {
		struct json_object *j = json_object_array_get_idx(items, i);
		char *key = object_key(j);
		struct listed *it;

		if (!key) {
			log_warn("kubernetes: %s: list item %zu has no metadata.name; skipped",
				 w->d->resource, i);
			continue;
		}
		it = listed_push(w);
		if (!it) {
			free(key);
			ret = -ENOMEM;
			break;
		}
		it->key = key;
		ret = object_decode(w, j, &it->obj, why, sizeof(why));
		if (ret == -EINVAL) {
			w->bad++;
			log_warn("kubernetes: %s: %s; skipped%s", w->d->resource, why,
				 model_get(w->k->m, w->d->kind, meta_str(j, "namespace") ?
					   meta_str(j, "namespace") : "", meta_str(j, "name")) ?
				 " (its last good version stays)" : "");
			ret = 0;
			continue;
		}
		if (ret)
			break;
	}
	if (ret == -ENOMEM)
		snprintf(w->why, sizeof(w->why), "out of memory");
	set_str(&w->list_rv, rv);
	set_str(&w->cont, cont && *cont ? cont : NULL);
out:
	json_object_put(root);
	return ret;
}

static int listed_cmp(const void *a, const void *b)
{
	return strcmp(((const struct listed *)a)->key, ((const struct listed *)b)->key);
}

/* Make the model's objects of w's kind what the list said, touching only
 * what differs. */
static void list_apply(struct watcher *w)
{
	unsigned added = 0, updated = 0, unchanged = 0, deleted = 0;
	struct kube_ds *k = w->k;
	const struct k8s_object *const *objs;
	struct listed probe;
	char **gone = NULL;
	size_t n, n_gone = 0;
	int ret;

	for (size_t i = 0; i < w->n_items; i++) {
		struct k8s_object *o = w->items[i].obj;
		int existed;

		if (!o)
			continue;
		existed = model_get(k->m, o->kind, o->meta.ns, o->meta.name) != NULL;
		w->items[i].obj = NULL;
		ret = model_upsert(k->m, o);
		if (ret < 0)
			log_error("kubernetes: %s: %s", w->d->resource, strerror(-ret));
		else if (ret == 0)
			unchanged++;
		else if (existed)
			updated++;
		else
			added++;
		count_change(k, ret);
	}
	/* what the model holds and the list does not name has gone meanwhile */
	if (w->n_items)
		qsort(w->items, w->n_items, sizeof(*w->items), listed_cmp);
	n = model_list(k->m, w->d->kind, &objs);
	gone = calloc(n + 1, sizeof(*gone));
	for (size_t i = 0; gone && i < n; i++) {
		if (asprintf(&probe.key, "%s/%s", objs[i]->meta.ns, objs[i]->meta.name) < 0)
			break;
		if (w->n_items &&
		    bsearch(&probe, w->items, w->n_items, sizeof(*w->items), listed_cmp))
			free(probe.key);
		else
			gone[n_gone++] = probe.key;
	}
	if (!gone)
		log_error("kubernetes: %s: out of memory; objects deleted meanwhile stay until "
			  "the next list", w->d->resource);
	for (size_t i = 0; i < n_gone; i++) {
		char *slash = strchr(gone[i], '/');

		*slash = '\0';
		ret = model_delete(k->m, w->d->kind, gone[i], slash + 1);
		deleted += ret > 0;
		count_change(k, ret);
		free(gone[i]);
	}
	free(gone);
	log_info("kubernetes: %s: listed %zu at resourceVersion %s (%u page%s): %u added, "
		 "%u updated, %u deleted, %u unchanged, %u bad", w->d->resource, w->n_items,
		 w->list_rv, w->pages, w->pages == 1 ? "" : "s", added, updated, deleted,
		 unchanged, w->bad);
}

static void watch_start(struct watcher *w);

static void sync_check(struct kube_ds *k)
{
	char counts[256];
	size_t off = 0;

	if (k->synced)
		return;
	for (size_t i = 0; i < N_KINDS; i++)
		if (!k->w[i].synced)
			return;
	k->synced = 1;
	for (size_t i = 0; i < N_KINDS && off < sizeof(counts); i++) {
		const struct k8s_object *const *objs;

		off += snprintf(counts + off, sizeof(counts) - off, "%s%zu %s", i ? ", " : "",
				model_list(k->m, kinds[i].kind, &objs), kinds[i].resource);
	}
	log_info("kubernetes: first sync done: %s", counts);
}

static void list_done(struct watcher *w, CURLcode res, long code)
{
	if (res != CURLE_OK) {
		list_reset(w);
		watcher_retry(w, "list: %s", transfer_error(w, res));
		return;
	}
	if (code == 410 && w->cont) {
		/* the continue token outlived the server's history: start over */
		list_reset(w);
		watcher_retry(w, "list: the continue token expired (410 Gone)");
		return;
	}
	if (code != 200) {
		list_reset(w);
		watcher_fail_status(w, "list", code);
		return;
	}
	if (list_page(w)) {
		list_reset(w);
		watcher_retry(w, "list: %s", w->why);
		return;
	}
	buf_reset(&w->body);
	if (w->cont) {
		list_start(w);
		return;
	}
	list_apply(w);
	set_str(&w->rv, w->list_rv);
	list_reset(w);
	w->need_list = 0;
	w->failures = 0;
	w->synced = 1;
	sync_check(w->k);
	watch_start(w);
}

/* ---- watching ---- */

static void watch_start(struct watcher *w)
{
	int secs = WATCH_MIN_S + rand_r(&w->k->seed) % (WATCH_MAX_S - WATCH_MIN_S + 1);
	char *rv = NULL, *base = NULL, *url = NULL, timeout[64];
	const char *query[] = { "watch=1", "allowWatchBookmarks=true", NULL, timeout };

	w->phase = PH_WATCH;
	w->events = 0;
	w->pending = 0;
	w->relist = 0;
	if (w->tok)
		json_tokener_reset(w->tok);
	else
		w->tok = json_tokener_new_ex(DOC_JSON_MAX_DEPTH);
	snprintf(timeout, sizeof(timeout), "timeoutSeconds=%d", secs);
	if (w->tok && asprintf(&rv, "resourceVersion=%s", w->rv) >= 0 &&
	    asprintf(&base, "%s%s", w->k->conn.server, w->d->path) >= 0) {
		query[2] = rv;
		url = url_new(base, query, sizeof(query) / sizeof(query[0]));
	}
	if (!url)
		snprintf(w->why, sizeof(w->why), "out of memory");
	/* the server ends the watch after timeoutSeconds; curl's limit only
	 * catches a server that does not */
	if (!url || request_start(w, url, secs + 60))
		watcher_retry(w, "watch: %s", w->why);
	free(url);
	free(base);
	free(rv);
}

/* An ERROR event: 410 means our resourceVersion is too old to resume
 * from. Always ends the watch: returns -1. */
static int watch_error(struct watcher *w, struct json_object *st)
{
	struct json_object *code_j = jget(st, "code");
	int code = code_j ? json_object_get_int(code_j) : 0;
	const char *msg = jstr(st, "message");

	if (code == 410) {
		log_info("kubernetes: %s: watch from resourceVersion %s expired (%s); listing "
			 "again", w->d->resource, w->rv, msg ? msg : "410 Gone");
		w->relist = 1;
	} else {
		snprintf(w->why, sizeof(w->why), "watch: ERROR event %d: %s", code,
			 msg ? msg : "(no message)");
	}
	return -1;
}

/* One event of the stream. 0 to go on, -1 to end the watch. */
static int watch_event(struct watcher *w, struct json_object *ev)
{
	struct json_object *obj = jget(ev, "object");
	const char *type = jstr(ev, "type"), *rv;

	if (!type || !obj || !json_object_is_type(obj, json_type_object)) {
		log_warn("kubernetes: %s: a watch event without type or object; ignored",
			 w->d->resource);
		return 0;
	}
	if (!strcmp(type, "ERROR"))
		return watch_error(w, obj);
	if (!strcmp(type, "ADDED") || !strcmp(type, "MODIFIED"))
		object_apply(w, obj, type);
	else if (!strcmp(type, "DELETED"))
		object_delete(w, obj);
	else if (strcmp(type, "BOOKMARK"))
		log_warn("kubernetes: %s: unknown watch event type \"%s\"; ignored",
			 w->d->resource, type);
	/* every event, a bookmark too, moves the resume point */
	rv = meta_str(obj, "resourceVersion");
	if (rv && *rv)
		set_str(&w->rv, rv);
	if (!strcmp(type, "BOOKMARK"))
		log_debug("kubernetes: %s: bookmark at resourceVersion %s", w->d->resource, w->rv);
	w->events++;
	w->failures = 0; /* the stream works: the next break retries quickly */
	return 0;
}

/* Bytes of the stream, cut anywhere: hand each complete event on. 0, or
 * -1 to end the watch (why set, or relist). */
static int watch_feed(struct watcher *w, const char *p, size_t len)
{
	while (len) {
		struct json_object *ev = json_tokener_parse_ex(w->tok, p, (int)len);
		size_t used = json_tokener_get_parse_end(w->tok);
		enum json_tokener_error jerr = json_tokener_get_error(w->tok);
		int ret;

		if (!ev && jerr == json_tokener_continue) {
			w->pending += used;
			if (w->pending > MAX_EVENT_BYTES) {
				snprintf(w->why, sizeof(w->why), "watch: an event larger than %lu MiB",
					 MAX_EVENT_BYTES >> 20);
				return -1;
			}
			return 0;
		}
		if (!ev) {
			snprintf(w->why, sizeof(w->why), "watch: malformed stream: %s",
				 json_tokener_error_desc(jerr));
			return -1;
		}
		w->pending = 0;
		ret = watch_event(w, ev);
		json_object_put(ev);
		if (ret)
			return ret;
		p += used;
		len -= used;
	}
	return 0;
}

static void watch_done(struct watcher *w, CURLcode res, long code)
{
	if (w->relist || code == 410) {
		if (code == 410)
			log_info("kubernetes: %s: watch from resourceVersion %s: 410 Gone; listing "
				 "again", w->d->resource, w->rv);
		/* at once: a fresh list does not expire */
		list_start(w);
		return;
	}
	if (res == CURLE_OK && code == 200) {
		/* the server ended the watch (timeoutSeconds): go on from here;
		 * one that ends at once without a word is retried with backoff */
		if (w->events || now_ms() - w->started >= 1000) {
			log_debug("kubernetes: %s: watch ended; resuming from resourceVersion %s",
				  w->d->resource, w->rv);
			watch_start(w);
		} else {
			watcher_retry(w, "watch: the server ended it at once");
		}
		return;
	}
	if (res == CURLE_OK)
		watcher_fail_status(w, "watch", code);
	else
		watcher_retry(w, "watch: %s", transfer_error(w, res));
}

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct watcher *w = arg;
	size_t len = size * n;
	long code = 0;
	int ret;

	curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &code);
	if (w->phase == PH_WATCH && code == 200)
		return watch_feed(w, p, len) ? 0 : len;
	if (code != 200) {
		/* an error's Status: its start says enough */
		buf_append(&w->body, p, len, MAX_ERROR_BYTES);
		return len;
	}
	ret = buf_append(&w->body, p, len, MAX_PAGE_BYTES);
	if (ret) {
		snprintf(w->why, sizeof(w->why), "%s", ret == -EFBIG ?
			 "a list page larger than 256 MiB" : "out of memory");
		return 0;
	}
	return len;
}

/* ---- the event loop's side ---- */

static void watcher_done(struct watcher *w, CURLcode res)
{
	long code = 0;

	curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &code);
	request_end(w);
	if (w->phase == PH_LIST)
		list_done(w, res, code);
	else
		watch_done(w, res, code);
}

static void watcher_start(struct watcher *w)
{
	w->retry_at = 0;
	if (w->need_list)
		list_start(w);
	else
		watch_start(w);
}

/* Arm the timerfd for the earliest of curl's timeout and the retries. */
static void timer_arm(struct kube_ds *k)
{
	struct itimerspec its = { 0 };
	int64_t next = k->curl_deadline;

	for (size_t i = 0; i < N_KINDS; i++) {
		const struct watcher *w = &k->w[i];

		if (w->phase == PH_WAIT && (next < 0 || w->retry_at < next))
			next = w->retry_at;
	}
	if (next >= 0) {
		/* absolute: a deadline already past fires at once; 0 would disarm */
		its.it_value.tv_sec = next / 1000;
		its.it_value.tv_nsec = (next % 1000) * 1000000 + 1;
	}
	if (timerfd_settime(k->tfd, TFD_TIMER_ABSTIME, &its, NULL))
		log_error("kubernetes: timerfd_settime: %s", strerror(errno));
}

static int on_socket(CURL *e, curl_socket_t s, int what, void *arg, void *sockp)
{
	struct kube_ds *k = arg;
	struct epoll_event ev = { .data.fd = s };

	(void)e;
	if (what == CURL_POLL_REMOVE) {
		epoll_ctl(k->epfd, EPOLL_CTL_DEL, s, NULL);
		return 0;
	}
	if (what & CURL_POLL_IN)
		ev.events |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		ev.events |= EPOLLOUT;
	/* sockp marks a socket already in the set; a closed socket whose fd
	 * number came back must still be added */
	if (epoll_ctl(k->epfd, sockp ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, s, &ev) &&
	    epoll_ctl(k->epfd, sockp ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, s, &ev)) {
		log_error("kubernetes: epoll_ctl(%d): %s", s, strerror(errno));
		return -1;
	}
	if (!sockp)
		curl_multi_assign(k->multi, s, k);
	return 0;
}

static int on_timer(CURLM *multi, long timeout_ms, void *arg)
{
	struct kube_ds *k = arg;

	(void)multi;
	k->curl_deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	timer_arm(k);
	return 0;
}

int kube_ds_process(struct kube_ds *k)
{
	struct epoll_event evs[16];
	struct CURLMsg *msg;
	int n, running, left;
	uint64_t ticks;
	int64_t now;

	k->changes = 0;
	n = epoll_wait(k->epfd, evs, 16, 0);
	for (int i = 0; i < n; i++) {
		int fd = evs[i].data.fd, flags = 0;

		if (fd == k->tfd) {
			while (read(k->tfd, &ticks, sizeof(ticks)) > 0)
				;
			continue;
		}
		if (evs[i].events & EPOLLIN)
			flags |= CURL_CSELECT_IN;
		if (evs[i].events & EPOLLOUT)
			flags |= CURL_CSELECT_OUT;
		if (evs[i].events & (EPOLLERR | EPOLLHUP))
			flags |= CURL_CSELECT_ERR;
		curl_multi_socket_action(k->multi, fd, flags, &running);
	}
	now = now_ms();
	if (k->curl_deadline >= 0 && now >= k->curl_deadline) {
		k->curl_deadline = -1;
		curl_multi_socket_action(k->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	}
	while ((msg = curl_multi_info_read(k->multi, &left))) {
		char *w = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &w);
		watcher_done((struct watcher *)w, msg->data.result);
	}
	for (size_t i = 0; i < N_KINDS; i++)
		if (k->w[i].phase == PH_WAIT && k->w[i].retry_at <= now)
			watcher_start(&k->w[i]);
	timer_arm(k);
	return k->changes;
}

int kube_ds_open(const char *kubeconfig, struct model *m, struct kube_ds **out)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct kube_ds *k;
	char msg[1024];
	int err;

	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->m = m;
	k->epfd = k->tfd = -1;
	k->curl_deadline = -1;
	if (kubeconfig && *kubeconfig)
		err = kube_conn_kubeconfig(kubeconfig, &k->conn, msg, sizeof(msg));
	else
		err = kube_conn_in_cluster(KUBE_SERVICEACCOUNT_DIR, &k->conn, msg, sizeof(msg));
	if (err) {
		log_error("kubernetes: %s", msg);
		free(k);
		return err;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		log_error("kubernetes: libcurl failed to initialise");
		kube_conn_free(&k->conn);
		free(k);
		return -ENOMEM;
	}
	if (getrandom(&k->seed, sizeof(k->seed), GRND_NONBLOCK) != sizeof(k->seed))
		k->seed = (unsigned)getpid() ^ (unsigned)now_ms();
	k->multi = curl_multi_init();
	k->epfd = epoll_create1(EPOLL_CLOEXEC);
	k->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	ev.data.fd = k->tfd;
	if (!k->multi || k->epfd < 0 || k->tfd < 0 ||
	    epoll_ctl(k->epfd, EPOLL_CTL_ADD, k->tfd, &ev)) {
		err = k->multi ? -errno : -ENOMEM;
		log_error("kubernetes: set up: %s", strerror(-err));
		kube_ds_close(k);
		return err;
	}
	curl_multi_setopt(k->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(k->multi, CURLMOPT_SOCKETDATA, k);
	curl_multi_setopt(k->multi, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(k->multi, CURLMOPT_TIMERDATA, k);
	if (k->conn.insecure)
		log_warn("kubernetes: %s: insecure-skip-tls-verify: the API server's certificate "
			 "is not checked", k->conn.source);
	log_info("kubernetes: API server %s (%s); listing %zu kinds", k->conn.server,
		 k->conn.source, N_KINDS);
	for (size_t i = 0; i < N_KINDS; i++) {
		struct watcher *w = &k->w[i];

		w->k = k;
		w->d = &kinds[i];
		w->need_list = 1;
		list_start(w);
	}
	timer_arm(k);
	*out = k;
	return 0;
}

int kube_ds_fd(const struct kube_ds *k)
{
	return k->epfd;
}

int kube_ds_synced(const struct kube_ds *k)
{
	return k->synced;
}

void kube_ds_pending(const struct kube_ds *k, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < N_KINDS && off < len; i++)
		if (!k->w[i].synced)
			off += snprintf(buf + off, len - off, "%s%s", off ? ", " : "",
					kinds[i].resource);
}

const char *kube_ds_server(const struct kube_ds *k)
{
	return k->conn.server;
}

void kube_ds_close(struct kube_ds *k)
{
	if (!k)
		return;
	for (size_t i = 0; i < N_KINDS; i++) {
		struct watcher *w = &k->w[i];

		if (!w->k)
			continue;
		request_end(w);
		list_reset(w);
		buf_reset(&w->body);
		free(w->rv);
		if (w->tok)
			json_tokener_free(w->tok);
	}
	if (k->multi)
		curl_multi_cleanup(k->multi);
	if (k->epfd >= 0)
		close(k->epfd);
	if (k->tfd >= 0)
		close(k->tfd);
	kube_conn_free(&k->conn);
	curl_global_cleanup();
	free(k);
}
