/* tern-cni: the CNI plugin (spec 1.0.0) that wires a pod's veth as ternd
 * expects it; addresses come from the IPAM plugin the config names.
 * Results and errors go to stdout as JSON, logs to stderr. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cni/cni.h"

static int print_json(struct json_object *j)
{
	const char *s = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN |
							      JSON_C_TO_STRING_NOSLASHESCAPE);

	if (!s || printf("%s\n", s) < 0 || fflush(stdout))
		return -EIO;
	return 0;
}

/* json-c's constructors return NULL only without memory; adding NULL to
 * an object is harmless, and printing then fails as a whole. */
static void put_str(struct json_object *o, const char *key, const char *val)
{
	json_object_object_add(o, key, json_object_new_string(val));
}

static struct json_object *iface_new(const char *name, const uint8_t mac[6], const char *sandbox)
{
	struct json_object *o = json_object_new_object();
	char buf[18];

	if (!o)
		return NULL;
	put_str(o, "name", name);
	put_str(o, "mac", cni_mac__str(mac, buf, sizeof(buf)));
	if (sandbox)
		put_str(o, "sandbox", sandbox);
	return o;
}

/* The success result: both ends of the veth, the pod's /32 and /128 on
 * its interface (index 1), the default routes via the link-local gateways. */
static int result_print(const struct cni_req *r, const struct wiring *w, struct json_object *dns)
{
	struct json_object *res = json_object_new_object();
	struct json_object *ifs = json_object_new_array(), *ips = json_object_new_array();
	struct json_object *routes = json_object_new_array();
	char addr[INET6_ADDRSTRLEN], cidr[INET6_ADDRSTRLEN + 5];
	int err = -ENOMEM;

	if (!res || !ifs || !ips || !routes)
		goto out;
	put_str(res, "cniVersion", r->version);
	json_object_array_add(ifs, iface_new(r->host_ifname, w->host_mac, NULL));
	json_object_array_add(ifs, iface_new(r->ifname, w->pod_mac, r->netns));
	for (size_t i = 0; i < w->n_ips; i++) {
		struct json_object *ip = json_object_new_object(), *rt = json_object_new_object();
		int v4 = w->ips[i].family == AF_INET;

		if (!ip || !rt) {
			json_object_put(ip);
			json_object_put(rt);
			goto out;
		}
		snprintf(cidr, sizeof(cidr), "%s/%d", cni_ip__str(&w->ips[i], addr, sizeof(addr)),
			 v4 ? 32 : 128);
		put_str(ip, "address", cidr);
		put_str(ip, "gateway", v4 ? CNI_GW4 : CNI_GW6);
		json_object_object_add(ip, "interface", json_object_new_int(1));
		json_object_array_add(ips, ip);
		put_str(rt, "dst", v4 ? "0.0.0.0/0" : "::/0");
		put_str(rt, "gw", v4 ? CNI_GW4 : CNI_GW6);
		json_object_array_add(routes, rt);
	}
	json_object_object_add(res, "interfaces", ifs);
	json_object_object_add(res, "ips", ips);
	json_object_object_add(res, "routes", routes);
	ifs = ips = routes = NULL;
	if (dns)
		json_object_object_add(res, "dns", json_object_get(dns));
	err = print_json(res);
out:
	json_object_put(res);
	json_object_put(ifs);
	json_object_put(ips);
	json_object_put(routes);
	return err;
}

/* After a failed ADD: give the address back, or it leaks until a DEL. */
static void ipam_release(const struct cni_req *r)
{
	struct cni_error e2 = { 0 };

	if (ipam__exec(r, "DEL", NULL, &e2))
		fprintf(stderr, "tern-cni: releasing the address after the failure: %s: %s\n",
			e2.msg, e2.details);
}

