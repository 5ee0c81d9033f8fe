/* Unit tests for policy/codegen.c: compiler output for tables of rules as
 * instruction listings (golden), byte-identical output and digests for
 * the same input, line info the kernel accepts, and programs split into
 * chained pieces past a size limit. Nothing is loaded here (test/bpf does
 * that). */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>

#include "policy/codegen.h"
#include "policy/disasm.h"
#include "test/unit/unit.h"

/* The rules of the golden listing: every shape of rule. */
static uint32_t ids_a[] = { 0x11223344 };
static uint32_t ids_b[] = { 0x0a0b0c0d, 0x0a0b0c0d, 0x01020304 };
static struct pol_port ports_a[] = {
	{ .proto = IPPROTO_TCP, .lo = 80, .hi = 80 },
	{ .proto = IPPROTO_UDP, .lo = 1000, .hi = 2000 },
	{ .proto = IPPROTO_SCTP, .lo = 0, .hi = 65535 },
};
static struct pol_port ports_b[] = {
	{ .proto = IPPROTO_TCP, .lo = 8080, .hi = 65535 },
	{ .proto = IPPROTO_TCP, .set = 1, .set_id = 0x55667788 }, /* a named-port set */
};
static struct pol_rule rules[] = {
	/* three port shapes (one port, a range, all ports), one peer set */
	{ .desc = "ns/a ingress[0]: ...", .n_peers = 1, .peer_ids = ids_a, .n_ports = 3,
	  .ports = ports_a },
	/* compiled to nothing */
	{ .desc = "ns/a ingress[1]: never", .never = 1 },
	/* a range to the top, a named-port set, a peer set given twice */
	{ .desc = "ns/b ingress[0]: ...", .n_peers = 3, .peer_ids = ids_b, .n_ports = 2,
	  .ports = ports_b },
	/* everything: what follows is unreachable and left out */
	{ .desc = "ns/c ingress[0]: from anywhere; any port" },
	{ .desc = "ns/d ingress[0]: shadowed", .n_ports = 1, .ports = ports_a },
};

/* Golden listings: review a change here as a change of the code tern runs. */
static const char empty_listing[] =
	"; tern policy ingress, piece 1: rules 0..0\n"
	"    0: r6 = r1\n"
	"    1: *(u32 *)(r10 -4) = 0\n"
	"    2: r1 = map[tern_polctx_v2]\n"
	"    4: r2 = r10\n"
	"    5: r2 += -4\n"
	"    6: call bpf_map_lookup_elem#1\n"
	"    7: if r0 != 0x0 goto pc+2\n"
	"    8: r0 = 2\n"
	"    9: exit\n"
	"   10: r7 = r0\n"
	"   11: *(u32 *)(r10 -32) = 184\n"
	"   12: r1 = *(u32 *)(r7 +0)\n"
	"   13: *(u32 *)(r10 -24) = r1\n"
	"   14: r1 = *(u32 *)(r7 +4)\n"
	"   15: *(u32 *)(r10 -20) = r1\n"
	"   16: r1 = *(u32 *)(r7 +8)\n"
	"   17: *(u32 *)(r10 -16) = r1\n"
	"   18: r1 = *(u32 *)(r7 +12)\n"
	"   19: *(u32 *)(r10 -12) = r1\n"
	"   20: r1 = *(u32 *)(r7 +16)\n"
	"   21: *(u32 *)(r10 -8) = r1\n"
	"; no rule matched: deny\n"
	"   22: r8 = 65535\n"
	"   23: r9 = 0\n"
	"; count rule r8 for ctx.ep_id, write the verdict, continue at ctx.cont\n"
	"   24: *(u32 *)(r7 +28) = r9\n"
	"   25: *(u32 *)(r7 +32) = r8\n"
	"   26: r1 = *(u32 *)(r7 +20)\n"
	"   27: *(u32 *)(r10 -40) = r1\n"
	"   28: *(u16 *)(r10 -36) = r8\n"
	"   29: *(u8 *)(r10 -34) = 0\n"
	"   30: *(u8 *)(r10 -33) = 0\n"
	"   31: r1 = map[tern_polcnt_v2]\n"
	"   33: r2 = r10\n"
	"   34: r2 += -40\n"
	"   35: call bpf_map_lookup_elem#1\n"
	"   36: if r0 == 0x0 goto pc+3\n"
	"   37: r1 = *(u64 *)(r0 +0)\n"
	"   38: r1 += 1\n"
	"   39: *(u64 *)(r0 +0) = r1\n"
	"   40: r1 = r6\n"
	"   41: r2 = map[tern_jmp_v1]\n"
	"   43: r3 = *(u32 *)(r7 +24)\n"
	"   44: call bpf_tail_call#12\n"
	"   45: r0 = 2\n"
	"   46: exit\n";

