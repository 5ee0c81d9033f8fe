/* ternctl: inspect a node's tern dataplane through its pinned maps and links.
 * A command from the table below, with options before or after it. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config.h"
#include "agent/log.h"
#include "ctl/ctl.h"

#define DEFAULT_PIN_PATH "/sys/fs/bpf/tern"
#define EXIT_USAGE 2

/* Options only some commands take. */
#define CMD_OPT_ALL (1U << 0)
#define CMD_OPT_ASM (1U << 1)

struct cmd {
	const char *words;  /* what selects it: "conntrack dump" */
	const char *args;   /* its positional arguments, for usage ("POD"), or "" */
	int nargs;
	unsigned opts;      /* CMD_OPT_* */
	int (*run)(struct ctl *c);
	const char *help;
};

static const struct cmd cmds[] = {
	{ "conntrack dump", "", 0, 0, ct__dump, "every tracked flow, shown as its opener sent it" },
	{ "counters", "", 0, CMD_OPT_ALL, counters__show,
	  "packet counters per interface (--all: also zeros)" },
	{ "nat dump", "", 0, CMD_OPT_ALL, nat__dump,
	  "services' frontends and backends (--all: also unused entries)" },
	{ "nat affinity", "", 0, 0, nat__affinity, "ClientIP affinity: client -> backend" },
	{ "policy dump", "POD", 1, CMD_OPT_ASM, policy__dump,
	  "a pod's (ns/name or IP) policy: rules, hits, digest (--asm: instructions)" },
	{ "ipsets dump", "", 0, 0, ipsets__dump, "policy ipsets and their members" },
	{ "status", "", 0, 0, status__show, "attached programs and pinned maps' fill" },
};

#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: ternctl [OPTIONS] COMMAND [OPTIONS]\n"
		   "commands:\n");
	for (size_t i = 0; i < NCMDS; i++) {
		char line[64];

		snprintf(line, sizeof(line), "%s%s%s%s", cmds[i].words, *cmds[i].args ? " " : "",
			 cmds[i].args, cmds[i].opts & CMD_OPT_ALL ? " [--all]" :
				       cmds[i].opts & CMD_OPT_ASM ? " [--asm]" : "");
		fprintf(f, "  %-26s %s\n", line, cmds[i].help);
	}
	fprintf(f, "options:\n"
		   "  --pin-path DIR             where ternd pins maps and links (default %s)\n"
		   "  --config FILE              take the pin path from ternd's config (bpf.pinPath)\n"
		   "  -o, --output text|json     output format (default text)\n"
		   "  -h, --help                 this help\n",
		   DEFAULT_PIN_PATH);
}

/* How many words of argv name cmd, or 0 when they do not. */
static int cmd_match(const struct cmd *cmd, int argc, char **argv)
{
	const char *w = cmd->words;
	int i = 0;

	while (*w) {
		size_t len = strcspn(w, " ");

		if (i >= argc || strlen(argv[i]) != len || strncmp(argv[i], w, len) != 0)
			return 0;
		i++;
		w += len;
		w += strspn(w, " ");
	}
	return i;
}

/* Options, the same before and after the command. */
struct opts {
	const char *config;
	const char *pin_path;
	int json;
	int all;
	int asm_listing;
	int help;
};

/* Parse options from argv[1..]; stop_at_word: at the first non-option
 * (the command), else anywhere (the command's arguments stay, in order,
 * at argv[optind..]). 0 or -EINVAL after saying what is wrong. */
static int parse_opts(int argc, char **argv, int stop_at_word, struct opts *o)
{
	static const struct option longs[] = {
		{ "pin-path", required_argument, NULL, 'p' },
		{ "config", required_argument, NULL, 'c' },
		{ "output", required_argument, NULL, 'o' },
		{ "all", no_argument, NULL, 'a' },
		{ "asm", no_argument, NULL, 'A' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	optind = 0; /* glibc: a fresh scan, also the second time */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, stop_at_word ? "+:o:h" : ":o:h", longs, NULL)) != -1) {
		switch (opt) {
		case 'p':
			o->pin_path = optarg;
			break;
		case 'c':
			o->config = optarg;
			break;
		case 'o':
			if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0) {
				ctl__err("-o %s: want text or json", optarg);
				return -EINVAL;
			}
			o->json = strcmp(optarg, "json") == 0;
			break;
		case 'A':
			o->asm_listing = 1;
			break;
		case 'a':
			o->all = 1;
			break;
		case 'h':
			o->help = 1;
			break;
		case ':':
			ctl__err("%s needs an argument", argv[optind - 1]);
			return -EINVAL;
		default:
			ctl__err("unknown option %s", argv[optind - 1]);
			return -EINVAL;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct tern_config cfg = {};
	struct ctl c = { .pin_path = DEFAULT_PIN_PATH, .wl_prefix = "tern" };
	struct opts o = {};
	const struct cmd *cmd = NULL;
	char pin[PATH_MAX], msg[1024];
	int used = 0, err;
	size_t n;

	log_set_level(TERN_LOG_WARN);
	if (parse_opts(argc, argv, 1, &o)) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (o.help) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < NCMDS && !cmd; i++) {
		used = cmd_match(&cmds[i], argc - optind, argv + optind);
		if (used)
			cmd = &cmds[i];
	}
	if (!cmd) {
		if (optind < argc)
			ctl__err("unknown command: %s", argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	/* what follows the command words, behind its last word as argv[0] */
	argc -= optind + used - 1;
	argv += optind + used - 1;
	if (parse_opts(argc, argv, 0, &o)) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (o.help) {
		usage(stdout);
		return 0;
	}
	if (o.all && !(cmd->opts & CMD_OPT_ALL)) {
		ctl__err("%s: takes no --all", cmd->words);
		return EXIT_USAGE;
	}
	c.json = o.json;
	c.all = o.all;
	if (o.asm_listing && !(cmd->opts & CMD_OPT_ASM)) {
		ctl__err("%s: takes no --asm", cmd->words);
		return EXIT_USAGE;
	}
	c.asm_listing = o.asm_listing;
	c.argc = argc - optind;
	c.argv = argv + optind;
	if (c.argc != cmd->nargs) {
		ctl__err("%s: takes %s", cmd->words, cmd->nargs ? cmd->args : "no arguments");
		return EXIT_USAGE;
	}

	if (o.config) {
		config_defaults(&cfg);
		err = config_load(o.config, &cfg, msg, sizeof(msg));
		if (err) {
			ctl__err("%s", msg);
			config_free(&cfg);
			return EXIT_USAGE;
		}
		c.pin_path = cfg.pin_path;
		c.wl_prefix = cfg.wl_prefix;
	}
	if (o.pin_path)
		c.pin_path = o.pin_path; /* explicit beats the config's */
	/* PIN/name everywhere: drop trailing slashes once */
	n = strlen(c.pin_path);
	while (n > 1 && c.pin_path[n - 1] == '/')
		n--;
	snprintf(pin, sizeof(pin), "%.*s", (int)n, c.pin_path);
	c.pin_path = pin;

	err = cmd->run(&c);
	config_free(&cfg);
	return err ? 1 : 0;
}
