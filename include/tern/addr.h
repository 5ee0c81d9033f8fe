/* tern ABI: the one address type every map uses, IPv4 stored IPv4-mapped
 * (::ffff:a.b.c.d) so v4 and v6 share each map and each code path. */
#ifndef TERN_ABI_ADDR_H
#define TERN_ABI_ADDR_H

#include <linux/types.h>

#ifndef __bpf__
#include <assert.h>
#define TERN_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define TERN_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

struct tern_addr {
	union {
		__u8 b[16];  /* NBO */
		__u32 w[4];  /* NBO words; w[3] holds the IPv4 address */
	};
};
TERN_ASSERT(sizeof(struct tern_addr) == 16, "tern_addr is 16 bytes");

/* ::ffff:0:0/96 marks IPv4: its third word is 00 00 ff ff in memory. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define TERN_V4MAPPED_W2 0xffff0000U
#else
#define TERN_V4MAPPED_W2 0x0000ffffU
#endif

static inline int tern_addr_is_v4(const struct tern_addr *a)
{
	return a->w[0] == 0 && a->w[1] == 0 && a->w[2] == TERN_V4MAPPED_W2;
}

static inline void tern_addr_set_v4(struct tern_addr *a, __u32 v4 /* NBO */)
{
	a->w[0] = 0;
	a->w[1] = 0;
	a->w[2] = TERN_V4MAPPED_W2;
	a->w[3] = v4;
}

#endif
