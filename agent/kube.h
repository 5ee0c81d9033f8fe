/* The Kubernetes datastore: list and watch the API server for every kind
 * the model holds (Namespaces, Nodes, Pods, Services, EndpointSlices,
 * NetworkPolicies), applying each change to the model. Runs inside ternd's
 * epoll loop: one fd to poll, no threads. A relist (after 410 Gone) applies
 * only the difference; an object tern cannot decode is logged and skipped
 * (or keeps its last good version). See docs/kubernetes.md. */
#ifndef TERN_KUBE_H
#define TERN_KUBE_H

#include <stddef.h>

#include "agent/model.h"

struct kube_ds;

/* Connect with the kubeconfig at path, or the in-cluster service account
 * when path is "" or NULL, and start listing. Returns at once: the lists
 * complete in kube_ds_process. 0 or -errno (logged: a bad kubeconfig, no
 * service account). */
int kube_ds_open(const char *kubeconfig, struct model *m, struct kube_ds **out);
/* The fd to poll for readability (an epoll fd holding the connections and
 * a timer). */
int kube_ds_fd(const struct kube_ds *k);
/* Handle whatever is ready without blocking; returns the number of model
 * changes (0 or more). */
int kube_ds_process(struct kube_ds *k);
/* 1 once every kind has been listed completely at least once. */
int kube_ds_synced(const struct kube_ds *k);
/* What the first sync still waits for ("pods, services"), or "" when
 * synced. */
void kube_ds_pending(const struct kube_ds *k, char *buf, size_t len);
/* The API server's URL, for messages. */
const char *kube_ds_server(const struct kube_ds *k);
void kube_ds_close(struct kube_ds *k);

#endif
