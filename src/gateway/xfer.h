/* The gateway's outgoing HTTP: libcurl transfers (xfer.c), to the member
 * gateways of a service (peer.c) and to its own "https://" provider
 * systems and those named by a host name (backend.c), run by an exchange
 * loop (gwloop.h); the answer record (gw_xfer_resp) is also what the
 * loop's own HTTP/1.1 client fills for the others (backend_http1.c). */
#ifndef NDX_GATEWAY_XFER_H
#define NDX_GATEWAY_XFER_H

#include <curl/curl.h>
#include <sys/socket.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gwconfig.h"
#include "ndx/buf.h"
#include "ndx/conf.h"
#include "ndx/loop.h"
#include "userheaders.h"

enum gw_xfer_result {
	GW_XFER_OK = 0,
	GW_XFER_CONNECT,  /* nothing was sent: another address may be tried */
	GW_XFER_TIMEOUT,
	GW_XFER_FAILED,
	GW_XFER_TOOBIG,   /* the response body exceeds the cap */
	GW_XFER_IDENTITY, /* the peer's certificate is not the expected gateway's */
	GW_XFER_LOCAL,    /* this gateway failed before sending (cannot sign) */
};

enum gw_hdr {
	GW_H_CONTENT_TYPE,
	GW_H_LOCATION,
	GW_H_XROAD_ERROR,
	GW_H_REQUEST_ID,
	GW_H_REQUEST_HASH,
	GW_H_RESPONSE_SIG,
	GW_H_DATA_SUBJECTS, /* Ndx-Data-Subjects (subjects.h) */
	GW_H_CONNECTION,
	GW_H_NDX_HEADERS,   /* the user headers a provider gateway signed */
	GW_H_COUNT,
};

struct gw_arena;
struct gw_xfer_resp {
	long status;
	/* NULL: hdr[] and user's entries are malloc'd (gw_xfer_resp_free frees
	 * them); else they come from this exchange's arena (gwarena.h) and go
	 * with it: gw_xfer_resp_use_arena. The body is malloc'd either way. */
	struct gw_arena *arena;
	char *hdr[GW_H_COUNT];
	/* The headers that may be user headers (userheaders.h), as received;
	 * the caller selects with Connection and, from a gateway, Ndx-Headers. */
	struct gw_uh_list user;
	char *body;
	size_t len, cap;
	int toobig;
	int aborted; /* the first-header hook refused */
	/* Called once, at the first header of the final response, with the
	 * handle (e.g. to look at the TLS peer); non-zero aborts. */
	int (*on_headers)(CURL *c, void *ud);
	void *ud;
	char errbuf[CURL_ERROR_SIZE];
};

enum gw_handle_kind { GW_HANDLE_PEER, GW_HANDLE_BACKEND };

/* Whether the URL authority at the start of authority (what follows
 * "scheme://") names its host by an IPv4 address or a bracketed IPv6
 * one: the hops on the loop's own clients (peer_h2.c, backend_http1.c) take
 * only those, and leave a host name to libcurl, which tries each of its
 * addresses. */
bool gw_xfer_host_is_ip(const char *authority);
/* The socket address of an authority "host[:port]" (the whole string),
 * its host an IPv4 address or a bracketed IPv6 one, the port default_port
 * when none is given: into *ss and *sl, and the host without brackets into
 * host (cap bytes) when host is not NULL. false for anything else (a name,
 * a port that is not 1..65535 in digits, a host too long for cap). */
bool gw_xfer_authority_addr(const char *authority, uint16_t default_port,
			    struct sockaddr_storage *ss, socklen_t *sl, char *host, size_t cap);

/* The calling thread's easy handle of that kind, reset and ready (so its
 * connections are reused), or NULL. Owned by the thread. */
CURL *gw_xfer_handle(enum gw_handle_kind kind);
/* One transfer: what gw_xfer_prepare sets up on an easy handle and
 * gw_xfer_complete reads back, whether curl_easy_perform runs it (here, on
 * the calling thread) or a loop's multi handle does (gwloop.h). Lives until
 * the transfer is complete. */
