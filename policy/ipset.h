/* Ipsets: the stable id of each set definition, the members each set has
 * in the model (tern_ipset_v1 entries), and the map kept in step with them
 * by adding first and deleting last. */
#ifndef TERN_POLICY_IPSET_H
#define TERN_POLICY_IPSET_H

#include <stddef.h>
#include <stdint.h>
#include <tern/policy.h>

#include "policy/rules.h"

struct ipset_entry {
	struct tern_ipset_key key;
	__u32 value;               /* TERN_IPSET_MEMBER / TERN_IPSET_EXCEPT */
};

/* The id a definition gets unless another definition holds it already:
 * 31 bits of SHA-256(def), never 0. The same definition gets the same id
 * in every run of every agent, so restarts keep them. */
uint32_t ipset_id_of(const char *def);

/* Definitions -> ids, kept from one run to the next: a definition keeps
 * its id while it is in use; a new one takes ipset_id_of(def), or on a
 * collision the next free id. */
struct ipset_ids;
struct ipset_ids *ipset_ids_new(void);
void ipset_ids_free(struct ipset_ids *ids);
/* Give each set its id; forget definitions not among sets. 0 or -ENOMEM. */
int ipset_ids__assign(struct ipset_ids *ids, struct pol_set *sets, size_t n);

/* Every set's entries in the model, sorted by key, without duplicates.
 * sets must have their ids. 0 or -ENOMEM. */
int ipset_members(const struct model *m, const struct pol_set *sets, size_t n,
		  struct ipset_entry **out, size_t *n_out);

/* tern_ipset_v1 and what it holds (read once, then tracked). */
struct ipset_map;
int ipset_map__open(int fd, struct ipset_map **out);
void ipset_map__free(struct ipset_map *im);
/* Write the entries of want (sorted) that the map lacks or holds with
 * another value; *writes counts them. 0 or the first -errno (the rest
 * are still tried). */
int ipset_map__add(struct ipset_map *im, const struct ipset_entry *want, size_t n,
		   unsigned *writes);
/* Delete the map's entries that want lacks. */
int ipset_map__prune(struct ipset_map *im, const struct ipset_entry *want, size_t n,
		     unsigned *writes);
/* What the map holds, sorted. */
size_t ipset_map__entries(const struct ipset_map *im, const struct ipset_entry **out);

int ipset_entry_cmp(const void *a, const void *b);
/* errno_hint for the map's errors: its size is fixed, full is full */
const char *ipset_errno_hint(int err);

#endif
