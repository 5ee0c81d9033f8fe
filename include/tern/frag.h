/* tern ABI: the IP fragment map (tern_frag_v1): a datagram's first fragment
 * leaves its ports here so later fragments find their flow. */
#ifndef TERN_ABI_FRAG_H
#define TERN_ABI_FRAG_H

#include "addr.h"

#define TERN_MAP_FRAG "tern_frag_v1"
#define TERN_FRAG_MAX 8192

struct tern_frag_key {
	struct tern_addr src; /* NBO */
	struct tern_addr dst; /* NBO */
	__u32 id;             /* host order; v4: the 16-bit id, v6: the 32-bit id */
	__u8 proto;           /* v4: the IP protocol; v6: 0, as source, destination
	                       * and id alone name a datagram (RFC 8200 4.5), and a
	                       * later fragment does not see past the fragment header */
	__u8 pad[3];
};
TERN_ASSERT(sizeof(struct tern_frag_key) == 40, "frag key size");

struct tern_frag_ports {
	__be16 sport; /* NBO */
	__be16 dport; /* NBO */
	__u8 proto;   /* the upper-layer protocol the first fragment carried */
	__u8 pad[3];
};
TERN_ASSERT(sizeof(struct tern_frag_ports) == 8, "frag ports size");

#endif