struct gw_xfer {
	CURL *c;
	struct gw_xfer_resp *r;
	struct ndx_buf body; /* private: the answer as it arrives */
	int hooked;          /* private: on_headers was called */
	/* For a loop's transfers (gwloop.h): called once, on the loop's thread. */
	void (*done)(struct gw_xfer *t, enum gw_xfer_result res);
	void *ud;
	struct gw_xfer *live_prev, *live_next; /* private: the loop's transfers */
};
/* Sets method, body, headers and the response capture into r. */
void gw_xfer_prepare(struct gw_xfer *t, CURL *c, const char *method, const uint8_t *body,
		     size_t body_len, struct curl_slist *headers, struct gw_xfer_resp *r);
/* Hands the body to r and sorts curl's outcome cc into a result. */
enum gw_xfer_result gw_xfer_complete(struct gw_xfer *t, CURLcode cc);
/* Prepares, performs on the calling thread (blocking), completes. */
enum gw_xfer_result gw_xfer_perform(CURL *c, const char *method, const uint8_t *body,
				    size_t body_len, struct curl_slist *headers,
				    struct gw_xfer_resp *r);
/* Frees what r holds and empties it for another answer; r->arena stays. */
void gw_xfer_resp_free(struct gw_xfer_resp *r);
/* The answer's headers (hdr[], user) from a from now on; r is empty. */
void gw_xfer_resp_use_arena(struct gw_xfer_resp *r, struct gw_arena *a);
/* A new header block of the answer (a final one after 1xx): what r holds
 * of headers is dropped. */
void gw_xfer_resp_new_block(struct gw_xfer_resp *r);
/* One answer header, name of nl bytes, value of vl (blanks and CRLF around
 * it are trimmed): kept into r when it is one the gateway reads or may be a
 * user header (userheaders.h). 0, or -1 when the answer cannot be passed on
 * (too many user headers: r->toobig set; an absurd header; no memory).
 * Whichever client read the answer (libcurl here, llhttp in backend_http1.c). */
int gw_xfer_resp_header(struct gw_xfer_resp *r, const char *name, size_t nl, const char *v,
			size_t vl);
/* The options every gateway transfer has (no signals, no redirects, the
 * path as it is, TCP_NODELAY and keep-alive), on a fresh or reset handle. */
void gw_xfer_base_options(CURL *c);
/* curl_global_init and the thread keys; once from main. */
int gw_xfer_global_init(void);
void gw_xfer_global_cleanup(void);
/* Appends "Name: value" to *list; NDX_ENOMEM. An empty value makes
 * "Name:", which tells curl to leave out a header it would add itself. */
int gw_slist_add(struct curl_slist **list, const char *name, const char *value);
/* Appends every header of l as it is (an empty value is sent empty). */
int gw_slist_add_user(struct curl_slist **list, const struct gw_uh_list *l);
/* The same two, the lines and the list's nodes allocated from an
 * exchange's arena (gwarena.h): such a list goes with the arena and is
 * never passed to curl_slist_free_all (curl only reads a header list). */
void gw_slist_add_in(struct gw_arena *a, struct curl_slist **list, const char *name,
		     const char *value);
void gw_slist_add_user_in(struct gw_arena *a, struct curl_slist **list,
			  const struct gw_uh_list *l);

/* ---- peers (peer.c) and backends (backend.c) ----------------------------- */

