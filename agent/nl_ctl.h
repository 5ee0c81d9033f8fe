/* Netlink control messages of a dump, shared by ternd and tern-cni: an
 * ACK or error ends a request, NLMSG_DONE ends a dump (carrying the error
 * of one that failed part-way). For mnl_cb_run2's control callbacks. */
#ifndef TERN_NL_CTL_H
#define TERN_NL_CTL_H

#include <linux/netlink.h>
#include <libmnl/libmnl.h>

extern mnl_cb_t nl_ctl_cbs[NLMSG_MIN_TYPE];

#endif
