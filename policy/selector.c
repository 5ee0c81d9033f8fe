/* Label selector matching (apimachinery's LabelSelectorAsSelector semantics)
 * and the canonical text form. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/selector.h"

static int value_in(const struct k8s_sel_expr *e, const char *v)
{
	for (size_t i = 0; i < e->n_values; i++)
		if (strcmp(e->values[i], v) == 0)
			return 1;
	return 0;
}

static int expr_matches(const struct k8s_sel_expr *e, const struct k8s_labels *l)
{
	const char *v = k8s_labels_get(l, e->key);

	switch (e->op) {
	case K8S_SEL_IN:
		return v && value_in(e, v);
	case K8S_SEL_NOT_IN:
		return !v || !value_in(e, v); /* an absent label is not in any set */
	case K8S_SEL_EXISTS:
		return v != NULL;
	case K8S_SEL_DOES_NOT_EXIST:
		return v == NULL;
	}
	return 0;
}

int selector_matches(const struct k8s_selector *s, const struct k8s_labels *l)
{
	for (size_t i = 0; i < s->match.n; i++) {
		const char *v = k8s_labels_get(l, s->match.keys[i]);

		if (!v || strcmp(v, s->match.vals[i]) != 0)
			return 0;
	}
	for (size_t i = 0; i < s->n_exprs; i++)
		if (!expr_matches(&s->exprs[i], l))
			return 0;
	return 1;
}

int selector_is_empty(const struct k8s_selector *s)
{
	return s->match.n == 0 && s->n_exprs == 0;
}

static int term_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One expression as kubectl writes it; values are sorted already. */
static char *expr_str(const struct k8s_sel_expr *e)
{
	static const char *const ops[] = {
		[K8S_SEL_IN] = " in (", [K8S_SEL_NOT_IN] = " notin (",
	};
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	if (e->op == K8S_SEL_EXISTS) {
		fputs(e->key, f);
	} else if (e->op == K8S_SEL_DOES_NOT_EXIST) {
		fprintf(f, "!%s", e->key);
	} else {
		fprintf(f, "%s%s", e->key, ops[e->op]);
		for (size_t i = 0; i < e->n_values; i++)
			fprintf(f, "%s%s", i ? "," : "", e->values[i]);
		fputc(')', f);
	}
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

char *selector_str(const struct k8s_selector *s)
{
	size_t n = s->match.n + s->n_exprs, len = 0;
	char **terms = calloc(n ? n : 1, sizeof(*terms));
	char *out = NULL;
	FILE *f = NULL;

	if (!terms)
		return NULL;
	for (size_t i = 0; i < s->match.n; i++)
		if (asprintf(&terms[i], "%s=%s", s->match.keys[i], s->match.vals[i]) < 0)
			terms[i] = NULL;
	for (size_t i = 0; i < s->n_exprs; i++)
		terms[s->match.n + i] = expr_str(&s->exprs[i]);
	for (size_t i = 0; i < n; i++)
		if (!terms[i])
			goto out;
	/* the same terms in any order select the same pods */
	qsort(terms, n, sizeof(*terms), term_cmp);
	f = open_memstream(&out, &len);
	if (!f)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (!i || strcmp(terms[i], terms[i - 1]))
			fprintf(f, "%s%s", i ? "," : "", terms[i]);
	if (fclose(f)) {
		free(out);
		out = NULL;
	}
out:
	for (size_t i = 0; i < n; i++)
		free(terms[i]);
	free(terms);
	return out;
}
