/* Links pinned in bpffs: adopt, pin, detach. */
#include <errno.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "agent/log.h"
#include "agent/link_pin.h"

int link_pin__adopt(const char *pin, int prog_fd, link_pin_match_fn match, const void *arg)
{
	int fd = bpf_obj_get(pin), err;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!match(fd, arg)) {
		/* what it attached to went away (or was recreated) */
		log_debug("removing stale link %s", pin);
		close(fd);
		unlink(pin);
		return 0;
	}
	err = bpf_link_update(fd, prog_fd, NULL) ? -errno : 1;
	close(fd);
	return err;
}

int link_pin__pin(int link_fd, const char *pin)
{
	int err = bpf_obj_pin(link_fd, pin) ? -errno : 0;

	close(link_fd); /* pinned, the link lives on; if not, it goes with this */
	return err;
}

int link_pin__detach(const char *pin)
{
	int fd = bpf_obj_get(pin), err = 0;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	/* detach now, even if someone else holds the link open */
	if (bpf_link_detach(fd) && errno != EINVAL && errno != ENOLINK)
		err = -errno;
	close(fd);
	if (unlink(pin) && errno != ENOENT && !err)
		err = -errno;
	return err;
}
