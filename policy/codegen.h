/* The policy compiler: an endpoint's rules for one direction -> BPF
 * instructions (struct bpf_insn, emitted directly), split into chained
 * pieces past a size limit, each piece with its descriptions (line info)
 * and its digest. The output depends on nothing but its input: the same
 * rules give byte-identical programs. */
#ifndef TERN_POLICY_CODEGEN_H
#define TERN_POLICY_CODEGEN_H

#include <stddef.h>
#include <stdint.h>
#include <linux/bpf.h>
#include <tern/policy.h>

#include "policy/rules.h"
#include "policy/sha256.h"

/* The maps a program names, as slots of the fd_array it is loaded with
 * (BPF_PSEUDO_MAP_IDX): no file descriptor ends up in the instructions. */
enum pol_map_slot {
	POL_MAP_POLCTX = 0,
	POL_MAP_IPSET,
	POL_MAP_POLCNT,
	POL_MAP_JMP,
	POL_MAP_COUNT,
};
extern const char *const pol_map_names[POL_MAP_COUNT];

#define POL_PIECE_INSNS_DEFAULT 32000 /* jump offsets are 16 bits */
#define POL_PIECE_INSNS_MIN 128
#define POL_PIECES_MAX (1 + TERN_JMP_CHAIN_PIECES)

/* A description of the code from instruction insn on (a rule, the deny
 * path, ...); loaded as the program's BTF line info, so the kernel keeps
 * it with the program and bpftool and ternctl show it. */
struct pol_line {
	uint32_t insn;
	char *text;
};

struct pol_piece {
	struct bpf_insn *insns;
	size_t n;
	struct pol_line *lines;
	size_t n_lines;
	uint8_t digest[SHA256_LEN]; /* SHA-256 of the instructions */
};

struct pol_prog {
	int dir;
	size_t n_rules;            /* counter keys: rules 0 .. n_rules-1, and NONE */
	unsigned bank;             /* chain bank of pieces[1..]; 0 with one piece */
	size_t n_pieces;
	struct pol_piece pieces[POL_PIECES_MAX];
};

struct pol_codegen_opts {
	size_t piece_insns;        /* start a new piece past this; 0: the default */
	unsigned bank;             /* TERN_JMP_CHAIN bank for pieces after the first */
};

/* Compile rules (with their set ids resolved) for dir. 0; -E2BIG when
 * more than POL_PIECES_MAX pieces would be needed; -ENOMEM. */
int pol_compile(int dir, const struct pol_rule *rules, size_t n,
		const struct pol_codegen_opts *o, struct pol_prog *out);
void pol_prog_free(struct pol_prog *p);

/* Digest as lowercase hex; the first 16 digits are the kernel's tag. */
const char *pol_digest_hex(const uint8_t d[SHA256_LEN], char buf[2 * SHA256_LEN + 1]);

#endif