static const char rules_listing[] =
	"; tern policy egress, piece 1: rules 0..4\n"
	"    0: r6 = r1\n"
	"    1: *(u32 *)(r10 -4) = 0\n"
	"    2: r1 = map[tern_polctx_v2]\n"
	"    4: r2 = r10\n"
	"    5: r2 += -4\n"
	"    6: call bpf_map_lookup_elem#1\n"
	"    7: if r0 != 0x0 goto pc+2\n"
	"    8: r0 = 2\n"
	"    9: exit\n"
	"   10: r7 = r0\n"
	"   11: *(u32 *)(r10 -32) = 184\n"
	"   12: r1 = *(u32 *)(r7 +0)\n"
	"   13: *(u32 *)(r10 -24) = r1\n"
	"   14: r1 = *(u32 *)(r7 +4)\n"
	"   15: *(u32 *)(r10 -20) = r1\n"
	"   16: r1 = *(u32 *)(r7 +8)\n"
	"   17: *(u32 *)(r10 -16) = r1\n"
	"   18: r1 = *(u32 *)(r7 +12)\n"
	"   19: *(u32 *)(r10 -12) = r1\n"
	"   20: r1 = *(u32 *)(r7 +16)\n"
	"   21: *(u32 *)(r10 -8) = r1\n"
	"; rule 0: ns/a ingress[0]: ... {sets 0x11223344}\n"
	"   22: r1 = *(u8 *)(r7 +18)\n"
	"   23: if r1 != 0x6 goto pc+3\n"
	"   24: r1 = *(u16 *)(r7 +16)\n"
	"   25: r1 = be16 r1\n"
	"   26: if r1 == 0x50 goto pc+10\n"
	"   27: r1 = *(u8 *)(r7 +18)\n"
	"   28: if r1 != 0x11 goto pc+4\n"
	"   29: r1 = *(u16 *)(r7 +16)\n"
	"   30: r1 = be16 r1\n"
	"   31: if r1 < 0x3e8 goto pc+1\n"
	"   32: if r1 <= 0x7d0 goto pc+4\n"
	"   33: r1 = *(u8 *)(r7 +18)\n"
	"   34: if r1 != 0x84 goto pc+1\n"
	"   35: goto pc+1\n"
	"   36: goto pc+13\n"
	"   37: *(u32 *)(r10 -28) = 0x44332211\n"
	"   38: r1 = map[tern_ipset_v1]\n"
	"   40: r2 = r10\n"
	"   41: r2 += -32\n"
	"   42: call bpf_map_lookup_elem#1\n"
	"   43: if r0 == 0x0 goto pc+2\n"
	"   44: r1 = *(u32 *)(r0 +0)\n"
	"   45: if r1 == 0x1 goto pc+1\n"
	"   46: goto pc+3\n"
	"   47: r8 = 0\n"
	"   48: r9 = 1\n"
	"   49: goto pc+41\n"
	"; rule 1: ns/a ingress[1]: never [never matches: no such port on this pod]\n"
	"; rule 2: ns/b ingress[0]: ... {sets 0x0a0b0c0d 0x0a0b0c0d 0x01020304 0x55667788}\n"
	"   50: r1 = *(u8 *)(r7 +18)\n"
	"   51: if r1 != 0x6 goto pc+4\n"
	"   52: r1 = *(u16 *)(r7 +16)\n"
	"   53: r1 = be16 r1\n"
	"   54: if r1 < 0x1f90 goto pc+1\n"
	"   55: goto pc+10\n"
	"   56: *(u32 *)(r10 -28) = 0x88776655\n"
	"   57: r1 = map[tern_ipset_v1]\n"
	"   59: r2 = r10\n"
	"   60: r2 += -32\n"
	"   61: call bpf_map_lookup_elem#1\n"
	"   62: if r0 == 0x0 goto pc+2\n"
	"   63: r1 = *(u32 *)(r0 +0)\n"
	"   64: if r1 == 0x1 goto pc+1\n"
	"   65: goto pc+22\n"
	"   66: *(u32 *)(r10 -28) = 0xd0c0b0a\n"
	"   67: r1 = map[tern_ipset_v1]\n"
	"   69: r2 = r10\n"
	"   70: r2 += -32\n"
	"   71: call bpf_map_lookup_elem#1\n"
	"   72: if r0 == 0x0 goto pc+2\n"
	"   73: r1 = *(u32 *)(r0 +0)\n"
	"   74: if r1 == 0x1 goto pc+10\n"
	"   75: *(u32 *)(r10 -28) = 0x4030201\n"
	"   76: r1 = map[tern_ipset_v1]\n"
	"   78: r2 = r10\n"
	"   79: r2 += -32\n"
	"   80: call bpf_map_lookup_elem#1\n"
	"   81: if r0 == 0x0 goto pc+2\n"
	"   82: r1 = *(u32 *)(r0 +0)\n"
	"   83: if r1 == 0x1 goto pc+1\n"
	"   84: goto pc+3\n"
	"   85: r8 = 2\n"
	"   86: r9 = 1\n"
	"   87: goto pc+3\n"
	"; rule 3: ns/c ingress[0]: from anywhere; any port\n"
	"   88: r8 = 3\n"
	"   89: r9 = 1\n"
	"   90: goto pc+0\n"
	"; rule 4: ns/d ingress[0]: shadowed [never reached: rule 3 allows everything]\n"
	"; count rule r8 for ctx.ep_id, write the verdict, continue at ctx.cont\n"
	"   91: *(u32 *)(r7 +28) = r9\n"
	"   92: *(u32 *)(r7 +32) = r8\n"
	"   93: r1 = *(u32 *)(r7 +20)\n"
	"   94: *(u32 *)(r10 -40) = r1\n"
	"   95: *(u16 *)(r10 -36) = r8\n"
	"   96: *(u8 *)(r10 -34) = 1\n"
	"   97: *(u8 *)(r10 -33) = 0\n"
	"   98: r1 = map[tern_polcnt_v2]\n"
	"  100: r2 = r10\n"
	"  101: r2 += -40\n"
	"  102: call bpf_map_lookup_elem#1\n"
	"  103: if r0 == 0x0 goto pc+3\n"
	"  104: r1 = *(u64 *)(r0 +0)\n"
	"  105: r1 += 1\n"
	"  106: *(u64 *)(r0 +0) = r1\n"
	"  107: r1 = r6\n"
	"  108: r2 = map[tern_jmp_v1]\n"
	"  110: r3 = *(u32 *)(r7 +24)\n"
	"  111: call bpf_tail_call#12\n"
	"  112: r0 = 2\n"
	"  113: exit\n";

