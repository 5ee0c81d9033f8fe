/* A BPF instruction listing in the kernel verifier's syntax, with a
 * program's descriptions (line info) between the instructions: for the
 * compiler's own output (tests) and for what the kernel holds (ternctl,
 * the translated program). */
#ifndef TERN_POLICY_DISASM_H
#define TERN_POLICY_DISASM_H

#include <stddef.h>
#include <stdio.h>
#include <linux/bpf.h>

#include "policy/codegen.h"

struct disasm_opts {
	/* the names of maps referenced by fd_array slot (BPF_PSEUDO_MAP_IDX) */
	const char *const *slot_names;
	size_t n_slot_names;
	/* a call's target, when its imm is not a helper number (the kernel's
	 * translated calls hold an address offset); NULL: the helper table */
	const char *(*call_name)(const struct bpf_insn *in, void *arg);
	/* a map by id, for translated programs (BPF_PSEUDO_MAP_FD holds ids) */
	const char *(*map_name)(__u32 id, void *arg);
	void *arg;
};

/* One instruction (two for a 64-bit load) as text into buf; returns how
 * many instructions it took. */
size_t disasm_insn(const struct bpf_insn *in, size_t left, const struct disasm_opts *o,
		   char *buf, size_t len);
/* The listing: "; description" lines, then "  12: r1 = r6". */
void disasm_listing(FILE *f, const struct bpf_insn *insns, size_t n,
		    const struct pol_line *lines, size_t n_lines, const struct disasm_opts *o);

#endif
