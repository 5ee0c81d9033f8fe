/* A string -> u32 hash map: open addressing, linear probing, tombstones. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/strmap.h"

#define TOMBSTONE ((char *)1)

struct slot {
	char *key;     /* NULL: empty; TOMBSTONE: deleted */
	uint32_t val;
};

struct strmap {
	struct slot *slots;
	size_t cap;    /* a power of two */
	size_t len;    /* live keys */
	size_t used;   /* live keys + tombstones */
};

static uint64_t hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL; /* FNV-1a */

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

struct strmap *strmap_new(void)
{
	return calloc(1, sizeof(struct strmap));
}

void strmap_free(struct strmap *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key && m->slots[i].key != TOMBSTONE)
			free(m->slots[i].key);
	free(m->slots);
	free(m);
}

/* The slot holding key, or NULL. */
static struct slot *find(const struct strmap *m, const char *key)
{
	if (!m->cap)
		return NULL;
	for (size_t i = hash(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		struct slot *s = &m->slots[i];

		if (!s->key)
			return NULL;
		if (s->key != TOMBSTONE && !strcmp(s->key, key))
			return s;
	}
}

static int grow(struct strmap *m)
{
	size_t cap = m->cap ? m->cap * 2 : 64;
	struct slot *old = m->slots, *n = calloc(cap, sizeof(*n));
	size_t ocap = m->cap;

	if (!n)
		return -ENOMEM;
	m->slots = n;
	m->cap = cap;
	m->used = m->len;
	for (size_t i = 0; i < ocap; i++) {
		char *k = old[i].key;

		if (!k || k == TOMBSTONE)
			continue;
		for (size_t j = hash(k) & (cap - 1);; j = (j + 1) & (cap - 1)) {
			if (!n[j].key) {
				n[j] = old[i];
				break;
			}
		}
	}
	free(old);
	return 0;
}

int strmap_get(const struct strmap *m, const char *key, uint32_t *val)
{
	struct slot *s = find(m, key);

	if (!s)
		return -ENOENT;
	*val = s->val;
	return 0;
}

int strmap_set(struct strmap *m, const char *key, uint32_t val)
{
	struct slot *s = find(m, key);

	if (s) {
		s->val = val;
		return 0;
	}
	/* keep at most half the slots taken, tombstones included */
	if ((m->used + 1) * 2 > m->cap && grow(m))
		return -ENOMEM;
	char *k = strdup(key);

	if (!k)
		return -ENOMEM;
	for (size_t i = hash(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		s = &m->slots[i];
		if (!s->key || s->key == TOMBSTONE) {
			if (!s->key)
				m->used++;
			s->key = k;
			s->val = val;
			m->len++;
			return 0;
		}
	}
}

int strmap_del(struct strmap *m, const char *key)
{
	struct slot *s = find(m, key);

	if (!s)
		return -ENOENT;
	free(s->key);
	s->key = TOMBSTONE;
	m->len--;
	return 0;
}

size_t strmap_len(const struct strmap *m)
{
	return m->len;
}

void strmap_each(const struct strmap *m, void (*fn)(const char *key, uint32_t val, void *arg),
		 void *arg)
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key && m->slots[i].key != TOMBSTONE)
			fn(m->slots[i].key, m->slots[i].val, arg);
}
