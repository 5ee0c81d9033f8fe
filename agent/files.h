/* The files datastore: a directory of Kubernetes manifests (*.yaml, *.yml,
 * *.json), several documents per file, watched with inotify. Each file owns
 * the objects it last held: editing a file applies the difference, removing
 * it removes its objects. A bad document is logged (file:line) and skipped;
 * the file's other documents still apply. An object several files define
 * takes the version of the file written last; it leaves the model only when
 * no file defines it any more (see files.c). */
#ifndef TERN_FILES_H
#define TERN_FILES_H

#include "agent/model.h"

struct files_ds;

/* Read every manifest in dir into m and start watching. 0 or -errno. */
int files_ds_open(const char *dir, struct model *m, struct files_ds **out);
/* The inotify fd to poll for readability. */
int files_ds_fd(const struct files_ds *ds);
/* Handle every pending event without blocking; returns the number of
 * model changes, or -errno. */
int files_ds_process(struct files_ds *ds);
void files_ds_close(struct files_ds *ds);

#endif
