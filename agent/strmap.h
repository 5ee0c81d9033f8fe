/* A string -> u32 hash map (open addressing), for ids that must stay the
 * same while the thing they name lives. */
#ifndef TERN_STRMAP_H
#define TERN_STRMAP_H

#include <stddef.h>
#include <stdint.h>

struct strmap;

struct strmap *strmap_new(void);
void strmap_free(struct strmap *m);
/* 0 with *val set, or -ENOENT. */
int strmap_get(const struct strmap *m, const char *key, uint32_t *val);
/* Insert or replace; 0 or -ENOMEM. */
int strmap_set(struct strmap *m, const char *key, uint32_t val);
/* 0, or -ENOENT. */
int strmap_del(struct strmap *m, const char *key);
size_t strmap_len(const struct strmap *m);
/* Visit every entry (in no particular order). */
void strmap_each(const struct strmap *m, void (*fn)(const char *key, uint32_t val, void *arg),
		 void *arg);

#endif
