/* Signed DSP negotiation messages (ndx/negmsg.h, docs/marketplace.md
 * "Signed negotiations"). */
#include "ndx/negmsg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ndx/encode.h"
#include "ndx/err.h"
#include "ndx/hash.h"
#include "ndx/jws.h"

#define K_SENDER "ndx:sender"
#define K_PATH "ndx:path"
#define K_PREVIOUS "ndx:previous"
#define K_SIGNED_AT "ndx:signedAt"

static const char *const OWN_KEYS[] = { K_SENDER, K_PATH, K_PREVIOUS, K_SIGNED_AT };

void ndx_negmsg_hash(const char *text, size_t len, char out[NDX_NEGMSG_HASH_LEN + 1])
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	uint8_t h[NDX_SHA256_LEN];
	size_t o = 0, i;

	ndx_sha256(text, len, h);
	/* base64url without padding, written here so that it cannot fail. */
	for (i = 0; i + 3 <= NDX_SHA256_LEN; i += 3) {
		uint32_t v = (uint32_t)h[i] << 16 | (uint32_t)h[i + 1] << 8 | h[i + 2];
		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = alphabet[v >> 6 & 63];
		out[o++] = alphabet[v & 63];
	}
	/* 32 = 30 + 2: two bytes left, three characters. */
	{
		uint32_t v = (uint32_t)h[i] << 16 | (uint32_t)h[i + 1] << 8;
		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = alphabet[v >> 6 & 63];
	}
	out[o] = '\0';
}

/* The pid segment after prefix, and what follows it ("" when nothing). */
static bool pid_and_suffix(const char *rest, char pid[NDX_NEGMSG_PID_MAX + 1],
			   const char **suffix)
{
	const char *slash = strchr(rest, '/');
	size_t n = slash ? (size_t)(slash - rest) : strlen(rest);

	if (n == 0 || n > NDX_NEGMSG_PID_MAX)
		return false;
	memcpy(pid, rest, n);
	pid[n] = '\0';
	*suffix = slash ? slash + 1 : "";
	return true;
}

/* The binding's message endpoints below a negotiation: who sends to each
 * and what it takes (DSP 2025-1 HTTPS binding, docs/marketplace.md). */
static const struct {
	enum ndx_neg_role sender;
	const char *suffix;
	enum ndx_neg_msg msg;
} ENDPOINTS[] = {
	{ NDX_NEG_CONSUMER, "request", NDX_NEG_MSG_REQUEST },
	{ NDX_NEG_CONSUMER, "events", NDX_NEG_MSG_ACCEPTED },
	{ NDX_NEG_CONSUMER, "agreement/verification", NDX_NEG_MSG_VERIFICATION },
	{ NDX_NEG_CONSUMER, "termination", NDX_NEG_MSG_TERMINATION },
	{ NDX_NEG_PROVIDER, "offers", NDX_NEG_MSG_OFFER },
	{ NDX_NEG_PROVIDER, "agreement", NDX_NEG_MSG_AGREEMENT },
	{ NDX_NEG_PROVIDER, "events", NDX_NEG_MSG_FINALIZED },
	{ NDX_NEG_PROVIDER, "termination", NDX_NEG_MSG_TERMINATION },
};

int ndx_negmsg_suffix(enum ndx_neg_role sender, const char *suffix, enum ndx_neg_msg *msg)
{
	for (size_t i = 0; i < sizeof ENDPOINTS / sizeof ENDPOINTS[0]; i++)
		if (ENDPOINTS[i].sender == sender && strcmp(ENDPOINTS[i].suffix, suffix) == 0) {
			*msg = ENDPOINTS[i].msg;
			return NDX_OK;
		}
	return NDX_EINVAL;
}

