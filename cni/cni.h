/* tern-cni's request (CNI_* environment and network config), its error
 * codes, and the steps main.c runs: config, IPAM delegation, wiring. */
#ifndef TERN_CNI_H
#define TERN_CNI_H

#include <arpa/inet.h>
#include <net/if.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#define CNI_VERSION "1.0.0"

/* Error codes: 1..11 are the spec's, 100+ tern-cni's own. */
enum cni_code {
	CNI_ERR_VERSION = 1,       /* incompatible CNI version */
	CNI_ERR_UNSUPPORTED = 2,   /* unsupported field in the network config */
	CNI_ERR_ENV = 4,           /* invalid CNI_* environment variables */
	CNI_ERR_IO = 5,            /* reading stdin failed */
	CNI_ERR_DECODE = 6,        /* stdin is not JSON */
	CNI_ERR_CONFIG = 7,        /* invalid network config */
	CNI_ERR_TRY_AGAIN = 11,    /* transient: the runtime should retry */
	TERN_ERR_IPAM = 100,       /* the IPAM plugin failed or returned no usable address */
	TERN_ERR_WIRING = 101,     /* a netlink or sysctl step of the wiring failed */
	TERN_ERR_EXISTS = 102,     /* an interface tern-cni must create already exists */
	TERN_ERR_CHECK = 103,      /* CHECK: the wiring is not what ADD left */
};

/* The error result: code, a short msg, the details. */
struct cni_error {
	int code;
	char msg[128];
	char details[2048];
};

/* Fill e and return err (a -errno), so a failing step reads
 * `return cni_fail(e, CODE, -EINVAL, "msg", "details %s", x);`. */
int cni_fail(struct cni_error *e, int code, int err, const char *msg, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

enum cni_cmd {
	CNI_ADD = 1,
	CNI_DEL,
	CNI_CHECK,
	CNI_VERSION_CMD,
};

/* One pod address, as the pod holds it: /32 or /128. */
struct cni_ip {
	int family;                /* AF_INET or AF_INET6 */
	uint8_t addr[16];          /* NBO; IPv4 in the first 4 bytes */
};

/* Pod wiring constants (DESIGN.md "Pod wiring"). */
#define CNI_GW4 "169.254.1.1"
#define CNI_GW6 "fe80::1"

struct cni_req {
	enum cni_cmd cmd;
	const char *container_id;  /* CNI_CONTAINERID */
	const char *netns;         /* CNI_NETNS; NULL when unset (DEL) */
	const char *ifname;        /* CNI_IFNAME */
	const char *path;          /* CNI_PATH */
	char pod_ns[254];          /* K8S_POD_NAMESPACE from CNI_ARGS */
	char pod_name[254];        /* K8S_POD_NAME from CNI_ARGS */

	char *stdin_buf;           /* the config as received: IPAM gets it unchanged */
	size_t stdin_len;
	struct json_object *conf;  /* parsed */
	const char *version;       /* cniVersion */
	const char *ipam_type;     /* ipam.type; NULL on a DEL under an invalid config */
	const char *prefix;        /* workloadInterfacePrefix */
	int mtu;                   /* mtu */
	const char *pin_path;      /* bpfPinPath: ternd's bpf.pinPath, on the host */
	struct json_object *prev;  /* prevResult, or NULL */
	char host_ifname[IFNAMSIZ];/* prefix + hash of "<pod_ns>.<pod_name>"; on DEL
				    * only with the pod in CNI_ARGS, else "" */
};

/* Read the environment and stdin into r. 0, or -errno with e filled.
 * VERSION needs only CNI_COMMAND and a cniVersion; DEL accepts a config
 * that fails validation (ADD allocated nothing under it). */
int cni_req__load(struct cni_req *r, struct cni_error *e);
void cni_req__free(struct cni_req *r);

/* What the IPAM plugin allocated. */
struct ipam_result {
	size_t n_ips;
	struct cni_ip ips[2];      /* at most one per family */
	struct json_object *dns;   /* its "dns", or NULL; owned */
};

/* Run the IPAM plugin named by ipam.type with command cmd ("ADD", "DEL",
 * "CHECK"), the same environment otherwise, and the config on stdin.
 * ADD fills res. 0, -ENOENT when the plugin is not in CNI_PATH, or -errno;
 * e filled on any error (the plugin's own error passed through). */
int ipam__exec(const struct cni_req *r, const char *cmd, struct ipam_result *res,
	       struct cni_error *e);
void ipam_result__free(struct ipam_result *res);

/* tern's endpoint programs as ternd pinned them (PIN/progs/): attached to
 * the host side of a new veth before it comes up, they drop everything
 * until ternd has programmed the pod's state, so the pod starts fail-closed
 * whether ternd runs or not. */
struct cni_progs {
	int from_ep;               /* ingress: what the pod sends */
	int to_ep;                 /* egress: what the pod receives */
};

/* Open the pinned programs. -ENOENT (code 11: try again) when ternd has
 * not pinned them yet; 0 or -errno with e. */
int cni_progs__open(const struct cni_req *r, struct cni_progs *p, struct cni_error *e);
void cni_progs__close(struct cni_progs *p);
/* Attach them to the host side (ifindex) with tcx links pinned where
 * ternd adopts them (agent/tc_hook.h); a link ternd already made there is
 * kept. 0 or -errno with e. */
int cni_hook__attach(const struct cni_req *r, const struct cni_progs *p, int ifindex,
		     struct cni_error *e);
/* After the pod's veth is gone: unpin its links, which went with it. A
 * live link under the pod's name is another sandbox's and stays. */
void cni_hook__release(const struct cni_req *r);
/* For CHECK: whether a tern link sits on ifindex in direction dir (0:
 * ingress, 1: egress). 1, 0, or -errno. */
int cni_hook__has(const struct cni_req *r, int dir, int ifindex);

/* The wiring's outcome for the result JSON. */
struct wiring {
	uint8_t host_mac[6];
	uint8_t pod_mac[6];
	size_t n_ips;
	struct cni_ip ips[2];
};

/* The checks ADD makes before allocating anything: the pod netns can be
 * entered and lacks CNI_IFNAME; the host-side name is free (an earlier
 * sandbox's veth of the same pod is removed). 0 or -errno with e. */
int wire__precheck(const struct cni_req *r, struct cni_error *e);
/* Create the veth, attach progs to its host side, and wire it for ips.
 * On failure everything it created is removed again. 0 or -errno with e. */
int wire__add(const struct cni_req *r, const struct cni_progs *progs, const struct cni_ip *ips,
	      size_t n_ips, struct wiring *w, struct cni_error *e);
/* Remove CNI_IFNAME from the pod netns (its host-side peer and the routes
 * through it go with it). A missing netns or interface is not an error. */
int wire__del(const struct cni_req *r, struct cni_error *e);
/* Compare the wiring against prevResult; e lists every difference. */
int wire__check(const struct cni_req *r, struct cni_error *e);

int cni_ip__parse(const char *s, struct cni_ip *ip);
const char *cni_ip__str(const struct cni_ip *ip, char *buf, size_t len);
/* "02:42:ac:11:00:02"; buf holds 18 bytes */
const char *cni_mac__str(const uint8_t mac[6], char *buf, size_t len);

#endif
