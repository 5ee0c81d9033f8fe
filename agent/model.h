/* The in-memory store of Kubernetes objects every datastore feeds and the
 * reconciler reads: objects by kind, keyed "namespace/name". */
#ifndef TERN_MODEL_H
#define TERN_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "agent/k8s.h"

struct model;

struct model *model_new(void);
void model_free(struct model *m);

/* Insert or replace; takes ownership of obj. Returns 1 when the model
 * changed, 0 when an equal object (k8s_object_equal) was already there
 * (obj freed, the stored one kept), -EINVAL for a bad kind or -ENOMEM (obj
 * freed, the model unchanged). */
int model_upsert(struct model *m, struct k8s_object *obj);
/* Remove; returns 1 when something was removed, 0 if absent. */
int model_delete(struct model *m, enum k8s_kind kind, const char *ns, const char *name);
/* The object, valid until it is next replaced or deleted; NULL if absent. */
const struct k8s_object *model_get(const struct model *m, enum k8s_kind kind,
				   const char *ns, const char *name);

/* All objects of a kind, sorted by namespace, then name (strcmp;
 * deterministic). The array is valid until the next change; never fails. */
size_t model_list(const struct model *m, enum k8s_kind kind,
		  const struct k8s_object *const **objs);

/* Bumped on every change, per kind and overall. */
uint64_t model_generation(const struct model *m);
uint64_t model_kind_generation(const struct model *m, enum k8s_kind kind);

#endif