int ndx_negmsg_endpoint(const char *path, struct ndx_negmsg_endpoint *out)
{
	static const char provider_paths[] = "/dsp/negotiations/";
	static const char consumer_paths[] = "/dsp/consumer/negotiations/";
	const char *rest, *suffix;

	memset(out, 0, sizeof *out);
	if (!path || strlen(path) > NDX_NEGMSG_PATH_MAX)
		return NDX_EINVAL;
	if (strcmp(path, "/dsp/negotiations/request") == 0) {
		out->init = true;
		out->role = NDX_NEG_CONSUMER;
		out->msg = NDX_NEG_MSG_REQUEST;
		return NDX_OK;
	}
	/* the provider's paths take the consumer's messages and the other way */
	if (strncmp(path, provider_paths, sizeof provider_paths - 1) == 0) {
		out->role = NDX_NEG_CONSUMER;
		rest = path + sizeof provider_paths - 1;
	} else if (strncmp(path, consumer_paths, sizeof consumer_paths - 1) == 0) {
		out->role = NDX_NEG_PROVIDER;
		rest = path + sizeof consumer_paths - 1;
	} else {
		return NDX_EINVAL;
	}
	if (!pid_and_suffix(rest, out->pid, &suffix))
		return NDX_EINVAL;
	return ndx_negmsg_suffix(out->role, suffix, &out->msg);
}

static bool is_member_id(const char *s)
{
	struct ndx_id id;

	return s && ndx_id_parse(s, strlen(s), NDX_ID_MEMBER, &id, NULL) == NDX_OK;
}

static bool is_hash(const char *s)
{
	return s && ndx_b64url_token_ok(s, strlen(s), NDX_NEGMSG_HASH_LEN);
}

int ndx_negmsg_sign(const struct ndx_key *key, const char *message, size_t len,
		    const char *sender, const char *path, const char *previous,
		    int64_t signed_at_ms, char **out, char *err, size_t errcap)
{
	struct ndx_negmsg_endpoint ep;
	json_error_t jerr;
	json_t *o;
	char *payload;
	int rc;

	*out = NULL;
	if (!is_member_id(sender))
		return ndx_fail(err, errcap, NDX_EINVAL, "the sender must be a member id");
	if (ndx_negmsg_endpoint(path, &ep) != NDX_OK)
		return ndx_fail(err, errcap, NDX_EINVAL,
				"the path must be an endpoint of the negotiation binding "
				"(/dsp/negotiations/... or /dsp/consumer/negotiations/...)");
	if (previous && !is_hash(previous))
		return ndx_fail(err, errcap, NDX_EINVAL,
				"the previous message's hash must be %d base64url characters",
				NDX_NEGMSG_HASH_LEN);
	if (signed_at_ms < 0)
		return ndx_fail(err, errcap, NDX_EINVAL, "the signing time must be from 0");
	o = json_loadb(message, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(o)) {
		json_decref(o);
		return ndx_fail(err, errcap, NDX_EINVAL, "the message must be a JSON object%s%s",
				jerr.text[0] ? ": " : "", jerr.text);
	}
	for (size_t i = 0; i < sizeof OWN_KEYS / sizeof *OWN_KEYS; i++)
		if (json_object_get(o, OWN_KEYS[i])) {
			json_decref(o);
			return ndx_fail(err, errcap, NDX_EINVAL,
					"the message has %s already: it is added by the signer",
					OWN_KEYS[i]);
		}
	if (json_object_set_new(o, K_SENDER, json_string(sender)) ||
	    json_object_set_new(o, K_PATH, json_string(path)) ||
	    (previous && json_object_set_new(o, K_PREVIOUS, json_string(previous))) ||
	    json_object_set_new(o, K_SIGNED_AT, json_integer((json_int_t)signed_at_ms))) {
		json_decref(o);
		return NDX_ENOMEM;
	}
	payload = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!payload)
		return NDX_ENOMEM;
	rc = ndx_jws_sign(key, NDX_NEGMSG_TYP, payload, strlen(payload), out);
	free(payload);
	if (rc == NDX_ETOOBIG)
		return ndx_fail(err, errcap, rc, "the signed message would exceed %u bytes",
				NDX_JWS_MAX_BYTES);
	if (rc == NDX_EINVAL)
		return ndx_fail(err, errcap, rc, "the key is a public key; signing needs the private one");
	return rc;
}

