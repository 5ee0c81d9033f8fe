/* Unit tests for agent/files.c: the files datastore on a temporary
 * directory: initial load, add/edit/remove, renames, bad documents, two
 * files defining one object, ignored names, ConfigMap-style updates. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/files.h"
#include "agent/log.h"
#include "agent/model.h"
#include "test/unit/unit.h"

static char dir[64];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/tern-files-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(1);
	}
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static void teardown(const char *d)
{
	nftw(d, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void put(const char *name, const char *content)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f || fputs(content, f) < 0 || fclose(f)) {
		perror(path);
		exit(1);
	}
}

static void del(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	CHECK_INT(unlink(path), 0);
}

static void mv(const char *from, const char *to)
{
	char a[256], b[256];

	snprintf(a, sizeof(a), "%s/%s", dir, from);
	snprintf(b, sizeof(b), "%s/%s", dir, to);
	CHECK_INT(rename(a, b), 0);
}

/* Set a file's mtime to t seconds after the epoch. */
static void set_mtime(const char *name, time_t t)
{
	struct timespec ts[2] = { { t, 0 }, { t, 0 } };
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	CHECK_INT(utimensat(AT_FDCWD, path, ts, 0), 0);
}

/* Wait for the inotify fd as an event loop would, then process. */
static int process(struct files_ds *ds)
{
	struct pollfd p = { .fd = files_ds_fd(ds), .events = POLLIN };

	CHECK_INT(poll(&p, 1, 1000), 1);
	return files_ds_process(ds);
}

/* stderr into a file while capturing, to check what was logged. */
static int saved_stderr = -1;
static char cap_path[] = "/tmp/tern-files-log-XXXXXX";

static void capture_begin(void)
{
	int fd = mkstemp(cap_path);

	fflush(stderr);
	saved_stderr = dup(2);
	dup2(fd, 2);
	close(fd);
}

/* What was logged since capture_begin; free it. */
static char *capture_end(void)
{
	char *buf = calloc(1, 65536);
	int fd;

	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	fd = open(cap_path, O_RDONLY);
	if (fd >= 0 && read(fd, buf, 65535) < 0)
		buf[0] = '\0';
	close(fd);
	unlink(cap_path);
	strcpy(cap_path, "/tmp/tern-files-log-XXXXXX");
	return buf;
}

#define CHECK_LOGGED(log, want)                                                        \
	do {                                                                           \
		if (!strstr((log), (want))) {                                          \
			fprintf(stderr, "  %s:%d: log lacks \"%s\":\n%s", __FILE__,    \
				__LINE__, (want), (log));                              \
			unit_failed_checks++;                                          \
		}                                                                      \
	} while (0)

static char *pod_yaml(const char *ns, const char *name, const char *ip)
{
	static char buf[4][1024];
	static int next;
	char *b = buf[next++ % 4];

	/* as kubectl get -o yaml writes it, metadata noise included */
	snprintf(b, sizeof(buf[0]),
		 "apiVersion: v1\n"
		 "kind: Pod\n"
		 "metadata:\n"
		 "  annotations:\n"
		 "    cni.projectcalico.org/podIP: %s/32\n"
		 "  creationTimestamp: \"2024-05-01T10:00:05Z\"\n"
		 "  labels:\n"
		 "    app: web\n"
		 "  managedFields:\n"
		 "  - apiVersion: v1\n"
		 "    fieldsType: FieldsV1\n"
		 "    fieldsV1:\n"
		 "      f:status:\n"
		 "        f:podIPs: {}\n"
		 "    manager: kubelet\n"
		 "    operation: Update\n"
		 "  name: %s\n"
		 "  namespace: %s\n"
		 "  resourceVersion: \"1234\"\n"
		 "spec:\n"
		 "  containers:\n"
		 "  - name: web\n"
		 "    image: nginx\n"
		 "    ports:\n"
		 "    - containerPort: 80\n"
		 "      protocol: TCP\n"
		 "  nodeName: node-1\n"
		 "status:\n"
		 "  conditions:\n"
		 "  - status: \"True\"\n"
		 "    type: Ready\n"
		 "  phase: Running\n"
		 "  podIP: %s\n"
		 "  podIPs:\n"
		 "  - ip: %s\n",
		 ip, name, ns, ip, ip);
	return b;
}

