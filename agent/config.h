/* ternd's YAML config: one schema table (key, type, default, help) drives
 * parsing, defaults, validation and `ternd --help-config`. */
#ifndef TERN_CONFIG_H
#define TERN_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <tern/ct.h>

/* An inclusive range of ports, host order. */
struct tern_port_range {
	uint16_t min, max;
};

enum datastore_type {
	DATASTORE_FILES = 0,
	DATASTORE_KUBERNETES = 1,
};

struct tern_config {
	char *file;                  /* the path it was loaded from */
	char *node_name;             /* nodeName (default: the host name) */
	char *log_level;             /* logLevel: error|warn|info|debug */
	enum datastore_type datastore_type; /* datastore.type */
	char *datastore_path;        /* datastore.path */
	char *kubeconfig;            /* datastore.kubeconfig ("" = in-cluster) */
	char *pin_path;              /* bpf.pinPath */
	char *cgroup_path;           /* bpf.cgroupPath */
	char *wl_prefix;             /* bpf.workloadInterfacePrefix */
	size_t n_data_ifaces;
	char **data_ifaces;          /* bpf.dataInterfaces */
	uint32_t max_interfaces;     /* bpf.maxInterfaces: counter slots */
	uint32_t max_endpoints;      /* bpf.maxEndpoints */
	uint32_t ct_max_entries;     /* conntrack.maxEntries */
	uint32_t ct_gc_interval;     /* conntrack.gcInterval, seconds */
	struct tern_ct_timeouts ct_timeouts; /* conntrack.timeouts.*, seconds */
	int ctlb_tcp;                /* services.connectTimeLB.tcp */
	int ctlb_udp;                /* services.connectTimeLB.udp */
	int ctlb_sctp;               /* services.connectTimeLB.sctp */
	struct tern_port_range snat_ports; /* services.snatPorts */
	char *health_address;        /* health.address, "" = off */
};

/* Defaults for every key. */
void config_defaults(struct tern_config *c);
/* Load path over the defaults. Returns 0, or -EINVAL with err set to
 * "FILE:LINE:COL: KEY: problem" (or -errno with "FILE: strerror"). */
int config_load(const char *path, struct tern_config *c, char *err, size_t errlen);
void config_free(struct tern_config *c);
/* The schema as a table: key, type, default, help. */
void config_print_schema(FILE *f);

#endif