static int cmd_add(const struct cni_req *r, struct cni_error *e)
{
	struct cni_progs progs = { -1, -1 };
	struct ipam_result ipam = { 0 };
	struct json_object *dns = NULL;
	struct wiring w = { 0 };
	int err;

	/* a chained plugin must carry prevResult on: tern-cni makes the
	 * pod's interface, so nothing can have come before it */
	if (r->prev)
		return cni_fail(e, CNI_ERR_CONFIG, -EINVAL, "invalid network config",
				"prevResult at ADD: tern-cni creates the pod's interface and must "
				"be the first plugin of the list");
	/* a pod never runs without tern's programs: no programs, no pod */
	err = cni_progs__open(r, &progs, e);
	if (!err)
		err = wire__precheck(r, e);
	if (err)
		goto out;
	err = ipam__exec(r, "ADD", &ipam, e);
	if (err) {
		/* the spec's rule for a delegated plugin's failed ADD; a
		 * plugin that is not there allocated nothing */
		if (err != -ENOENT)
			ipam_release(r);
		goto out;
	}
	err = wire__add(r, &progs, ipam.ips, ipam.n_ips, &w, e);
	if (err) {
		ipam_release(r);
		goto out;
	}
	/* DNS settings from the IPAM plugin, else from the config */
	dns = ipam.dns;
	if (!dns)
		json_object_object_get_ex(r->conf, "dns", &dns);
	err = result_print(r, &w, dns);
	if (err)
		cni_fail(e, CNI_ERR_IO, err, "writing the result", "stdout: %s", strerror(-err));
out:
	ipam_result__free(&ipam);
	cni_progs__close(&progs);
	return err;
}

static int cmd_del(const struct cni_req *r, struct cni_error *e)
{
	int err = wire__del(r, e);

	/* with the interface still there, its address must stay taken */
	if (err)
		return err;
	/* the veth took its links with it (unless ternd detached them) */
	cni_hook__release(r);
	if (!r->ipam_type)
		return 0;
	err = ipam__exec(r, "DEL", NULL, e);
	/* the config names the same plugin as at ADD: without it, ADD never
	 * allocated anything to release */
	if (err == -ENOENT) {
		fprintf(stderr, "tern-cni: DEL: %s; nothing to release\n", e->details);
		err = 0;
	}
	return err;
}

static int cmd_check(const struct cni_req *r, struct cni_error *e)
{
	int err = wire__check(r, e);

	if (!err)
		err = ipam__exec(r, "CHECK", NULL, e);
	return err;
}

static int cmd_version(const struct cni_req *r, struct cni_error *e)
{
	struct json_object *j = json_object_new_object(), *v = json_object_new_array();
	int err = -ENOMEM;

	if (j && v) {
		put_str(j, "cniVersion", r->version);
		json_object_array_add(v, json_object_new_string(CNI_VERSION));
		json_object_object_add(j, "supportedVersions", v);
		v = NULL;
		err = print_json(j);
	}
	json_object_put(j);
	json_object_put(v);
	if (err)
		cni_fail(e, CNI_ERR_IO, err, "writing the result", "stdout: %s", strerror(-err));
	return err;
}

static void error_print(const struct cni_req *r, const struct cni_error *e)
{
	struct json_object *j = json_object_new_object();

	if (j) {
		put_str(j, "cniVersion", r->version ? r->version : CNI_VERSION);
		json_object_object_add(j, "code", json_object_new_int(e->code));
		put_str(j, "msg", e->msg);
		put_str(j, "details", e->details);
		print_json(j);
		json_object_put(j);
	}
	fprintf(stderr, "tern-cni: %s%s%s%s%s: %s: %s\n", getenv("CNI_COMMAND") ?: "?",
		r->pod_name[0] ? " pod " : "", r->pod_ns, r->pod_name[0] ? "/" : "", r->pod_name,
		e->msg, e->details);
}

int main(void)
{
	struct cni_error e = { .code = TERN_ERR_WIRING };
	struct cni_req r;
	int err;

	err = cni_req__load(&r, &e);
	if (!err) {
		switch (r.cmd) {
		case CNI_ADD:
			err = cmd_add(&r, &e);
			break;
		case CNI_DEL:
			err = cmd_del(&r, &e);
			break;
		case CNI_CHECK:
			err = cmd_check(&r, &e);
			break;
		case CNI_VERSION_CMD:
			err = cmd_version(&r, &e);
			break;
		}
	}
	if (err)
		error_print(&r, &e);
	cni_req__free(&r);
	return err ? 1 : 0;
}
