/* Interface naming shared with tern-cni: prefix + the first 11 hex digits
 * of SHA-1("<namespace>.<pod name>"). */
#ifndef TERN_NAMING_H
#define TERN_NAMING_H

#include <stddef.h>
#include <stdint.h>

#define TERN_IFNAME_HASH_LEN 11

void sha1(const void *data, size_t len, uint8_t out[20]);
/* out must hold 16 bytes; -ENAMETOOLONG if prefix is longer than 4. */
int workload_ifname(const char *prefix, const char *ns, const char *pod, char *out, size_t len);

#endif
