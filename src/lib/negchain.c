/* The check of a signed negotiation's chain (ndx/negchain.h). */
#include "ndx/negchain.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ndx/err.h"
#include "ndx/policy.h"

static const char *const ROLE[] = { "consumer", "provider" };

static int refuse(struct ndx_negchain *ch, enum ndx_negchain_fault fault, size_t at,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int refuse(struct ndx_negchain *ch, enum ndx_negchain_fault fault, size_t at,
		  const char *fmt, ...)
{
	va_list ap;

	ch->fault = fault;
	ch->at = at;
	va_start(ap, fmt);
	vsnprintf(ch->why, sizeof ch->why, fmt, ap);
	va_end(ap);
	return NDX_EINVAL;
}

/* The DSP @type v names name, bare or "dspace:"-prefixed. */
static bool dsp_type_is(const json_t *v, const char *name)
{
	const char *s = json_string_value(v);

	if (s && strncmp(s, "dspace:", 7) == 0)
		s += 7;
	return s && strcmp(s, name) == 0;
}

/* Checks message i (from 1) of the chain after those before it. */
static int step(struct ndx_negchain *ch, const struct ndx_negmsg *m, const struct ndx_key *key,
		size_t i)
{
	const json_t *msg = m->message;
	const char *cpid = json_string_value(json_object_get(msg, "consumerPid"));
	const char *ppid = json_string_value(json_object_get(msg, "providerPid"));
	struct ndx_negmsg_endpoint ep;
	enum ndx_neg_state next;
	json_t *s;
	char *party;

	if (ndx_negmsg_verify(m, key) != NDX_OK)
		return refuse(ch, NDX_NEGCHAIN_BAD_SIGNATURE, i,
			      "message %zu: the signature does not verify with its signer's key "
			      "(altered after signing?)", i);
	if (i == 1 && m->has_previous)
		return refuse(ch, NDX_NEGCHAIN_BROKEN, i,
			      "message 1 names a previous message: the chain does not start at "
			      "the negotiation's first message");
	if (i > 1 && (!m->has_previous || strcmp(m->previous, ch->last_hash) != 0))
		return refuse(ch, NDX_NEGCHAIN_BROKEN, i,
			      "message %zu does not follow message %zu (its ndx:previous is not "
			      "that message's hash: a message dropped, reordered or altered)", i,
			      i - 1);
	if (ndx_negmsg_endpoint(m->path, &ep) != NDX_OK || ep.init != (i == 1))
		return refuse(ch, NDX_NEGCHAIN_WRONG_PATH, i, "message %zu is sent to %s, %s", i,
			      m->path,
			      i == 1 ? "not the initial request's /dsp/negotiations/request"
				     : "the path of an initial request");
	party = ep.role == NDX_NEG_CONSUMER ? ch->consumer : ch->provider;
	if (!*party) {
		snprintf(party, NDX_ID_TEXT_MAX, "%s", m->sender);
		if (strcmp(ch->consumer, ch->provider) == 0)
			return refuse(ch, NDX_NEGCHAIN_WRONG_SENDER, i,
				      "message %zu: %s is both consumer and provider", i,
				      m->sender);
	} else if (strcmp(party, m->sender) != 0) {
		return refuse(ch, NDX_NEGCHAIN_WRONG_SENDER, i,
			      "message %zu is the %s's, sent by %s, not by the %s %s", i,
			      ROLE[ep.role], m->sender, ROLE[ep.role], party);
	}
	if (!dsp_type_is(json_object_get(msg, "@type"), ndx_neg_msg_type(ep.msg)) ||
	    (ep.msg == NDX_NEG_MSG_ACCEPTED &&
	     !dsp_type_is(json_object_get(msg, "eventType"), "ACCEPTED")) ||
	    (ep.msg == NDX_NEG_MSG_FINALIZED &&
	     !dsp_type_is(json_object_get(msg, "eventType"), "FINALIZED")))
		return refuse(ch, NDX_NEGCHAIN_FORM, i, "message %zu is not the %s its path %s takes",
			      i, ndx_neg_msg_type(ep.msg), m->path);
	if (i == 1) {
		if (!cpid || strlen(cpid) > NDX_NEGMSG_PID_MAX)
			return refuse(ch, NDX_NEGCHAIN_FORM, i, "message 1 has no consumerPid");
		snprintf(ch->cpid, sizeof ch->cpid, "%s", cpid);
		if (!(ch->request = json_deep_copy(msg)))
			return NDX_ENOMEM;
	} else {
		if (!ch->ppid[0] && ppid && strlen(ppid) <= NDX_NEGMSG_PID_MAX)
			snprintf(ch->ppid, sizeof ch->ppid, "%s", ppid);
		if (!cpid || !ppid || strcmp(cpid, ch->cpid) != 0 || strcmp(ppid, ch->ppid) != 0 ||
		    strcmp(ep.pid, ep.role == NDX_NEG_CONSUMER ? ch->ppid : ch->cpid) != 0)
			return refuse(ch, NDX_NEGCHAIN_WRONG_PATH, i,
				      "message %zu names another negotiation (its pids or path %s)",
				      i, m->path);
	}
	if (m->signed_at_ms < ch->last_at)
		return refuse(ch, NDX_NEGCHAIN_TRANSITION, i,
			      "message %zu is signed before message %zu", i, i - 1);
	next = ndx_neg_next(ch->state, ep.role, ep.msg);
	if (next == NDX_NEG_NONE)
		return refuse(ch, NDX_NEGCHAIN_TRANSITION, i,
			      "message %zu, a %s from the %s, is not allowed in state %s", i,
			      ndx_neg_msg_type(ep.msg), ROLE[ep.role],
			      ndx_neg_state_name(ch->state));
	if ((ep.msg == NDX_NEG_MSG_REQUEST || ep.msg == NDX_NEG_MSG_OFFER) &&
	    json_object_get(json_object_get(msg, "offer"), "permission")) {
		json_decref(ch->offer);
		ch->offered_by = ep.role;
		if (!(ch->offer = json_deep_copy(json_object_get(msg, "offer"))))
			return NDX_ENOMEM;
	}
	if (ep.msg == NDX_NEG_MSG_AGREEMENT) {
		struct ndx_policy pa, po;
		char err[256];
		const json_t *ag = json_object_get(msg, "agreement");
		if (ndx_policy_from_odrl(ag, &pa, err, sizeof err) != NDX_OK)
			return refuse(ch, NDX_NEGCHAIN_TERMS, i, "message %zu: agreement.%s", i, err);
		if (ch->offer && (ndx_policy_from_odrl(ch->offer, &po, err, sizeof err) != NDX_OK ||
				  !ndx_policy_equal(&pa, &po)))
			return refuse(ch, NDX_NEGCHAIN_TERMS, i,
				      "message %zu: the agreement's terms are not the latest "
				      "offer's", i);
		json_decref(ch->agreement);
		if (!(ch->agreement = json_deep_copy(ag)))
			return NDX_ENOMEM;
	}
	s = json_pack("{ss ss}", "sender", m->sender, "hash", m->hash);
	if (!s || json_array_append_new(ch->steps, s))
		return NDX_ENOMEM;
	ch->state = next;
	ch->last_at = m->signed_at_ms;
	ch->messages = i;
	memcpy(ch->last_hash, m->hash, sizeof ch->last_hash);
	return NDX_OK;
}

int ndx_negchain_check(const json_t *texts, ndx_negchain_key_fn key_of, void *ctx,
		       struct ndx_negchain *ch)
{
	size_t n = json_array_size(texts);

	memset(ch, 0, sizeof *ch);
	ch->state = NDX_NEG_NONE;
	if (n == 0 || n > NDX_NEGCHAIN_MAX)
		return refuse(ch, NDX_NEGCHAIN_EMPTY, 0,
			      n ? "the chain has more than %d messages" : "the chain holds no "
			      "messages", NDX_NEGCHAIN_MAX);
	if (!(ch->steps = json_array()))
		return NDX_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const json_t *v = json_array_get(texts, i);
		struct ndx_negmsg *m = NULL;
		const struct ndx_key *key = NULL;
		char why[320], kwhy[256] = "";
		int rc;

		if (!json_is_string(v))
			return refuse(ch, NDX_NEGCHAIN_MALFORMED, i + 1,
				      "message %zu: expected a JWS text", i + 1);
		rc = ndx_negmsg_parse(json_string_value(v), json_string_length(v), &m, why,
				      sizeof why);
		if (rc == NDX_ENOMEM)
			return rc;
		if (rc)
			return refuse(ch, NDX_NEGCHAIN_MALFORMED, i + 1, "message %zu: %s", i + 1,
				      why);
		rc = key_of(ctx, m->sender, m->kid, &key, kwhy, sizeof kwhy);
		if (rc == NDX_ENOTFOUND || (!rc && !key))
			rc = refuse(ch, NDX_NEGCHAIN_UNKNOWN_SIGNER, i + 1,
				    "message %zu is signed with key %.64s, %s", i + 1, m->kid,
				    *kwhy ? kwhy : "no key of a gateway of its sender");
		else if (!rc)
			rc = step(ch, m, key, i + 1);
		ndx_negmsg_free(m);
		if (rc)
			return rc;
	}
	return NDX_OK;
}

void ndx_negchain_clear(struct ndx_negchain *ch)
{
	json_decref(ch->request);
	json_decref(ch->offer);
	json_decref(ch->agreement);
	json_decref(ch->steps);
	ch->request = ch->offer = ch->agreement = ch->steps = NULL;
}