/* The last byte of the pod's first IP, or -1 if the pod is absent. */
static int pod_ip(struct model *m, const char *ns, const char *name)
{
	const struct k8s_object *o = model_get(m, K8S_POD, ns, name);

	return o && o->pod.n_ips ? o->pod.ips[0].b[15] : -1;
}

static size_t count(struct model *m, enum k8s_kind kind)
{
	const struct k8s_object *const *objs;

	return model_list(m, kind, &objs);
}

static void initial_load(void)
{
	struct model *m = model_new();
	struct files_ds *ds = NULL;
	char buf[4096], sub[128];

	setup();
	snprintf(buf, sizeof(buf), "%s---\n%s---\napiVersion: v1\nkind: Namespace\n"
		 "metadata:\n  name: shop\n", pod_yaml("shop", "a", "10.0.0.1"),
		 pod_yaml("shop", "b", "10.0.0.2"));
	put("pods.yaml", buf);
	put("node.json", "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":"
	    "\"node-1\"},\"status\":{\"addresses\":[{\"type\":\"InternalIP\","
	    "\"address\":\"192.168.1.10\"}]}}\n");
	snprintf(buf, sizeof(buf), "apiVersion: v1\nkind: List\nmetadata:\n"
		 "  resourceVersion: \"\"\nitems:\n- apiVersion: v1\n  kind: Pod\n"
		 "  metadata:\n    name: c\n  status:\n    podIPs:\n    - ip: 10.0.0.3\n"
		 "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: cm\n");
	put("list.yml", buf);
	/* none of these is read */
	put(".hidden.yaml", pod_yaml("x", "hidden", "10.0.1.1"));
	put("pods.yaml~", pod_yaml("x", "backup", "10.0.1.2"));
	put(".pods.yaml.swp", pod_yaml("x", "swap", "10.0.1.3"));
	put("notes.txt", pod_yaml("x", "notes", "10.0.1.4"));
	snprintf(sub, sizeof(sub), "%s/sub.yaml", dir);
	CHECK_INT(mkdir(sub, 0755), 0);

	CHECK_INT(files_ds_open(dir, m, &ds), 0);
	if (!ds)
		goto out;
	CHECK(files_ds_fd(ds) >= 0);
	CHECK_INT(count(m, K8S_POD), 3);
	CHECK_INT(pod_ip(m, "shop", "a"), 1);
	CHECK_INT(pod_ip(m, "shop", "b"), 2);
	CHECK_INT(pod_ip(m, "default", "c"), 3);
	CHECK(model_get(m, K8S_NAMESPACE, "", "shop") != NULL);
	CHECK(model_get(m, K8S_NODE, "", "node-1") != NULL);
	CHECK_INT(count(m, K8S_NAMESPACE), 1);
	CHECK_INT(count(m, K8S_NODE), 1);
	/* nothing pending */
	CHECK_INT(files_ds_process(ds), 0);
	files_ds_close(ds);
out:
	model_free(m);
	teardown(dir);
}

