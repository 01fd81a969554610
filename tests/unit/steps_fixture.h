/* A small federation for the unit tests of the gateway's exchange steps
 * (test_consumer_steps.c, test_provider_steps.c): real Ed25519 keys, a
 * global configuration signed by the registry's key and verified against
 * its anchor, gateways loaded from real configuration files
 * (gw_config_load, gw_state_new), a loopback ndx_httpd whose handler runs
 * the steps on a real request, and a libcurl client to send it. The
 * configuration is docs/protocol.md's, cut down to what the steps read:
 *
 *   VN/GOV/MOF   subsystem enterprise (the consumer), gateway gw1
 *   VN/GOV/BCA   subsystem population, gateways gw1 and gw2 (the provider)
 *   VN/COM/0101234567  subsystem app, gateway gw1 (a member without grants)
 *   services     VN/GOV/BCA/population/citizens (personal, purpose
 *                public-service), VN/GOV/BCA/population/households
 *   grants       enterprise: GET /citizens/(any) on citizens, GET on any
 *                path of households
 *
 * Everything the fixture makes lives in a directory under NDX_TEST_TMP
 * (or /tmp), left behind for inspection like the other unit tests'. */
#ifndef NDX_TESTS_STEPS_FIXTURE_H
#define NDX_TESTS_STEPS_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "gateway.h"
#include "ndx/httpd.h"
#include "ndx/key.h"

#define SX_MOF "VN/GOV/MOF"
#define SX_BCA "VN/GOV/BCA"
#define SX_COM "VN/COM/0101234567"
#define SX_TAX "VN/GOV/MOF/enterprise"      /* the consumer's client */
#define SX_POPULATION "VN/GOV/BCA/population"
#define SX_OUTSIDER "VN/COM/0101234567/app" /* a client of the configuration, not MOF's */
#define SX_CITIZENS "VN/GOV/BCA/population/citizens"
#define SX_HOUSEHOLDS "VN/GOV/BCA/population/households"
#define SX_PURPOSE "public-service"
#define SX_PIN "001089012345"               /* a valid personal identification number */

enum sx_key { SX_KEY_REGISTRY, SX_KEY_MOF_GW1, SX_KEY_BCA_GW1, SX_KEY_BCA_GW2, SX_KEY_COM_GW1,
	      SX_KEY_N };

struct sx_fed {
	struct ndx_key *key[SX_KEY_N];
	char dir[512];        /* the fixture's directory */
	char *conf_json;      /* the signed document and its signature object */
	size_t conf_len;
	char *conf_sig;
};

/* A gateway as main.c wires one, without its ports, loops, log and
 * witness (the steps up to prepare, and the provider's checks, use none). */
struct sx_gateway {
	struct gw_config *cfg;
	struct gw_state *state;
	struct gw_ctx ctx;
};

/* Creates the keys, the document, its signature, the anchor file. NULL on
 * failure (the reason on stderr). */
struct sx_fed *sx_fed_new(void);
void sx_fed_free(struct sx_fed *f);

/* Writes a gateway configuration file for member/code signing with key
 * sign_key, its subsystems and services given as JSON text (the values
 * of "subsystems" and "services"), its data directory holding the signed
 * configuration, and loads it as ndx-gateway does. NULL on failure. */
struct sx_gateway *sx_gateway_open(struct sx_fed *f, const char *member, const char *code,
				   enum sx_key sign_key, const char *subsystems_json,
				   const char *services_json);
void sx_gateway_free(struct sx_gateway *g);

/* A loopback ndx_httpd (port 0) with one pool thread calling handler. */
struct ndx_httpd *sx_server_start(ndx_http_handler handler, void *ctx, uint16_t *port);

/* What a request sent with sx_send got back. body is malloc'd (NUL
 * terminated); sx_reply_free frees it. */
struct sx_reply {
	long status;
	char *body;
	size_t len;
	char xroad_error[128];  /* the X-Road-Error header, "" when none */
	char content_type[128];
};
/* Sends method target (path and query) to 127.0.0.1:port with the given
 * "Name: value" header lines (NULL-terminated array, may be NULL). Returns
 * 0, or -1 when the transfer failed. */
int sx_send(uint16_t port, const char *method, const char *target, const char *const *headers,
	    struct sx_reply *out);
void sx_reply_free(struct sx_reply *r);

/* The number in ndx_gateway_errors_total for reason on side, as /metrics
 * renders it now: how often a refusal was rendered. */
unsigned long sx_refusals_rendered(struct sx_gateway *g, const char *side, const char *reason);

/* The SHA-256 of a request's empty user headers block, as both gateways
 * hash it (userheaders.h). */
void sx_no_user_headers(uint8_t out[NDX_SHA256_LEN]);

#endif
