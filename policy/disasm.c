/* The instruction listing (disasm.h), table-driven by opcode fields. */
#include <stdio.h>
#include <string.h>

#include "policy/disasm.h"

static const char *const alu_ops[16] = {
	[BPF_ADD >> 4] = "+=", [BPF_SUB >> 4] = "-=", [BPF_MUL >> 4] = "*=",
	[BPF_DIV >> 4] = "/=", [BPF_OR >> 4] = "|=", [BPF_AND >> 4] = "&=",
	[BPF_LSH >> 4] = "<<=", [BPF_RSH >> 4] = ">>=", [BPF_MOD >> 4] = "%=",
	[BPF_XOR >> 4] = "^=", [BPF_MOV >> 4] = "=", [BPF_ARSH >> 4] = "s>>=",
};

static const char *const jmp_ops[16] = {
	[BPF_JEQ >> 4] = "==", [BPF_JGT >> 4] = ">", [BPF_JGE >> 4] = ">=",
	[BPF_JSET >> 4] = "&", [BPF_JNE >> 4] = "!=", [BPF_JSGT >> 4] = "s>",
	[BPF_JSGE >> 4] = "s>=", [BPF_JLT >> 4] = "<", [BPF_JLE >> 4] = "<=",
	[BPF_JSLT >> 4] = "s<", [BPF_JSLE >> 4] = "s<=",
};

static const char *const sizes[4] = {
	[BPF_W >> 3] = "u32", [BPF_H >> 3] = "u16", [BPF_B >> 3] = "u8", [BPF_DW >> 3] = "u64",
};

static const struct {
	int id;
	const char *name;
} helpers[] = {
	{ BPF_FUNC_map_lookup_elem, "bpf_map_lookup_elem" },
	{ BPF_FUNC_map_update_elem, "bpf_map_update_elem" },
	{ BPF_FUNC_map_delete_elem, "bpf_map_delete_elem" },
	{ BPF_FUNC_tail_call, "bpf_tail_call" },
	{ BPF_FUNC_ktime_get_ns, "bpf_ktime_get_ns" },
	{ BPF_FUNC_get_smp_processor_id, "bpf_get_smp_processor_id" },
};

static const char *helper_name(__s32 id)
{
	for (size_t i = 0; i < sizeof(helpers) / sizeof(helpers[0]); i++)
		if (helpers[i].id == id)
			return helpers[i].name;
	return NULL;
}

static void ld_imm64(const struct bpf_insn *in, const struct disasm_opts *o, char *buf,
		     size_t len)
{
	__u64 imm = (__u32)in[0].imm | (__u64)(__u32)in[1].imm << 32;
	const char *name = NULL;

	switch (in->src_reg) {
	case BPF_PSEUDO_MAP_IDX:
		if (o && (size_t)in->imm < o->n_slot_names)
			name = o->slot_names[in->imm];
		if (name)
			snprintf(buf, len, "r%u = map[%s]", in->dst_reg, name);
		else
			snprintf(buf, len, "r%u = map[fd_array:%d]", in->dst_reg, in->imm);
		return;
	case BPF_PSEUDO_MAP_FD:
		if (o && o->map_name)
			name = o->map_name((__u32)in->imm, o->arg);
		if (name)
			snprintf(buf, len, "r%u = map[%s]", in->dst_reg, name);
		else
			snprintf(buf, len, "r%u = map[id:%d]", in->dst_reg, in->imm);
		return;
	case BPF_PSEUDO_MAP_VALUE:
		snprintf(buf, len, "r%u = map[id:%d][0]+%d", in->dst_reg, in->imm, in[1].imm);
		return;
	}
	snprintf(buf, len, "r%u = 0x%llx", in->dst_reg, (unsigned long long)imm);
}

static void alu(const struct bpf_insn *in, char *buf, size_t len)
{
	int is64 = BPF_CLASS(in->code) == BPF_ALU64;
	char r = is64 ? 'r' : 'w';
	__u8 op = BPF_OP(in->code);

	if (op == BPF_END) {
		snprintf(buf, len, "r%u = %s%d r%u", in->dst_reg,
			 BPF_SRC(in->code) == BPF_TO_BE ? "be" : "le", in->imm, in->dst_reg);
	} else if (op == BPF_NEG) {
		snprintf(buf, len, "%c%u = -%c%u", r, in->dst_reg, r, in->dst_reg);
	} else if (op == BPF_MOV && is64 && in->off == -1) {
		/* the verifier's per-CPU address move (inlined per-CPU lookups) */
		snprintf(buf, len, "r%u = &(void __percpu *)(r%u)", in->dst_reg, in->src_reg);
	} else if (!alu_ops[op >> 4]) {
		snprintf(buf, len, "(%02x) alu?", in->code);
	} else if (BPF_SRC(in->code) == BPF_X) {
		snprintf(buf, len, "%c%u %s %c%u", r, in->dst_reg, alu_ops[op >> 4], r, in->src_reg);
	} else {
		snprintf(buf, len, "%c%u %s %d", r, in->dst_reg, alu_ops[op >> 4], in->imm);
	}
}

