/* Links pinned in bpffs: adopt one from an earlier run (swapping its
 * program atomically), pin a new one, detach and unpin. tc_hook.c and
 * cg_hook.c build on these. */
#ifndef TERN_LINK_PIN_H
#define TERN_LINK_PIN_H

/* Whether the pinned link (fd) still attaches where it should. */
typedef int (*link_pin_match_fn)(int link_fd, const void *arg);

/* A link pinned at pin that match() accepts is kept and pointed at
 * prog_fd: returns 1. A stale one is unpinned: 0 (as when there is none).
 * -errno on failure. */
int link_pin__adopt(const char *pin, int prog_fd, link_pin_match_fn match, const void *arg);
/* Pin link_fd at pin and close it; on failure the link goes. 0 or -errno. */
int link_pin__pin(int link_fd, const char *pin);
/* Detach the link pinned at pin and unpin it; 0 also when there is none. */
int link_pin__detach(const char *pin);

#endif