static char *listing(const struct pol_piece *p)
{
	struct disasm_opts o = { .slot_names = pol_map_names, .n_slot_names = POL_MAP_COUNT };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	disasm_listing(f, p->insns, p->n, p->lines, p->n_lines, &o);
	fclose(f);
	return buf;
}

/* got against want line by line; the first difference and its context */
static void expect_listing(const char *got, const char *want)
{
	int line = 1;

	if (!got || strcmp(got, want) == 0)
		return;
	while (*got && *got == *want) {
		line += *got == '\n';
		got++;
		want++;
	}
	fprintf(stderr, "  listing differs at line %d:\n  got:  %.*s\n  want: %.*s\n", line,
		(int)strcspn(got, "\n"), got, (int)strcspn(want, "\n"), want);
	unit_failed_checks++;
}

static void golden(void)
{
	struct pol_prog p;
	char hex[2 * SHA256_LEN + 1], *l;

	CHECK_INT(pol_compile(TERN_POL_INGRESS, NULL, 0, NULL, &p), 0);
	CHECK_INT(p.n_pieces, 1);
	l = listing(&p.pieces[0]);
	expect_listing(l, empty_listing);
	free(l);
	CHECK_STR(pol_digest_hex(p.pieces[0].digest, hex),
		  "f018d56bb47d78a5fd1d85a0ee7cde32112c3f3f7c742671f73962044b725e06");
	pol_prog_free(&p);

	CHECK_INT(pol_compile(TERN_POL_EGRESS, rules, 5, NULL, &p), 0);
	CHECK_INT(p.n_pieces, 1);
	CHECK_INT(p.n_rules, 5);
	l = listing(&p.pieces[0]);
	expect_listing(l, rules_listing);
	free(l);
	CHECK_STR(pol_digest_hex(p.pieces[0].digest, hex),
		  "8f8cef88aea3246c149deff166d276208ad158415e6514d302abdae49817912d");
	pol_prog_free(&p);
}

/* The same input twice: the same bytes; any change: another digest. */
static void deterministic(void)
{
	struct pol_prog a, b, c;

	CHECK_INT(pol_compile(TERN_POL_INGRESS, rules, 3, NULL, &a), 0);
	CHECK_INT(pol_compile(TERN_POL_INGRESS, rules, 3, NULL, &b), 0);
	CHECK_INT(pol_compile(TERN_POL_EGRESS, rules, 3, NULL, &c), 0);
	CHECK_INT(a.pieces[0].n, b.pieces[0].n);
	if (a.pieces[0].n == b.pieces[0].n)
		CHECK_INT(memcmp(a.pieces[0].insns, b.pieces[0].insns,
				 a.pieces[0].n * sizeof(struct bpf_insn)), 0);
	CHECK_INT(memcmp(a.pieces[0].digest, b.pieces[0].digest, SHA256_LEN), 0);
	CHECK_INT(memcmp(a.pieces[0].digest, c.pieces[0].digest, SHA256_LEN) != 0, 1);
	/* the bank matters only to a program with pieces after the first */
	struct pol_codegen_opts bank1 = { .bank = 1 };

	pol_prog_free(&b);
	CHECK_INT(pol_compile(TERN_POL_INGRESS, rules, 3, &bank1, &b), 0);
	CHECK_INT(b.bank, 0);
	CHECK_INT(memcmp(a.pieces[0].digest, b.pieces[0].digest, SHA256_LEN), 0);
	pol_prog_free(&a);
	pol_prog_free(&b);
	pol_prog_free(&c);
}

