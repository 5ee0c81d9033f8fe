#include <errno.h>
#include <string.h>

#include "agent/nl_ctl.h"

static int nl_ctl__error(const struct nlmsghdr *nlh, void *data)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

	(void)data;
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*e)) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	if (e->error == 0)
		return MNL_CB_STOP;
	errno = e->error < 0 ? -e->error : e->error;
	return MNL_CB_ERROR;
}

/* A dump that failed part-way still ends with NLMSG_DONE, carrying the
 * error: fail rather than let the caller take a partial dump for whole. */
static int nl_ctl__done(const struct nlmsghdr *nlh, void *data)
{
	int e = 0;

	(void)data;
	if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(e))
		memcpy(&e, mnl_nlmsg_get_payload(nlh), sizeof(e));
	if (e < 0) {
		errno = -e;
		return MNL_CB_ERROR;
	}
	return MNL_CB_STOP;
}

mnl_cb_t nl_ctl_cbs[NLMSG_MIN_TYPE] = {
	[NLMSG_ERROR] = nl_ctl__error,
	[NLMSG_DONE] = nl_ctl__done,
};
