/* Loading pieces (load.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>

#include "agent/log.h"
#include "agent/naming.h"
#include "policy/load.h"

#define LOG_TAIL_LINES 30
#define VERIFIER_LOG_SIZE (16u << 20)

/* A BTF object holding one function and the piece's descriptions as
 * source lines; li gets the line info records. NULL on failure. */
static struct btf *piece_btf(const struct pol_piece *p, const char *func, int *func_id,
			     struct bpf_line_info *li)
{
	struct btf *btf = btf__new_empty();
	int t_int, t_ptr, t_proto, file;

	if (!btf)
		return NULL;
	t_int = btf__add_int(btf, "int", 4, BTF_INT_SIGNED);
	t_ptr = btf__add_ptr(btf, 0);
	t_proto = btf__add_func_proto(btf, t_int);
	if (t_int < 0 || t_ptr < 0 || t_proto < 0 || btf__add_func_param(btf, "skb", t_ptr))
		goto fail;
	*func_id = btf__add_func(btf, func, BTF_FUNC_GLOBAL, t_proto);
	file = btf__add_str(btf, "tern-policy");
	if (*func_id < 0 || file < 0)
		goto fail;
	for (size_t i = 0; i < p->n_lines; i++) {
		int s = btf__add_str(btf, p->lines[i].text);

		if (s < 0)
			goto fail;
		li[i] = (struct bpf_line_info){
			.insn_off = p->lines[i].insn,
			.file_name_off = (__u32)file,
			.line_off = (__u32)s,
			.line_col = (__u32)(i + 1) << 10,
		};
	}
	if (btf__load_into_kernel(btf))
		goto fail;
	return btf;
fail:
	btf__free(btf);
	return NULL;
}

static void log_tail(const char *what, const char *log)
{
	const char *start = log + strlen(log);
	int lines = 0;

	while (start > log && lines <= LOG_TAIL_LINES)
		if (*--start == '\n')
			lines++;
	if (*start == '\n')
		start++;
	log_error("%s: verifier log (last %d lines):", what, LOG_TAIL_LINES);
	while (*start) {
		size_t l = strcspn(start, "\n");

		log_error("  %.*s", (int)l, start);
		start += l + (start[l] == '\n');
	}
}

int pol_piece_load(const struct pol_prog *prog, size_t index, const int fds[POL_MAP_COUNT])
{
	const struct pol_piece *p = &prog->pieces[index];
	const char *dir = prog->dir == TERN_POL_INGRESS ? "in" : "eg";
	struct bpf_line_info *li = calloc(p->n_lines ? p->n_lines : 1, sizeof(*li));
	char name[16], what[64];
	struct bpf_func_info fi = { 0 };
	struct btf *btf = NULL;
	char *vlog = NULL;
	int func_id = 0, fd, err;

	snprintf(name, sizeof(name), "tern_pol_%s_%zu", dir, index + 1);
	snprintf(what, sizeof(what), "policy %s piece %zu", dir, index + 1);
	if (!li)
		return -ENOMEM;
	btf = piece_btf(p, name, &func_id, li);
	if (!btf)
		log_warn("%s: no BTF (%s): loading without descriptions", what, strerror(errno));
	fi.type_id = (__u32)func_id;
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .fd_array = fds);
	if (btf) {
		opts.prog_btf_fd = (__u32)btf__fd(btf);
		opts.func_info = &fi;
		opts.func_info_cnt = 1;
		opts.func_info_rec_size = sizeof(fi);
		opts.line_info = li;
		opts.line_info_cnt = (__u32)p->n_lines;
		opts.line_info_rec_size = sizeof(*li);
	}
	fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, name, "GPL", p->insns, p->n, &opts);
	if (fd < 0) {
		/* again, with the verifier telling why */
		err = -errno;
		vlog = malloc(VERIFIER_LOG_SIZE);
		if (vlog) {
			vlog[0] = '\0';
			opts.log_buf = vlog;
			opts.log_size = VERIFIER_LOG_SIZE;
			opts.log_level = 1;
			fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, name, "GPL", p->insns, p->n,
					   &opts);
			if (fd < 0)
				err = -errno;
		}
		if (fd < 0) {
			log_error("%s (%zu instructions): load: %s%s", what, p->n, strerror(-err),
				  errno_hint(err));
			if (vlog && *vlog)
				log_tail(what, vlog);
		}
	}
	free(vlog);
	free(li);
	btf__free(btf); /* the program holds the kernel's copy */
	return fd < 0 ? err : fd;
}

int pol_piece_is_loaded_as(const struct pol_piece *p, int fd)
{
	struct bpf_prog_info info = { 0 };
	__u32 len = sizeof(info);
	uint8_t sha1_d[20];

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	if (!memcmp(info.tag, p->digest, sizeof(info.tag)))
		return 1;
	sha1(p->insns, p->n * sizeof(*p->insns), sha1_d);
	return !memcmp(info.tag, sha1_d, sizeof(info.tag));
}
