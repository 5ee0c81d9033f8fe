/* Loading a compiled piece: BPF_PROG_TYPE_SCHED_CLS with its maps passed as
 * an fd_array and its descriptions as BTF line info; on failure the
 * verifier's log is captured and its tail logged. */
#ifndef TERN_POLICY_LOAD_H
#define TERN_POLICY_LOAD_H

#include "policy/codegen.h"

/* Piece index of prog (0: the first) into the kernel; fds: the maps by
 * slot. Returns the program fd, or -errno after logging why. */
int pol_piece_load(const struct pol_prog *prog, size_t index, const int fds[POL_MAP_COUNT]);

/* Whether the kernel's tag of program fd is piece p's (SHA-256 on Linux
 * 6.18+, SHA-1 before: either prefix counts). 1, 0, or -errno. */
int pol_piece_is_loaded_as(const struct pol_piece *p, int fd);

#endif
