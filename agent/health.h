/* ternd's health endpoints on health.address, for kubelet's probes:
 * /healthz answers 200 whenever ternd's event loop turns (it is answered
 * from that loop), /readyz 200 once the agent says it is ready, else 503
 * with what it waits for. libmicrohttpd serves them inside the loop. */
#ifndef TERN_HEALTH_H
#define TERN_HEALTH_H

struct health;

/* Listen on addr ("host:port", ":port" for every address, "[v6]:port").
 * 0 or -errno (logged, with the address). */
int health_open(const char *addr, struct health **out);
/* The fd to poll for readability. */
int health_fd(const struct health *h);
/* Serve whatever is pending without blocking; call it on every turn of
 * the loop, which also lets idle connections time out. */
void health_process(struct health *h);
/* Ready or not, and why not ("waiting for the first sync of pods"). */
void health_set_ready(struct health *h, int ready, const char *why);
void health_close(struct health *h);

#endif