static void add_edit_remove(void)
{
	struct model *m = model_new();
	struct files_ds *ds = NULL;
	char buf[4096];

	setup();
	CHECK_INT(files_ds_open(dir, m, &ds), 0);
	if (!ds)
		goto out;
	CHECK_INT(count(m, K8S_POD), 0);

	/* add */
	snprintf(buf, sizeof(buf), "%s---\n%s", pod_yaml("default", "a", "10.0.0.1"),
		 pod_yaml("default", "b", "10.0.0.2"));
	put("pods.yaml", buf);
	CHECK_INT(process(ds), 2);
	CHECK_INT(pod_ip(m, "default", "a"), 1);
	CHECK_INT(pod_ip(m, "default", "b"), 2);

	/* rewritten unchanged: no model change */
	put("pods.yaml", buf);
	CHECK_INT(process(ds), 0);

	/* edit: a changes, b goes, c comes */
	snprintf(buf, sizeof(buf), "%s---\n%s", pod_yaml("default", "a", "10.0.0.11"),
		 pod_yaml("default", "c", "10.0.0.3"));
	put("pods.yaml", buf);
	CHECK_INT(process(ds), 3);
	CHECK_INT(pod_ip(m, "default", "a"), 11);
	CHECK_INT(pod_ip(m, "default", "b"), -1);
	CHECK_INT(pod_ip(m, "default", "c"), 3);

	/* emptied: its objects go */
	put("pods.yaml", "# nothing here\n");
	CHECK_INT(process(ds), 2);
	CHECK_INT(count(m, K8S_POD), 0);

	/* removed */
	put("pods.yaml", pod_yaml("default", "a", "10.0.0.1"));
	CHECK_INT(process(ds), 1);
	del("pods.yaml");
	CHECK_INT(process(ds), 1);
	CHECK_INT(count(m, K8S_POD), 0);

	/* names that are not manifests are ignored */
	put("notes.txt", pod_yaml("default", "n", "10.0.0.9"));
	put("pods.yaml~", pod_yaml("default", "n", "10.0.0.9"));
	put(".pods.yaml.swp", pod_yaml("default", "n", "10.0.0.9"));
	CHECK_INT(process(ds), 0);
	CHECK_INT(count(m, K8S_POD), 0);
	files_ds_close(ds);
out:
	model_free(m);
	teardown(dir);
}

static void renames(void)
{
	struct model *m = model_new();
	struct files_ds *ds = NULL;
	char target[256], link[256];

	setup();
	CHECK_INT(files_ds_open(dir, m, &ds), 0);
	if (!ds)
		goto out;
	/* written elsewhere, renamed in: applied at once */
	put("pods.yaml.tmp", pod_yaml("default", "a", "10.0.0.1"));
	CHECK_INT(process(ds), 0);
	mv("pods.yaml.tmp", "pods.yaml");
	CHECK_INT(process(ds), 1);
	CHECK_INT(pod_ip(m, "default", "a"), 1);

	/* replaced by rename (the atomic way editors and kubectl-like tools
	 * write): the difference applies */
	put(".pods.yaml.new", pod_yaml("default", "a", "10.0.0.2"));
	mv(".pods.yaml.new", "pods.yaml");
	CHECK_INT(process(ds), 1);
	CHECK_INT(pod_ip(m, "default", "a"), 2);

	/* renamed away: removed */
	mv("pods.yaml", "pods.yaml.disabled");
	CHECK_INT(process(ds), 1);
	CHECK_INT(pod_ip(m, "default", "a"), -1);

	/* renamed between two manifest names: same objects, other owner */
	mv("pods.yaml.disabled", "one.yaml");
	CHECK_INT(process(ds), 1);
	mv("one.yaml", "two.yaml");
	CHECK_INT(process(ds), 2); /* deleted by MOVED_FROM, back by MOVED_TO */
	CHECK_INT(pod_ip(m, "default", "a"), 2);

	/* a symlink is applied when created */
	snprintf(target, sizeof(target), "%s/target.txt", dir);
	snprintf(link, sizeof(link), "%s/link.yaml", dir);
	put("target.txt", pod_yaml("default", "l", "10.0.0.7"));
	CHECK_INT(process(ds), 0);
	CHECK_INT(symlink(target, link), 0);
	CHECK_INT(process(ds), 1);
	CHECK_INT(pod_ip(m, "default", "l"), 7);
	files_ds_close(ds);
out:
	model_free(m);
	teardown(dir);
}

