/* How ternd reaches the Kubernetes API server: the server URL, the TLS
 * trust and client identity, and the bearer token, from the in-cluster
 * service account or from a kubeconfig file's current context. */
#ifndef TERN_KUBECONFIG_H
#define TERN_KUBECONFIG_H

#include <stddef.h>

/* Where kubelet mounts a pod's service account. */
#define KUBE_SERVICEACCOUNT_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

/* PEM bytes given inline (a kubeconfig's *-data, base64-decoded). */
struct kube_blob {
	char *data;
	size_t len;
};

struct kube_conn {
	char *source;            /* "in-cluster" or the kubeconfig's path */
	char *server;            /* "https://host:port", no trailing '/' */
	char *ca_file;           /* the CA bundle, or NULL ... */
	struct kube_blob ca;     /* ... or inline; neither: the system's CAs */
	char *cert_file;         /* client certificate (PEM), or NULL ... */
	struct kube_blob cert;   /* ... or inline */
	char *key_file;          /* its private key, or NULL ... */
	struct kube_blob key;    /* ... or inline */
	char *token;             /* a fixed bearer token, or NULL */
	char *token_file;        /* a bearer token file, re-read as it rotates */
	int insecure;            /* insecure-skip-tls-verify: no server check */
	char *cur_token;         /* the last token read from token_file */
};

/* The in-cluster config: KUBERNETES_SERVICE_HOST and _PORT from the
 * environment, sa_dir/token and sa_dir/ca.crt (pass
 * KUBE_SERVICEACCOUNT_DIR). 0, or -errno with err saying what is missing
 * and what to do instead. */
int kube_conn_in_cluster(const char *sa_dir, struct kube_conn *c, char *err, size_t errlen);

/* The current context of the kubeconfig at path: its cluster's server,
 * certificate-authority(-data) and insecure-skip-tls-verify, its user's
 * client-certificate(-data)/client-key(-data), token or tokenFile.
 * Relative file names are relative to the kubeconfig's directory, as
 * kubectl reads them. 0, or -errno with err "PATH:LINE:COL: field:
 * problem". exec and auth-provider users are refused (no plugins). */
int kube_conn_kubeconfig(const char *path, struct kube_conn *c, char *err, size_t errlen);

/* The bearer token to send now, or NULL for none: token_file re-read
 * (kubelet rotates projected tokens; reading a few hundred bytes per
 * request is cheaper than getting it wrong), else the fixed token. When
 * the file cannot be read, the last token read is kept (and logged). */
const char *kube_conn_token(struct kube_conn *c);

void kube_conn_free(struct kube_conn *c);

#endif
