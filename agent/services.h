/* Services: the model's Services, EndpointSlices and this node's Node become
 * NAT frontends and backends (include/tern/nat.h), diffed against what the
 * maps hold and written in an order that never leaves a frontend pointing
 * at a backend that is not there. */
#ifndef TERN_SERVICES_H
#define TERN_SERVICES_H

#include <stddef.h>
#include <tern/nat.h>

#include "agent/config.h"
#include "agent/model.h"

struct svc_sync;

struct svc_stats {
	unsigned ports;        /* service ports (per family) programmed */
	unsigned frontends;
	unsigned backends;
	unsigned fe_writes;    /* entries written or deleted this run */
	unsigned be_writes;
	unsigned gone_udp;     /* UDP backends that went (their flows are cleaned) */
};

/* A UDP backend that went away: sockets and flows still aimed at it are
 * cleaned up (agent/dataplane.c). Or, with back set, one that is a
 * backend again: no longer refused. */
struct svc_gone {
	struct tern_addr addr;
	__be16 port;
	__u16 back;
};

struct svc_sync *svc_sync_new(const struct tern_config *cfg, int fe_fd, int be_fd);
void svc_sync_free(struct svc_sync *s);
/* Make the NAT maps match m. Reads the maps the first time and after
 * svc_sync_resync; otherwise diffs against what it last wrote. 0 or -errno.
 * *gone / *n_gone: UDP backends removed (the caller frees *gone). */
int svc_sync_run(struct svc_sync *s, const struct model *m, struct svc_stats *st,
		 struct svc_gone **gone, size_t *n_gone);
/* Also keep tern_node_v1 (the addresses traffic to backends on other
 * nodes is source-NATed to) at this node's first IPv4 and IPv6 address. */
void svc_sync_node_map(struct svc_sync *s, int node_fd);
/* Read the maps again at the next run (repairs anything else wrote). */
void svc_sync_resync(struct svc_sync *s);

#endif