static void bad_document(void)
{
	struct model *m = model_new();
	struct files_ds *ds = NULL;
	char buf[4096], want[512];
	char *log;
	int bad_line;

	setup();
	CHECK_INT(files_ds_open(dir, m, &ds), 0);
	if (!ds)
		goto out;
	/* the middle one of three documents names a bad IP; its podIPs[0].ip
	 * is on the last line of the second document: each takes doc_lines
	 * lines, and "---" one */
	snprintf(buf, sizeof(buf), "%s---\n%s---\n%s", pod_yaml("default", "a", "10.0.0.1"),
		 pod_yaml("default", "bad", "10.0.0.300"), pod_yaml("default", "c", "10.0.0.3"));
	bad_line = 1;
	for (const char *p = pod_yaml("default", "a", "10.0.0.1"); *p; p++)
		bad_line += 2 * (*p == '\n');
	put("three.yaml", buf);
	capture_begin();
	CHECK_INT(process(ds), 2);
	log = capture_end();
	CHECK_INT(pod_ip(m, "default", "a"), 1);
	CHECK_INT(pod_ip(m, "default", "bad"), -1);
	CHECK_INT(pod_ip(m, "default", "c"), 3);
	snprintf(want, sizeof(want), "%s/three.yaml:%d:9: Pod default/bad: status.podIPs[0].ip: "
		 "\"10.0.0.300\" is not an IP address", dir, bad_line);
	CHECK_LOGGED(log, want);
	free(log);

	/* a YAML syntax error in the middle document: the others still apply */
	snprintf(buf, sizeof(buf), "%s---\nkind: Pod\nmetadata: {name: [x\n---\n%s",
		 pod_yaml("default", "a", "10.0.0.1"), pod_yaml("default", "c", "10.0.0.33"));
	put("three.yaml", buf);
	capture_begin();
	CHECK_INT(process(ds), 1);
	log = capture_end();
	CHECK_INT(pod_ip(m, "default", "c"), 33);
	snprintf(want, sizeof(want), "%s/three.yaml:", dir);
	CHECK_LOGGED(log, want);
	free(log);

	/* an unreadable replacement (not a regular file) keeps the objects */
	{
		char fifo[256];

		snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
		CHECK_INT(mkfifo(fifo, 0644), 0);
		capture_begin();
		mv("fifo", "three.yaml");
		CHECK_INT(process(ds), 0);
		log = capture_end();
		CHECK_LOGGED(log, "three.yaml: not a regular file");
		free(log);
		CHECK_INT(pod_ip(m, "default", "a"), 1);
		CHECK_INT(pod_ip(m, "default", "c"), 33);
	}
	files_ds_close(ds);
out:
	model_free(m);
	teardown(dir);
}

static void shared_object(void)
{
	struct model *m = model_new();
	struct files_ds *ds = NULL;
	char buf[4096];
	char *log;

	setup();
	/* at start-up the newer file wins, whatever the names */
	put("a.yaml", pod_yaml("default", "x", "10.0.0.1"));
	put("b.yaml", pod_yaml("default", "x", "10.0.0.2"));
	set_mtime("a.yaml", 2000000000);
	set_mtime("b.yaml", 1000000000);
	CHECK_INT(files_ds_open(dir, m, &ds), 0);
	if (!ds)
		goto out;
	CHECK_INT(pod_ip(m, "default", "x"), 1);

	/* a write makes b the latest: its version wins */
	snprintf(buf, sizeof(buf), "%s---\n%s", pod_yaml("default", "x", "10.0.0.2"),
		 pod_yaml("default", "y", "10.0.0.5"));
	put("b.yaml", buf);
	CHECK_INT(process(ds), 2);
	CHECK_INT(pod_ip(m, "default", "x"), 2);

	/* b drops x: a still defines it, so a's version comes back */
	put("b.yaml", pod_yaml("default", "y", "10.0.0.5"));
	CHECK_INT(process(ds), 1);
	CHECK_INT(pod_ip(m, "default", "x"), 1);

	/* b defines it again and wins; deleting a (not the winner) keeps b's */
	put("b.yaml", buf);
	CHECK_INT(process(ds), 1);
	CHECK_INT(pod_ip(m, "default", "x"), 2);
	del("a.yaml");
	CHECK_INT(process(ds), 0);
	CHECK_INT(pod_ip(m, "default", "x"), 2);

	/* a back, then b deleted: a's version, not a deletion */
	put("a.yaml", pod_yaml("default", "x", "10.0.0.1"));
	CHECK_INT(process(ds), 1);
	CHECK_INT(pod_ip(m, "default", "x"), 1);
	put("b.yaml", buf);
	CHECK_INT(process(ds), 1);
	del("b.yaml");
	CHECK_INT(process(ds), 2); /* y deleted, x back to a's */
	CHECK_INT(pod_ip(m, "default", "x"), 1);
	CHECK_INT(pod_ip(m, "default", "y"), -1);

	/* the last file defining it goes: now it is deleted */
	del("a.yaml");
	CHECK_INT(process(ds), 1);
	CHECK_INT(count(m, K8S_POD), 0);

	/* one object twice in one file: the later document wins */
	snprintf(buf, sizeof(buf), "%s---\n%s", pod_yaml("default", "x", "10.0.0.1"),
		 pod_yaml("default", "x", "10.0.0.4"));
	put("twice.yaml", buf);
	capture_begin();
	CHECK_INT(process(ds), 2);
	log = capture_end();
	CHECK_LOGGED(log, "twice.yaml: defines Pod default/x twice; the later one applies");
	free(log);
	CHECK_INT(pod_ip(m, "default", "x"), 4);
	del("twice.yaml");
	CHECK_INT(process(ds), 1);
	CHECK_INT(count(m, K8S_POD), 0);
	files_ds_close(ds);
out:
	model_free(m);
	teardown(dir);
}

