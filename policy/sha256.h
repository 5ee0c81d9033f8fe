/* SHA-256 (FIPS 180-4): the digest of a compiled policy program. Linux
 * 6.18 tags a program with the first 8 bytes of SHA-256 of its
 * instructions, so that prefix of our digest is the tag bpftool shows. */
#ifndef TERN_POLICY_SHA256_H
#define TERN_POLICY_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32

void sha256(const void *data, size_t len, uint8_t out[SHA256_LEN]);

#endif