static int fields(struct ndx_negmsg *m, json_t *p, char *err, size_t errcap)
{
	const char *sender = json_string_value(json_object_get(p, K_SENDER));
	const char *path = json_string_value(json_object_get(p, K_PATH));
	const json_t *prev = json_object_get(p, K_PREVIOUS);
	const json_t *at = json_object_get(p, K_SIGNED_AT);
	struct ndx_negmsg_endpoint ep;

	if (!is_member_id(sender))
		return ndx_fail(err, errcap, NDX_EINVAL, K_SENDER ": expected the sender's member id");
	if (!path || ndx_negmsg_endpoint(path, &ep) != NDX_OK)
		return ndx_fail(err, errcap, NDX_EINVAL,
				K_PATH ": expected a path of the negotiation binding");
	if (prev && !is_hash(json_string_value(prev)))
		return ndx_fail(err, errcap, NDX_EINVAL,
				K_PREVIOUS ": expected the base64url SHA-256 of the previous message");
	if (!json_is_integer(at) || json_integer_value(at) < 0)
		return ndx_fail(err, errcap, NDX_EINVAL,
				K_SIGNED_AT ": expected the signing time in Unix milliseconds");
	snprintf(m->sender, sizeof m->sender, "%s", sender);
	snprintf(m->path, sizeof m->path, "%s", path);
	m->has_previous = prev != NULL;
	snprintf(m->previous, sizeof m->previous, "%s", prev ? json_string_value(prev) : "");
	m->signed_at_ms = (int64_t)json_integer_value(at);
	for (size_t i = 0; i < sizeof OWN_KEYS / sizeof *OWN_KEYS; i++)
		json_object_del(p, OWN_KEYS[i]);
	m->message = p;
	return NDX_OK;
}

int ndx_negmsg_parse(const char *text, size_t len, struct ndx_negmsg **out, char *err,
		     size_t errcap)
{
	struct ndx_negmsg *m;
	const uint8_t *pl;
	const char *typ;
	json_error_t jerr;
	json_t *p;
	size_t plen;
	char why[160];
	int rc;

	*out = NULL;
	if (!(m = calloc(1, sizeof *m)))
		return NDX_ENOMEM;
	if ((rc = ndx_jws_parse(text, len, &m->jws, why, sizeof why)) != NDX_OK) {
		ndx_negmsg_free(m);
		return ndx_fail(err, errcap, rc, "not a JWS compact serialization: %s", why);
	}
	typ = ndx_jws_typ(m->jws);
	if (!typ || strcmp(typ, NDX_NEGMSG_TYP) != 0) {
		/* The reason first: typ is the header's, freed with m. */
		rc = ndx_fail(err, errcap, NDX_EINVAL, "the JWS is not a negotiation message (typ "
			      "%.32s, not " NDX_NEGMSG_TYP ")", typ ? typ : "(none)");
		ndx_negmsg_free(m);
		return rc;
	}
	if (!(m->kid = ndx_jws_kid(m->jws)) || !*m->kid) {
		ndx_negmsg_free(m);
		return ndx_fail(err, errcap, NDX_EINVAL,
				"the JWS names no kid (the key id of a gateway's signing key)");
	}
	pl = ndx_jws_payload(m->jws, &plen);
	p = json_loadb((const char *)pl, plen, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(p)) {
		json_decref(p);
		ndx_negmsg_free(m);
		return ndx_fail(err, errcap, NDX_EINVAL, "the payload is not one JSON object");
	}
	if ((rc = fields(m, p, err, errcap)) != NDX_OK) {
		json_decref(p);
		ndx_negmsg_free(m);
		return rc;
	}
	ndx_negmsg_hash(text, len, m->hash);
	*out = m;
	return NDX_OK;
}

int ndx_negmsg_verify(const struct ndx_negmsg *m, const struct ndx_key *key)
{
	return ndx_jws_verify(m->jws, key) == NDX_OK ? NDX_OK : NDX_EBADSIG;
}

void ndx_negmsg_free(struct ndx_negmsg *m)
{
	if (!m)
		return;
	ndx_jws_free(m->jws);
	json_decref(m->message);
	free(m);
}
