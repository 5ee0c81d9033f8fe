/* Growable arrays of fixed-size elements. */
#ifndef TERN_VEC_H
#define TERN_VEC_H

#include <stdlib.h>
#include <string.h>

/* Append a zeroed element to *arrp (n elements, room for *cap); the new
 * element, or NULL when out of memory. */
static inline void *vec_push(void *arrp, size_t *n, size_t *cap, size_t size)
{
	void **arr = arrp;

	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 32;
		void *p = realloc(*arr, c * size);

		if (!p)
			return NULL;
		*arr = p;
		*cap = c;
	}
	void *e = (char *)*arr + (*n)++ * size;

	memset(e, 0, size);
	return e;
}

/* qsort and bsearch that accept an empty (NULL) array, which the C
 * library's may not. */
static inline void vec_sort(void *base, size_t n, size_t size,
			    int (*cmp)(const void *, const void *))
{
	if (n)
		qsort(base, n, size, cmp);
}

static inline void *vec_find(const void *key, const void *base, size_t n, size_t size,
			     int (*cmp)(const void *, const void *))
{
	return n ? bsearch(key, base, n, size, cmp) : NULL;
}

#endif
