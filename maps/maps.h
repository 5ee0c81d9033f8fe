/* Pinned maps: create-or-reuse under bpf.pinPath, migrate on resize, open
 * for inspection.
 *
 * The rule for a pinned map whose shape differs from what the program now
 * wants (docs/maps.md):
 *  - same type, key and value size, other max_entries or flags: a new map
 *    is created and every entry copied into it, then it replaces the pin;
 *  - other type, key or value size under the same name: the layout changed
 *    without a version bump (a bug); the old map is replaced, never read;
 *  - a layout change gets a new versioned name (tern_ct_v1 -> tern_ct_v2);
 *    pinned tern_* maps no current program uses are removed after load. */
#ifndef TERN_MAPS_H
#define TERN_MAPS_H

#include <stdbool.h>
#include <bpf/libbpf.h>
#include <linux/types.h>

#define BPF_FS_MAGIC_VALUE 0xcafe4a11

struct map_size {
	const char *name;
	__u32 max_entries;
};

struct maps_migration; /* pins set aside for copying, from maps__prepare */

/* Make sure pin_path is a directory on bpffs (mounting bpffs on
 * /sys/fs/bpf when nothing is mounted there), with links/tc-in and
 * links/tc-out under it. */
int pin_dir__ensure(const char *pin_path);

/* Before load: size obj's tern_* maps from sizes (NULL-terminated), reuse
 * compatible pinned maps and set pin paths for the rest. */
int maps__prepare(struct bpf_object *obj, const char *pin_path,
		  const struct map_size *sizes, struct maps_migration **mig);
/* After load: copy entries from set-aside maps into their replacements
 * and drop the old pins. */
int maps__finish(struct maps_migration *mig);
/* Load failed: put set-aside pins back as they were. */
void maps__abort(struct maps_migration *mig);
/* Unpin tern_* maps under pin_path that no name in keep[] (NULL-terminated) uses. */
int maps__remove_stale(const char *pin_path, const char *const *keep);

/* Open a pinned map by name for inspection; fd or -errno. */
int map__open_pinned(const char *pin_path, const char *name);
/* Number of entries (walks the keys). */
long map__count(int fd);
int map__max_entries(int fd);

#endif
