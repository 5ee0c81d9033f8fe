/* The policy compiler (codegen.h). A piece of a program:
 *
 *   prologue   r6 = skb, r7 = &scratch.pol, the ipset lookup key on the
 *              stack (prefixlen FULL, set id, peer, port, proto)
 *   rule k     ports first (compares, then named-port sets),
 *              then peer sets (LPM lookups); a match sets r8 = k,
 *              r9 = ALLOW and jumps to done; a miss falls into rule k+1
 *   deny       r8 = RULE_NONE, r9 = DENY              (last piece)
 *   or next    tail call to the next piece; if it is missing: deny
 *   done       verdict and rule into the context, bump the counter
 *              {ctx.ep_id, dir, r8}, tail call ctx.cont
 *
 * Registers r6-r9 survive helper calls; r0-r5 are scratch. Stack:
 * [-4] zero key, [-32..-5] ipset key, [-40..-33] counter key. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/pkt_cls.h>

#include "policy/codegen.h"

const char *const pol_map_names[POL_MAP_COUNT] = {
	[POL_MAP_POLCTX] = TERN_MAP_POLCTX,
	[POL_MAP_IPSET] = TERN_MAP_IPSET,
	[POL_MAP_POLCNT] = TERN_MAP_POLCNT,
	[POL_MAP_JMP] = TERN_MAP_JMP,
};

/* stack offsets from r10 */
#define FP_ZERO      -4
#define FP_KEY       -32   /* struct tern_ipset_key */
#define FP_KEY_SET   -28
#define FP_KEY_ADDR  -24
#define FP_KEY_PORT  -8
#define FP_CNT       -40   /* struct tern_polcnt_key */
#define FP_CNT_RULE  -36
#define FP_CNT_DIR   -34
#define FP_CNT_PAD   -33

/* context offsets (struct tern_pol_ctx) */
#define CTX_PORT     16
#define CTX_PROTO    18
#define CTX_EP_ID    20
#define CTX_CONT     24
#define CTX_VERDICT  28
#define CTX_RULE     32

/* what a piece's end (next/deny + done) takes at most */
#define EPILOGUE_MAX 48

_Static_assert(FP_KEY + (int)sizeof(struct tern_ipset_key) <= FP_ZERO, "key below the zero");
_Static_assert(FP_CNT + (int)sizeof(struct tern_polcnt_key) <= FP_KEY, "counter key below");

/* ---- the assembler: instructions, labels, jumps to labels, lines ---- */

struct fixup {
	size_t at;    /* the jump */
	int label;
};

struct as {
	struct bpf_insn *v;
	size_t n, cap;
	struct fixup *fix;
	size_t n_fix, cap_fix;
	long *label_at;     /* -1: not placed yet */
	size_t n_labels, cap_labels;
	struct pol_line *lines;
	size_t n_lines, cap_lines;
	int err;
};

/* Where to roll back to when a rule does not fit a piece. */
struct as_mark {
	size_t n, n_fix, n_lines;
};

static int grow(void **arr, size_t *cap, size_t need, size_t size)
{
	size_t c = *cap ? *cap : 64;
	void *p;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	p = realloc(*arr, c * size);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = c;
	return 0;
}

static void emit(struct as *a, __u8 code, __u8 dst, __u8 src, __s16 off, __s32 imm)
{
	if (a->err || (a->err = grow((void **)&a->v, &a->cap, a->n + 1, sizeof(*a->v))))
		return;
	a->v[a->n++] = (struct bpf_insn){
		.code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm,
	};
}

static int label_new(struct as *a)
{
	if (a->err ||
	    (a->err = grow((void **)&a->label_at, &a->cap_labels, a->n_labels + 1, sizeof(long))))
		return 0;
	a->label_at[a->n_labels] = -1;
	return (int)a->n_labels++;
}

static void label_here(struct as *a, int l)
{
	if (!a->err)
		a->label_at[l] = (long)a->n;
}

/* A jump to label l; its offset is filled in by as_resolve. */
static void emit_jmp(struct as *a, __u8 code, __u8 dst, __u8 src, __s32 imm, int l)
{
	if (a->err ||
	    (a->err = grow((void **)&a->fix, &a->cap_fix, a->n_fix + 1, sizeof(*a->fix))))
		return;
	a->fix[a->n_fix++] = (struct fixup){ .at = a->n, .label = l };
	emit(a, code, dst, src, 0, imm);
}

