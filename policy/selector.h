/* Label selectors: does a label set match, and a canonical text form (equal
 * selectors print equal text, so sets defined by selectors can be shared
 * and named by it). */
#ifndef TERN_POLICY_SELECTOR_H
#define TERN_POLICY_SELECTOR_H

#include "agent/k8s.h"

/* 1 when every matchLabels pair and every expression holds for l. */
int selector_matches(const struct k8s_selector *s, const struct k8s_labels *l);
int selector_is_empty(const struct k8s_selector *s);
/* kubectl's selector syntax, terms sorted: "app=web,!canary,tier in (a,b)";
 * "" for the empty selector. Malloc'd; NULL when out of memory. */
char *selector_str(const struct k8s_selector *s);

#endif