/* A ConfigMap volume: visible names are symlinks into "..data", which is
 * swapped by rename to publish an update. */
static void configmap_volume(void)
{
	struct model *m = model_new();
	struct files_ds *ds = NULL;
	char path[256];

	setup();
	snprintf(path, sizeof(path), "%s/..v1", dir);
	CHECK_INT(mkdir(path, 0755), 0);
	put("..v1/pods.yaml", pod_yaml("default", "a", "10.0.0.1"));
	snprintf(path, sizeof(path), "%s/..data", dir);
	CHECK_INT(symlink("..v1", path), 0);
	snprintf(path, sizeof(path), "%s/pods.yaml", dir);
	CHECK_INT(symlink("..data/pods.yaml", path), 0);
	CHECK_INT(files_ds_open(dir, m, &ds), 0);
	if (!ds)
		goto out;
	CHECK_INT(pod_ip(m, "default", "a"), 1);

	snprintf(path, sizeof(path), "%s/..v2", dir);
	CHECK_INT(mkdir(path, 0755), 0);
	put("..v2/pods.yaml", pod_yaml("default", "a", "10.0.0.2"));
	snprintf(path, sizeof(path), "%s/..data_tmp", dir);
	CHECK_INT(symlink("..v2", path), 0);
	mv("..data_tmp", "..data");
	CHECK_INT(process(ds), 1);
	CHECK_INT(pod_ip(m, "default", "a"), 2);
	files_ds_close(ds);
out:
	model_free(m);
	teardown(dir);
}

static void directory_gone(void)
{
	struct model *m = model_new();
	struct files_ds *ds = NULL;
	char moved[128], path[256];
	char *log;

	setup();
	put("pods.yaml", pod_yaml("default", "a", "10.0.0.1"));
	CHECK_INT(files_ds_open(dir, m, &ds), 0);
	if (!ds)
		goto out;
	snprintf(moved, sizeof(moved), "%s-moved", dir);
	CHECK_INT(rename(dir, moved), 0);
	capture_begin();
	CHECK_INT(process(ds), 0);
	log = capture_end();
	CHECK_LOGGED(log, "the directory was removed or moved");
	free(log);
	/* the objects stay, and later events are not misread */
	CHECK_INT(pod_ip(m, "default", "a"), 1);
	snprintf(path, sizeof(path), "%s/pods.yaml", moved);
	CHECK_INT(unlink(path), 0);
	CHECK_INT(files_ds_process(ds), 0);
	CHECK_INT(pod_ip(m, "default", "a"), 1);
	teardown(moved);
	files_ds_close(ds);
out:
	model_free(m);
	teardown(dir);
}

static void open_errors(void)
{
	struct model *m = model_new();
	struct files_ds *ds = NULL;
	char *log;

	capture_begin();
	CHECK_INT(files_ds_open("/nonexistent/tern-files", m, &ds), -ENOENT);
	log = capture_end();
	CHECK_LOGGED(log, "/nonexistent/tern-files");
	free(log);
	CHECK(ds == NULL);
	model_free(m);
}

int main(void)
{
	UNIT_BEGIN("files");
	log_set_level(TERN_LOG_WARN);
	RUN(initial_load);
	RUN(add_edit_remove);
	RUN(renames);
	RUN(bad_document);
	RUN(shared_object);
	RUN(configmap_volume);
	RUN(directory_gone);
	RUN(open_errors);
	return UNIT_END();
}