static void jmp(const struct bpf_insn *in, const struct disasm_opts *o, char *buf, size_t len)
{
	__u8 op = BPF_OP(in->code);
	char r = BPF_CLASS(in->code) == BPF_JMP32 ? 'w' : 'r';
	const char *name;

	switch (op) {
	case BPF_JA:
		snprintf(buf, len, "goto pc%+d", in->off);
		return;
	case BPF_EXIT:
		snprintf(buf, len, "exit");
		return;
	case BPF_CALL:
		name = o && o->call_name ? o->call_name(in, o->arg) : helper_name(in->imm);
		if (name)
			snprintf(buf, len, "call %s#%d", name, in->imm);
		else
			snprintf(buf, len, "call #%d", in->imm);
		return;
	}
	if (!jmp_ops[op >> 4])
		snprintf(buf, len, "(%02x) jmp?", in->code);
	else if (BPF_SRC(in->code) == BPF_X)
		snprintf(buf, len, "if %c%u %s %c%u goto pc%+d", r, in->dst_reg, jmp_ops[op >> 4], r,
			 in->src_reg, in->off);
	else
		snprintf(buf, len, "if %c%u %s 0x%x goto pc%+d", r, in->dst_reg, jmp_ops[op >> 4],
			 (unsigned)in->imm, in->off);
}

size_t disasm_insn(const struct bpf_insn *in, size_t left, const struct disasm_opts *o,
		   char *buf, size_t len)
{
	const char *sz = sizes[BPF_SIZE(in->code) >> 3];

	switch (BPF_CLASS(in->code)) {
	case BPF_LD:
		if (in->code == (BPF_LD | BPF_IMM | BPF_DW) && left >= 2) {
			ld_imm64(in, o, buf, len);
			return 2;
		}
		break;
	case BPF_LDX:
		if (BPF_MODE(in->code) == BPF_MEM) {
			snprintf(buf, len, "r%u = *(%s *)(r%u %+d)", in->dst_reg, sz, in->src_reg,
				 in->off);
			return 1;
		}
		break;
	case BPF_ST:
		/* big constants (set ids, in network order) read better in hex */
		if (BPF_MODE(in->code) == BPF_MEM && (in->imm > 65535 || in->imm < -65535)) {
			snprintf(buf, len, "*(%s *)(r%u %+d) = 0x%x", sz, in->dst_reg, in->off,
				 (unsigned)in->imm);
			return 1;
		}
		if (BPF_MODE(in->code) == BPF_MEM) {
			snprintf(buf, len, "*(%s *)(r%u %+d) = %d", sz, in->dst_reg, in->off, in->imm);
			return 1;
		}
		break;
	case BPF_STX:
		if (BPF_MODE(in->code) == BPF_MEM) {
			snprintf(buf, len, "*(%s *)(r%u %+d) = r%u", sz, in->dst_reg, in->off,
				 in->src_reg);
			return 1;
		}
		if (BPF_MODE(in->code) == BPF_ATOMIC && in->imm == BPF_ADD) {
			snprintf(buf, len, "lock *(%s *)(r%u %+d) += r%u", sz, in->dst_reg, in->off,
				 in->src_reg);
			return 1;
		}
		break;
	case BPF_ALU:
	case BPF_ALU64:
		alu(in, buf, len);
		return 1;
	case BPF_JMP:
	case BPF_JMP32:
		jmp(in, o, buf, len);
		return 1;
	}
	snprintf(buf, len, "(%02x) ?", in->code);
	return 1;
}

void disasm_listing(FILE *f, const struct bpf_insn *insns, size_t n,
		    const struct pol_line *lines, size_t n_lines, const struct disasm_opts *o)
{
	size_t li = 0;
	char buf[160];

	for (size_t i = 0; i < n;) {
		for (; li < n_lines && lines[li].insn <= i; li++) {
			const char *t = lines[li].text;

			while (t && *t) {
				size_t l = strcspn(t, "\n");

				fprintf(f, "; %.*s\n", (int)l, t);
				t += l + (t[l] == '\n');
			}
		}
		size_t used = disasm_insn(&insns[i], n - i, o, buf, sizeof(buf));

		fprintf(f, "%5zu: %s\n", i, buf);
		i += used;
	}
}