/* A description from the next instruction on; joins one already there. */
__attribute__((format(printf, 2, 3)))
static void line(struct as *a, const char *fmt, ...)
{
	struct pol_line *last = a->n_lines ? &a->lines[a->n_lines - 1] : NULL;
	char *text = NULL, *joined = NULL;
	va_list ap;
	int len;

	if (a->err)
		return;
	va_start(ap, fmt);
	len = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (len < 0) {
		a->err = -ENOMEM;
		return;
	}
	if (last && last->insn == a->n) {
		if (asprintf(&joined, "%s\n%s", last->text, text) < 0) {
			a->err = -ENOMEM;
		} else {
			free(last->text);
			last->text = joined;
		}
		free(text);
		return;
	}
	if ((a->err = grow((void **)&a->lines, &a->cap_lines, a->n_lines + 1, sizeof(*a->lines)))) {
		free(text);
		return;
	}
	a->lines[a->n_lines++] = (struct pol_line){ .insn = (uint32_t)a->n, .text = text };
}

static struct as_mark as_mark(const struct as *a)
{
	return (struct as_mark){ .n = a->n, .n_fix = a->n_fix, .n_lines = a->n_lines };
}

static void as_rollback(struct as *a, struct as_mark m)
{
	a->n = m.n;
	a->n_fix = m.n_fix;
	while (a->n_lines > m.n_lines)
		free(a->lines[--a->n_lines].text);
	/* labels placed past the mark are never jumped to any more */
}

static int as_resolve(struct as *a)
{
	for (size_t i = 0; i < a->n_fix && !a->err; i++) {
		long to = a->label_at[a->fix[i].label];
		long off = to - (long)a->fix[i].at - 1;

		if (to < 0 || off < -32768 || off > 32767)
			a->err = -EINVAL; /* a bug: a label never placed, or too far */
		else
			a->v[a->fix[i].at].off = (__s16)off;
	}
	return a->err;
}

static void as_free(struct as *a)
{
	for (size_t i = 0; i < a->n_lines; i++)
		free(a->lines[i].text);
	free(a->v);
	free(a->fix);
	free(a->label_at);
	free(a->lines);
	memset(a, 0, sizeof(*a));
}

/* ---- instruction shapes ---- */

#define R0 BPF_REG_0
#define R1 BPF_REG_1
#define R2 BPF_REG_2
#define R3 BPF_REG_3
#define R6 BPF_REG_6
#define R7 BPF_REG_7
#define R8 BPF_REG_8
#define R9 BPF_REG_9
#define FP BPF_REG_10

static void mov_reg(struct as *a, __u8 dst, __u8 src)
{
	emit(a, BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0);
}

static void mov_imm(struct as *a, __u8 dst, __s32 imm)
{
	emit(a, BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm);
}

static void alu_imm(struct as *a, __u8 op, __u8 dst, __s32 imm)
{
	emit(a, BPF_ALU64 | op | BPF_K, dst, 0, 0, imm);
}

static void ldx(struct as *a, __u8 size, __u8 dst, __u8 src, __s16 off)
{
	emit(a, BPF_LDX | BPF_MEM | size, dst, src, off, 0);
}

static void stx(struct as *a, __u8 size, __u8 dst, __s16 off, __u8 src)
{
	emit(a, BPF_STX | BPF_MEM | size, dst, src, off, 0);
}

static void st(struct as *a, __u8 size, __u8 dst, __s16 off, __s32 imm)
{
	emit(a, BPF_ST | BPF_MEM | size, dst, 0, off, imm);
}

static void ld_map(struct as *a, __u8 dst, enum pol_map_slot slot)
{
	emit(a, BPF_LD | BPF_IMM | BPF_DW, dst, BPF_PSEUDO_MAP_IDX, 0, slot);
	emit(a, 0, 0, 0, 0, 0);
}

static void call(struct as *a, __s32 helper)
{
	emit(a, BPF_JMP | BPF_CALL, 0, 0, 0, helper);
}

static void jmp_imm(struct as *a, __u8 op, __u8 dst, __s32 imm, int l)
{
	emit_jmp(a, BPF_JMP | op | BPF_K, dst, 0, imm, l);
}