/* n rules of one set and one port each */
static struct pol_rule *many(size_t n, uint32_t *ids, struct pol_port *ports)
{
	struct pol_rule *r = calloc(n, sizeof(*r));

	for (size_t i = 0; i < n; i++) {
		ids[i] = 1000 + (uint32_t)i;
		ports[i] = (struct pol_port){ .proto = IPPROTO_TCP, .lo = (uint16_t)(1000 + i),
					      .hi = (uint16_t)(1000 + i) };
		r[i] = (struct pol_rule){ .desc = "rule", .n_peers = 1, .peer_ids = &ids[i],
					  .n_ports = 1, .ports = &ports[i] };
	}
	return r;
}

/* What the kernel asks of line info: the first at 0, strictly increasing,
 * never inside a 64-bit load. */
static void expect_lines_ok(const struct pol_piece *p)
{
	CHECK_INT(p->n_lines > 0 && p->lines[0].insn == 0, 1);
	for (size_t i = 0; i < p->n_lines; i++) {
		uint32_t at = p->lines[i].insn;

		if (i)
			CHECK_INT(at > p->lines[i - 1].insn, 1);
		CHECK_INT(at < p->n, 1);
		if (at > 0 && at < p->n)
			CHECK_INT(p->insns[at - 1].code == (BPF_LD | BPF_IMM | BPF_DW), 0);
	}
}

static void chained(void)
{
	static uint32_t ids[400];
	static struct pol_port ports[400];
	struct pol_rule *r = many(400, ids, ports);
	struct pol_codegen_opts o = { .piece_insns = 1024, .bank = 1 };
	struct pol_prog p;
	size_t rules_seen = 0;

	CHECK_INT(pol_compile(TERN_POL_INGRESS, r, 400, &o, &p), 0);
	CHECK_INT(p.n_pieces > 2, 1);
	CHECK_INT(p.bank, 1);
	for (size_t k = 0; k < p.n_pieces; k++) {
		const struct pol_piece *pc = &p.pieces[k];
		char want[96];
		int jumps = 0;

		CHECK_INT(pc->n <= 1024, 1);
		expect_lines_ok(pc);
		snprintf(want, sizeof(want), "tern policy ingress, piece %zu: rules %zu..", k + 1,
			 rules_seen);
		CHECK_INT(strncmp(pc->lines[0].text, want, strlen(want)), 0);
		for (size_t i = 0; i < pc->n_lines; i++)
			rules_seen += strncmp(pc->lines[i].text, "rule ", 5) == 0;
		/* every piece but the last continues in slot k of its bank */
		for (size_t i = 0; i < pc->n; i++)
			if (pc->insns[i].code == (BPF_ALU64 | BPF_ADD | BPF_K) &&
			    pc->insns[i].dst_reg == BPF_REG_3)
				jumps += pc->insns[i].imm ==
					 (int)TERN_JMP_CHAIN(0, TERN_POL_INGRESS, 1, k);
		CHECK_INT(jumps, k + 1 < p.n_pieces);
	}
	CHECK_INT(rules_seen, 400);
	pol_prog_free(&p);

	/* too big for the pieces a chain may have: refused, not truncated */
	struct pol_codegen_opts small = { .piece_insns = POL_PIECE_INSNS_MIN };

	CHECK_INT(pol_compile(TERN_POL_INGRESS, r, 400, &small, &p), -E2BIG);
	free(r);
}

/* The digest is SHA-256 (FIPS 180-4 examples; 55 and 56 bytes straddle
 * the padding's block boundary). */
static void sha256_vectors(void)
{
	static const struct {
		const char *in;
		const char *want;
	} v[] = {
		{ "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
		{ "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		  "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318" },
	};
	uint8_t d[SHA256_LEN];
	char hex[2 * SHA256_LEN + 1];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		sha256(v[i].in, strlen(v[i].in), d);
		CHECK_STR(pol_digest_hex(d, hex), v[i].want);
	}
}

int main(void)
{
	UNIT_BEGIN("codegen");
	RUN(sha256_vectors);
	RUN(golden);
	RUN(deterministic);
	RUN(chained);
	return UNIT_END();
}