struct gw_loop;
/* A call's stream on the loop's HTTP/2 client (peer_h2.c); private to it. */
struct gw_ph2_conn;
struct gw_ph2_stream {
	struct gw_ph2_conn *conn; /* NULL when on none */
	struct gw_ph2_stream *prev, *next;
	int32_t id;               /* 0 until nghttp2 has it */
	bool sent;                /* its HEADERS frame went out */
	bool got;                 /* a frame of the answer came in */
	bool on_reused;           /* the connection had answered before */
	bool retried;
	bool hooked;              /* the answering gateway was checked */
	struct ndx_buf body;
	size_t body_off;          /* of the request body sent */
	enum gw_xfer_result end;
	struct ndx_loop_timer t_all, t_conn;
	struct gw_ph2_stream *ended_next;
};
struct gw_peer_call {
	struct gw_loop *loop;   /* whose multi handle carries the transfers */
	const struct ndx_conf *conf;
	const char *member;     /* the service's member: whose gateways may answer */
	const char *method;
	const char *url_suffix; /* /r1/{service wire}{path}[?query] */
	const uint8_t *body;
	size_t body_len;
	struct curl_slist *headers;
	const struct gw_config *cfg;
	const struct gw_settings *s;
	/* Called before each gateway is tried, with its object of conf: signs
	 * the request for that gateway (a request is signed for exactly one
	 * gateway: docs/protocol.md, request hash field 14), sets headers, and
	 * then calls gw_peer_prepared, at once or later on the loop's thread.
	 * Non-zero: it cannot, and the call ends with GW_XFER_LOCAL. */
	int (*prepare)(struct gw_peer_call *call, const struct ndx_conf_gateway *gateway,
		       void *ud);
	/* The end of the call, on the loop's thread: on GW_XFER_OK the answer
	 * is in the call's r and gateway is the peer that gave it. */
	void (*done)(struct gw_peer_call *call, enum gw_xfer_result res);
	void *ud;
	/* X-Road-Security-Server: only the member's gateway of this code; NULL:
	 * any, in order. */
	const char *only_code;
	/* out: the gateway object (of conf) that answered */
	const struct ndx_conf_gateway *gateway;
	/* private */
	struct gw_xfer_resp *r;
	size_t next_index;
	enum gw_xfer_result last;
	struct gw_xfer xfer;
	struct gw_ph2_stream h2;
	char *url; /* of the gateway being tried, malloc'd; the call's owner frees it */
};
/* The text that names a gateway in Ndx-Gateway and in the request hash:
 * "{member}/{code}". NDX_EINVAL when it does not fit. */
int gw_gateway_name(const char *member, const char *code, char *out, size_t cap);
/* The gateway of conf whose certificate the client of req presented on the
 * gateway port (mutual TLS), neither that certificate nor the gateway's
 * signing key revoked; NULL otherwise. fp receives the certificate's
 * fingerprint (hex; "" without one). */
struct ndx_http_req;
const struct ndx_conf_gateway *gw_calling_gateway(const struct ndx_conf *conf,
						  const struct ndx_http_req *req,
						  char fp[2 * NDX_SHA256_LEN + 1]);
/* Starts the call on call->loop's thread (call it there): tries the
 * member's gateways in order, moving on only when a connection cannot be
 * made, and ends with call->done. */
void gw_peer_start(struct gw_peer_call *call, struct gw_xfer_resp *r);
/* The prepare hook's answer: the request is signed for the gateway being
 * tried (ok), or cannot be. */
void gw_peer_prepared(struct gw_peer_call *call, bool ok);

struct gw_backend_call {
	const struct gw_service *svc;
	const char *method;
	const char *path;  /* raw, after the service id */
	const char *query; /* raw, without '?' */
	const uint8_t *body;
	size_t body_len;
	struct curl_slist *headers;
	long connect_timeout_ms;
	size_t max_body;
	/* The end of the call, on the loop's thread. */
	void (*done)(struct gw_backend_call *call, enum gw_xfer_result res);
	void *ud;
	struct gw_xfer xfer; /* private */
};
/* Starts the call on l's thread: a "unix:" backend or an "http://" one
 * named by address through l's HTTP/1.1 client (backend_http1.h), any other in
 * l's multi handle;
 * call and r live until call->done (which may run inside this call). */
void gw_backend_start(struct gw_loop *l, struct gw_backend_call *call, struct gw_xfer_resp *r);

#endif