static void ja(struct as *a, int l)
{
	emit_jmp(a, BPF_JMP | BPF_JA, 0, 0, 0, l);
}

static void exit_with(struct as *a, __s32 ret)
{
	mov_imm(a, R0, ret);
	emit(a, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
}

/* ---- the program's parts ---- */

static void prologue(struct as *a)
{
	int have_ctx = label_new(a);

	mov_reg(a, R6, R1);
	st(a, BPF_W, FP, FP_ZERO, 0);
	ld_map(a, R1, POL_MAP_POLCTX);
	mov_reg(a, R2, FP);
	alu_imm(a, BPF_ADD, R2, FP_ZERO);
	call(a, BPF_FUNC_map_lookup_elem);
	jmp_imm(a, BPF_JNE, R0, 0, have_ctx);
	exit_with(a, TC_ACT_SHOT);
	label_here(a, have_ctx);
	mov_reg(a, R7, R0);
	/* the lookup key: everything but the set id, which each lookup sets */
	st(a, BPF_W, FP, FP_KEY, TERN_IPSET_PREFIX_FULL);
	for (int w = 0; w < 4; w++) {
		ldx(a, BPF_W, R1, R7, (__s16)(w * 4));
		stx(a, BPF_W, FP, (__s16)(FP_KEY_ADDR + w * 4), R1);
	}
	/* port, proto and a byte past the prefix, in one word */
	ldx(a, BPF_W, R1, R7, CTX_PORT);
	stx(a, BPF_W, FP, FP_KEY_PORT, R1);
}

/* Is the peer (with port and proto) in set id? Jumps to l when it is. */
static void in_set(struct as *a, uint32_t id, int l)
{
	int miss = label_new(a);

	st(a, BPF_W, FP, FP_KEY_SET, (__s32)htonl(id));
	ld_map(a, R1, POL_MAP_IPSET);
	mov_reg(a, R2, FP);
	alu_imm(a, BPF_ADD, R2, FP_KEY);
	call(a, BPF_FUNC_map_lookup_elem);
	jmp_imm(a, BPF_JEQ, R0, 0, miss);
	ldx(a, BPF_W, R1, R0, 0);
	jmp_imm(a, BPF_JEQ, R1, TERN_IPSET_MEMBER, l);
	label_here(a, miss);
}

/* The flow's port and protocol against one range; to l when inside.
 * Each check loads them afresh from the context into r1: a compare on a
 * register that lives on would teach the verifier its value on one path
 * and not the other, and the states it then keeps apart at every later
 * rule make verification quadratic in the number of rules. */
static void in_range(struct as *a, const struct pol_port *p, int l)
{
	int next = label_new(a);

	ldx(a, BPF_B, R1, R7, CTX_PROTO);
	jmp_imm(a, BPF_JNE, R1, p->proto, next);
	if (p->lo == 0 && p->hi == 65535) {
		ja(a, l);
		label_here(a, next);
		return;
	}
	ldx(a, BPF_H, R1, R7, CTX_PORT);
	emit(a, BPF_ALU | BPF_END | BPF_TO_BE, R1, 0, 0, 16);
	if (p->lo == p->hi) {
		jmp_imm(a, BPF_JEQ, R1, p->lo, l);
	} else {
		if (p->lo)
			jmp_imm(a, BPF_JLT, R1, p->lo, next);
		if (p->hi == 65535)
			ja(a, l);
		else
			jmp_imm(a, BPF_JLE, R1, p->hi, l);
	}
	label_here(a, next);
}

/* "rule k: description {sets 0x..}": the ids ternctl ipsets dump shows */
static void rule_line(struct as *a, const struct pol_rule *r, size_t k)
{
	char sets[128] = "";
	size_t n = 0;

	for (size_t i = 0; i < r->n_peers + r->n_ports && n < sizeof(sets) - 16; i++) {
		uint32_t id = i < r->n_peers ? r->peer_ids[i] : r->ports[i - r->n_peers].set_id;

		if (i < r->n_peers || r->ports[i - r->n_peers].set)
			n += (size_t)snprintf(sets + n, sizeof(sets) - n, "%s0x%08x",
					      n ? " " : " {sets ", id);
	}
	line(a, "rule %zu: %s%s%s", k, r->desc, sets, n ? "}" : "");
}

/* Rule k; returns 1 when it matches every flow (the rest is unreachable). */
static int rule(struct as *a, const struct pol_rule *r, size_t k, int done)
{
	int next = label_new(a), peers = label_new(a);

	rule_line(a, r, k);
	if (r->n_ports) {
		for (size_t i = 0; i < r->n_ports; i++)
			if (!r->ports[i].set)
				in_range(a, &r->ports[i], peers);
		for (size_t i = 0; i < r->n_ports; i++)
			if (r->ports[i].set)
				in_set(a, r->ports[i].set_id, peers);
		ja(a, next);
	}
	label_here(a, peers);
	if (r->n_peers) {
		int match = label_new(a);

		for (size_t i = 0; i < r->n_peers; i++) {
			size_t j;

			for (j = 0; j < i && r->peer_ids[j] != r->peer_ids[i]; j++)
				;
			if (j == i) /* each set once */
				in_set(a, r->peer_ids[i], match);
		}
		ja(a, next);
		label_here(a, match);
	}
	mov_imm(a, R8, (__s32)k);
	mov_imm(a, R9, TERN_POL_ALLOW);
	ja(a, done);
	label_here(a, next);
	return !r->n_ports && !r->n_peers;
}

static void deny(struct as *a)
{
	line(a, "no rule matched: deny");
	mov_imm(a, R8, TERN_POL_RULE_NONE);
	mov_imm(a, R9, TERN_POL_DENY);
}

/* Rules from `from` on are in piece p+1 (chain slot p of the bank). */
static void next_piece(struct as *a, int dir, unsigned bank, size_t p, size_t from)
{
	line(a, "rules %zu.. continue in piece %zu (jump slot TERN_JMP_CHAIN(ep, %d, %u, %zu))",
	     from, p + 2, dir, bank, p);
	mov_reg(a, R1, R6);
	ld_map(a, R2, POL_MAP_JMP);
	ldx(a, BPF_W, R3, R7, CTX_EP_ID);
	/* TERN_JMP_CHAIN(ep_id, dir, bank, p), with ep_id from the context */
	alu_imm(a, BPF_LSH, R3, 5);
	_Static_assert(4 * TERN_JMP_CHAIN_PIECES == 1 << 5, "chain stride is a shift");
	alu_imm(a, BPF_ADD, R3,
		(__s32)TERN_JMP_CHAIN(0, (unsigned)dir, bank, p));
	call(a, BPF_FUNC_tail_call);
	/* no next piece: fail closed */
}

static void done_part(struct as *a, int dir, int done)
{
	int no_counter = label_new(a);

	label_here(a, done);
	line(a, "count rule r8 for ctx.ep_id, write the verdict, continue at ctx.cont");
	stx(a, BPF_W, R7, CTX_VERDICT, R9);
	stx(a, BPF_W, R7, CTX_RULE, R8);
	ldx(a, BPF_W, R1, R7, CTX_EP_ID);
	stx(a, BPF_W, FP, FP_CNT, R1);
	stx(a, BPF_H, FP, FP_CNT_RULE, R8);
	st(a, BPF_B, FP, FP_CNT_DIR, dir);
	st(a, BPF_B, FP, FP_CNT_PAD, 0);
	ld_map(a, R1, POL_MAP_POLCNT);
	mov_reg(a, R2, FP);
	alu_imm(a, BPF_ADD, R2, FP_CNT);
	call(a, BPF_FUNC_map_lookup_elem);
	jmp_imm(a, BPF_JEQ, R0, 0, no_counter);
	ldx(a, BPF_DW, R1, R0, 0);
	alu_imm(a, BPF_ADD, R1, 1); /* per-CPU: no atomics needed */
	stx(a, BPF_DW, R0, 0, R1);
	label_here(a, no_counter);
	mov_reg(a, R1, R6);
	ld_map(a, R2, POL_MAP_JMP);
	ldx(a, BPF_W, R3, R7, CTX_CONT);
	call(a, BPF_FUNC_tail_call);
	exit_with(a, TC_ACT_SHOT);
}

/* ---- pieces ---- */

static int piece_take(struct as *a, struct pol_piece *p)
{
	if (as_resolve(a))
		return a->err;
	p->insns = a->v;
	p->n = a->n;
	p->lines = a->lines;
	p->n_lines = a->n_lines;
	sha256(p->insns, p->n * sizeof(*p->insns), p->digest);
	a->v = NULL;
	a->lines = NULL;
	a->n_lines = 0;
	as_free(a);
	return 0;
}

/* One piece from rule *k on; *k moves past what it holds. */
static int piece(int dir, const struct pol_rule *rules, size_t n, size_t *k, size_t p,
		 const struct pol_codegen_opts *o, size_t limit, struct pol_piece *out)
{
	struct as a = { 0 };
	int done, emitted = 0, all = 0;
	size_t first = *k;

	line(&a, "piece %zu", p + 1); /* rewritten once the rules are known */
	prologue(&a);
	done = label_new(&a);
	while (*k < n && !a.err) {
		const struct pol_rule *r = &rules[*k];
		struct as_mark m = as_mark(&a);

		if (r->never) {
			line(&a, "rule %zu: %s [never matches: no such port on this pod]", *k,
			     r->desc);
			(*k)++;
			continue;
		}
		all = rule(&a, r, *k, done);
		if (emitted && a.n + EPILOGUE_MAX > limit) {
			as_rollback(&a, m);
			all = 0;
			break;
		}
		emitted = 1;
		(*k)++;
		if (all)
			break;
	}
	/* after a rule that matches everything, nothing else runs */
	for (size_t j = *k; all && j < n; j++)
		line(&a, "rule %zu: %s [never reached: rule %zu allows everything]", j,
		     rules[j].desc, *k - 1);
	if (all)
		*k = n;
	else if (*k < n)
		next_piece(&a, dir, o->bank, p, *k);
	if (!all)
		deny(&a);
	done_part(&a, dir, done);
	if (!a.err && a.n_lines) {
		char *text = NULL;

		if (asprintf(&text, "tern policy %s, piece %zu: rules %zu..%zu",
			     dir == TERN_POL_INGRESS ? "ingress" : "egress", p + 1, first,
			     *k ? *k - 1 : 0) < 0) {
			a.err = -ENOMEM;
		} else {
			free(a.lines[0].text);
			a.lines[0].text = text;
		}
	}
	if (a.err) {
		as_free(&a);
		return a.err;
	}
	return piece_take(&a, out);
}

int pol_compile(int dir, const struct pol_rule *rules, size_t n,
		const struct pol_codegen_opts *o, struct pol_prog *out)
{
	size_t limit = o && o->piece_insns ? o->piece_insns : POL_PIECE_INSNS_DEFAULT;
	struct pol_codegen_opts opts = o ? *o : (struct pol_codegen_opts){ 0 };
	size_t k = 0;
	int err = 0;

	memset(out, 0, sizeof(*out));
	if (limit < POL_PIECE_INSNS_MIN)
		limit = POL_PIECE_INSNS_MIN;
	if (limit > 32767)
		limit = 32767; /* jump offsets are 16 bits */
	out->dir = dir;
	out->n_rules = n;
	do {
		if (out->n_pieces == POL_PIECES_MAX) {
			err = -E2BIG;
			break;
		}
		err = piece(dir, rules, n, &k, out->n_pieces, &opts, limit,
			    &out->pieces[out->n_pieces]);
		if (!err)
			out->n_pieces++;
	} while (!err && k < n);
	out->bank = out->n_pieces > 1 ? opts.bank : 0;
	if (err)
		pol_prog_free(out);
	return err;
}

void pol_prog_free(struct pol_prog *p)
{
	for (size_t i = 0; i < p->n_pieces; i++) {
		for (size_t j = 0; j < p->pieces[i].n_lines; j++)
			free(p->pieces[i].lines[j].text);
		free(p->pieces[i].lines);
		free(p->pieces[i].insns);
	}
	memset(p, 0, sizeof(*p));
}

const char *pol_digest_hex(const uint8_t d[SHA256_LEN], char buf[2 * SHA256_LEN + 1])
{
	for (int i = 0; i < SHA256_LEN; i++)
		snprintf(buf + 2 * i, 3, "%02x", d[i]);
	return buf;
}
