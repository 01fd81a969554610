/* The gateway's DSP connector store (src/gateway/connector.h): two stores,
 * a consumer's and a provider's, each with its member's signing key,
 * hand each other the messages of their outboxes as the gateways would,
 * through every state to FINALIZED; a counter-offer; the refusals of a
 * forged, unknown, misaddressed, stale or out-of-turn message, each
 * leaving the negotiation as it was; a message delivered twice; and a
 * store opened again holding what it had. The same on PostgreSQL with
 * NDX_TEST_ENGINE=pg (suite pg: each store a schema of its own in the
 * database NDX_TEST_PG; skipped without it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "connector.h"
#include "pg_exec.h"
#include "ndx/err.h"
#include "ndx/key.h"
#include "ndx/negmsg.h"

#define CONSUMER "VN/GOV/BHXH"
#define PROVIDER "VN/GOV/BCA"
#define OTHER "VN/GOV/BTC"

static const char *pg_base; /* NDX_TEST_PG in the PostgreSQL run */
static int case_no;

struct world {
	char cpath[700], ppath[700];
	struct gw_conn_store *c, *p;
	struct ndx_key *ckey, *pkey, *okey;
	char ckid[NDX_KEY_ID_HEX_LEN + 1], pkid[NDX_KEY_ID_HEX_LEN + 1];
	const struct ndx_key *provider_key_override; /* a forged key the lookup gives */
};

static struct world *W;

static const struct ndx_key *key_of(void *ud, const char *member, const char *kid)
{
	struct world *w = ud;

	if (strcmp(member, CONSUMER) == 0 && strcmp(kid, w->ckid) == 0)
		return w->ckey;
	if (strcmp(member, PROVIDER) == 0 && strcmp(kid, w->pkid) == 0)
		return w->provider_key_override ? w->provider_key_override : w->pkey;
	return NULL;
}

static json_t *offer(int count)
{
	return json_pack("{sssssss[{sss[{sssssi}]}]}", "@id", "urn:uuid:offer-1", "@type", "Offer",
			 "target", "urn:uuid:dataset-1", "permission", "action", "use", "constraint",
			 "leftOperand", "count", "operator", "lteq", "rightOperand", count);
}

static int setup(void **state)
{
	const char *base = getenv("NDX_TEST_TMP");
	struct world *w = calloc(1, sizeof *w);

	assert_non_null(w);
	case_no++;
	if (pg_base) {
		char stmt[100];

		for (int k = 0; k < 2; k++) {
			char *out = k ? w->ppath : w->cpath;

			snprintf(stmt, sizeof stmt, "CREATE SCHEMA n%ld_%d_%c", (long)getpid(), case_no,
				 k ? 'p' : 'c');
			test_pg_exec(pg_base, stmt);
			snprintf(out, sizeof w->cpath, "%s%coptions=-csearch_path%%3Dn%ld_%d_%c",
				 pg_base, strchr(pg_base, '?') ? '&' : '?', (long)getpid(), case_no,
				 k ? 'p' : 'c');
		}
	} else {
		snprintf(w->cpath, sizeof w->cpath, "%s/conn-c-%d-%d.db", base ? base : "/tmp",
			 (int)getpid(), case_no);
		snprintf(w->ppath, sizeof w->ppath, "%s/conn-p-%d-%d.db", base ? base : "/tmp",
			 (int)getpid(), case_no);
		unlink(w->cpath);
		unlink(w->ppath);
	}
	assert_int_equal(gw_conn_store_open(w->cpath, &w->c), NDX_OK);
	assert_int_equal(gw_conn_store_open(w->ppath, &w->p), NDX_OK);
	assert_int_equal(ndx_key_generate(&w->ckey), NDX_OK);
	assert_int_equal(ndx_key_generate(&w->pkey), NDX_OK);
	assert_int_equal(ndx_key_generate(&w->okey), NDX_OK);
	ndx_key_id(w->ckey, w->ckid);
	ndx_key_id(w->pkey, w->pkid);
	W = w;
	*state = w;
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;

	gw_conn_store_close(w->c);
	gw_conn_store_close(w->p);
	ndx_key_free(w->ckey);
	ndx_key_free(w->pkey);
	ndx_key_free(w->okey);
	if (pg_base) {
		char stmt[100];

		for (int k = 0; k < 2; k++) {
			snprintf(stmt, sizeof stmt, "DROP SCHEMA n%ld_%d_%c CASCADE", (long)getpid(),
				 case_no, k ? 'p' : 'c');
			test_pg_exec(pg_base, stmt);
		}
	} else {
		unlink(w->cpath);
		unlink(w->ppath);
		for (int k = 0; k < 2; k++) {
			char side[720];

			snprintf(side, sizeof side, "%s-wal", k ? w->ppath : w->cpath);
			unlink(side);
			snprintf(side, sizeof side, "%s-shm", k ? w->ppath : w->cpath);
			unlink(side);
		}
	}
	free(w);
	return 0;
}

/* The one message due in from's outbox. */
static json_t *due(struct gw_conn_store *from)
{
	json_t *box = NULL, *m;

	assert_int_equal(gw_conn_outbox(from, INT64_MAX / 2, 10, &box), NDX_OK);
	assert_int_equal(json_array_size(box), 1);
	m = json_incref(json_array_get(box, 0));
	json_decref(box);
	return m;
}

static const char *str(const json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));

	return v ? v : "";
}

/* Delivers the one due message of from to to as the gateway port would:
 * NDX_OK or the refusal. */
static int deliver(struct world *w, bool to_provider, int64_t *neg, struct gw_conn_refusal *r)
{
	struct gw_conn_store *from = to_provider ? w->c : w->p, *to = to_provider ? w->p : w->c;
	json_t *m = due(from);
	int rc = gw_conn_receive(to, to_provider ? PROVIDER : CONSUMER,
				 to_provider ? CONSUMER : PROVIDER, str(m, "path"), str(m, "jws"),
				 strlen(str(m, "jws")), key_of, w, 1000, neg, r);

	if (rc == NDX_OK) {
		json_t *shown = NULL;
		const char *ppid = NULL;

		if (to_provider) {
			assert_int_equal(gw_conn_get(to, *neg, &shown), NDX_OK);
			ppid = str(shown, "providerPid");
		}
		assert_int_equal(gw_conn_delivered(from, json_integer_value(json_object_get(m, "neg")),
						   json_integer_value(json_object_get(m, "seq")),
						   true, false, ppid, NULL, 0),
				 NDX_OK);
		json_decref(shown);
	}
	json_decref(m);
	return rc;
}

static json_t *get(struct gw_conn_store *s, int64_t neg)
{
	json_t *o = NULL;

	assert_int_equal(gw_conn_get(s, neg, &o), NDX_OK);
	return o;
}

static void assert_state(struct gw_conn_store *s, int64_t neg, const char *state)
{
	json_t *o = get(s, neg);

	assert_string_equal(str(o, "state"), state);
	json_decref(o);
}

static void test_agreed_automatically_to_finalized(void **state)
{
	struct world *w = *state;
	struct gw_conn_refusal r;
	int64_t cneg = 0, pneg = 0, n2 = 0;
	json_t *o = offer(5), *neg, *agreement, *extra, *chain = NULL, *list = NULL;

	assert_int_equal(gw_conn_start(w->c, CONSUMER, w->ckey, PROVIDER, CONSUMER "/INSURANCE", o,
				       1000, &cneg, &r),
			 NDX_OK);
	assert_state(w->c, cneg, "REQUESTED");
	/* Before the provider answers, the consumer has no providerPid to send to. */
	assert_int_equal(gw_conn_send(w->c, CONSUMER, w->ckey, cneg, NDX_NEG_MSG_TERMINATION,
				      NULL, 1000, &r),
			 NDX_EINVAL);
	assert_string_equal(r.code, "Client.NotYetAnswered");
	assert_int_equal(deliver(w, true, &pneg, &r), NDX_OK);
	neg = get(w->p, pneg);
	assert_string_equal(str(neg, "state"), "REQUESTED");
	assert_string_equal(str(neg, "counterparty"), CONSUMER);
	assert_string_equal(str(neg, "dataset"), "urn:uuid:dataset-1");
	/* The request is the catalogue's offer: agreed without anyone; another
	 * offer of the catalogue's (other terms): the officer decides. */
	assert_int_equal(gw_conn_auto_step(neg, o), NDX_NEG_MSG_AGREEMENT);
	{
		json_t *other = offer(6);

		assert_int_equal(gw_conn_auto_step(neg, other), -1);
		assert_int_equal(gw_conn_auto_step(neg, NULL), -1);
		json_decref(other);
	}
	assert_string_equal(str(neg, "waiting"), "approve");
	/* An agreement on other terms than the latest offer's is refused. */
	agreement = offer(9);
	json_object_set_new(agreement, "assigner", json_string(PROVIDER));
	json_object_set_new(agreement, "assignee", json_string(CONSUMER));
	extra = json_pack("{sO}", "agreement", agreement);
	assert_int_equal(gw_conn_send(w->p, PROVIDER, w->pkey, pneg, NDX_NEG_MSG_AGREEMENT, extra,
				      2000, &r),
			 NDX_EINVAL);
	json_decref(extra);
	json_object_set_new(agreement, "permission",
			    json_incref(json_object_get(o, "permission")));
	extra = json_pack("{sO}", "agreement", agreement);
	assert_int_equal(gw_conn_send(w->p, PROVIDER, w->pkey, pneg, NDX_NEG_MSG_AGREEMENT, extra,
				      2000, &r),
			 NDX_OK);
	json_decref(extra);
	json_decref(agreement);
	assert_int_equal(deliver(w, false, &n2, &r), NDX_OK);
	assert_int_equal(n2, cneg);
	json_decref(neg);
	neg = get(w->c, cneg);
	assert_string_equal(str(neg, "state"), "AGREED");
	{
		json_t *pn = get(w->p, pneg);

		assert_string_equal(str(neg, "providerPid"), str(pn, "providerPid"));
		json_decref(pn);
	}
	assert_int_equal(gw_conn_auto_step(neg, NULL), NDX_NEG_MSG_VERIFICATION);
	json_decref(neg);
	assert_int_equal(gw_conn_send(w->c, CONSUMER, w->ckey, cneg, NDX_NEG_MSG_VERIFICATION, NULL,
				      3000, &r),
			 NDX_OK);
	assert_int_equal(deliver(w, true, &n2, &r), NDX_OK);
	neg = get(w->p, pneg);
	assert_int_equal(gw_conn_auto_step(neg, NULL), NDX_NEG_MSG_FINALIZED);
	json_decref(neg);
	assert_int_equal(gw_conn_send(w->p, PROVIDER, w->pkey, pneg, NDX_NEG_MSG_FINALIZED, NULL,
				      4000, &r),
			 NDX_OK);
	/* The registry gets the chain once the consumer holds all of it. */
	assert_int_equal(gw_conn_unregistered(w->p, 5000, &list), NDX_OK);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
	assert_int_equal(deliver(w, false, &n2, &r), NDX_OK);
	assert_state(w->c, cneg, "FINALIZED");
	assert_state(w->p, pneg, "FINALIZED");
	assert_int_equal(gw_conn_unregistered(w->p, 5000, &list), NDX_OK);
	assert_int_equal(json_array_size(list), 1);
	json_decref(list);
	/* Both sides hold the same chain of four, each linked to the one before. */
	assert_int_equal(gw_conn_chain(w->p, pneg, &chain), NDX_OK);
	assert_int_equal(json_array_size(chain), 4);
	{
		json_t *cchain = NULL;
		char prev[NDX_NEGMSG_HASH_LEN + 1] = "";

		assert_int_equal(gw_conn_chain(w->c, cneg, &cchain), NDX_OK);
		assert_true(json_equal(chain, cchain));
		json_decref(cchain);
		for (size_t i = 0; i < 4; i++) {
			const char *t = json_string_value(json_array_get(chain, i));
			struct ndx_negmsg *m = NULL;
			char err[128];

			assert_int_equal(ndx_negmsg_parse(t, strlen(t), &m, err, sizeof err), NDX_OK);
			assert_int_equal(m->has_previous, i > 0);
			if (i)
				assert_string_equal(m->previous, prev);
			memcpy(prev, m->hash, sizeof prev);
			ndx_negmsg_free(m);
		}
	}
	json_decref(chain);
	/* Recorded by the registry: not listed again. */
	assert_int_equal(gw_conn_registered(w->p, pneg, false, false, NULL, 0, "unreachable", 9000),
			 NDX_OK);
	assert_int_equal(gw_conn_unregistered(w->p, 5000, &list), NDX_OK);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
	assert_int_equal(gw_conn_registered(w->p, pneg, true, false, "urn:uuid:agr", 7, NULL, 0),
			 NDX_OK);
	neg = get(w->p, pneg);
	assert_string_equal(str(neg, "registry"), "recorded");
	assert_string_equal(str(neg, "agreementId"), "urn:uuid:agr");
	json_decref(neg);
	/* Nothing moves a final negotiation. */
	assert_int_equal(gw_conn_send(w->p, PROVIDER, w->pkey, pneg, NDX_NEG_MSG_TERMINATION, NULL,
				      6000, &r),
			 NDX_EINVAL);
	assert_string_equal(r.code, "Client.InvalidTransition");
	json_decref(o);
	/* Opened again (a restart): the same negotiations. */
	gw_conn_store_close(w->p);
	assert_int_equal(gw_conn_store_open(w->ppath, &w->p), NDX_OK);
	assert_state(w->p, pneg, "FINALIZED");
	assert_int_equal(gw_conn_list(w->p, 10, &list), NDX_OK);
	assert_int_equal(json_array_size(list), 1);
	json_decref(list);
}

/* A negotiation of the consumer's up to REQUESTED at the provider. */
static void requested(struct world *w, int64_t *cneg, int64_t *pneg)
{
	struct gw_conn_refusal r;
	json_t *o = offer(5);

	assert_int_equal(gw_conn_start(w->c, CONSUMER, w->ckey, PROVIDER, NULL, o, 1000, cneg, &r),
			 NDX_OK);
	assert_int_equal(deliver(w, true, pneg, &r), NDX_OK);
	json_decref(o);
}

/* Two nodes of the consumer's gateway on one store read the same outbox:
 * only one takes the message; it is not due while taken, and due again
 * for either node once the time it was taken for has passed. */
static void test_one_node_takes_a_delivery(void **state)
{
	struct world *w = *state;
	struct gw_conn_store *other = NULL;
	struct gw_conn_refusal r;
	int64_t cneg, pneg, seq, due_ms;
	json_t *o = offer(5), *m, *box = NULL;

	assert_int_equal(gw_conn_store_open(w->cpath, &other), NDX_OK);
	assert_int_equal(gw_conn_start(w->c, CONSUMER, w->ckey, PROVIDER, NULL, o, 1000, &cneg, &r),
			 NDX_OK);
	m = due(w->c);
	seq = json_integer_value(json_object_get(m, "seq"));
	due_ms = json_integer_value(json_object_get(m, "due_ms"));
	json_decref(m);
	m = due(other);
	assert_int_equal(json_integer_value(json_object_get(m, "due_ms")), due_ms);
	json_decref(m);

	assert_int_equal(gw_conn_claim(other, cneg, seq, due_ms, 20000), NDX_OK);
	assert_int_equal(gw_conn_claim(w->c, cneg, seq, due_ms, 20000), NDX_ENOTFOUND);
	for (int k = 0; k < 2; k++) {
		assert_int_equal(gw_conn_outbox(k ? other : w->c, 19999, 10, &box), NDX_OK);
		assert_int_equal(json_array_size(box), 0);
		json_decref(box);
	}
	/* The taking node stopped mid-attempt: due again at 20000, for either. */
	assert_int_equal(gw_conn_outbox(w->c, 20000, 10, &box), NDX_OK);
	assert_int_equal(json_array_size(box), 1);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(box, 0), "due_ms")), 20000);
	json_decref(box);
	assert_int_equal(gw_conn_claim(w->c, cneg, seq, 20000, 40000), NDX_OK);
	assert_int_equal(gw_conn_claim(other, cneg, seq, 20000, 40000), NDX_ENOTFOUND);
	/* Delivered: nobody takes it any more, whatever time they read. */
	assert_int_equal(deliver(w, true, &pneg, &r), NDX_OK);
	assert_int_equal(gw_conn_claim(other, cneg, seq, 40000, 60000), NDX_ENOTFOUND);
	assert_int_equal(gw_conn_outbox(other, INT64_MAX / 2, 10, &box), NDX_OK);
	assert_int_equal(json_array_size(box), 0);
	json_decref(box);
	gw_conn_store_close(other);
	json_decref(o);
}

/* The provider's connector refuses the initial request for good: the
 * consumer's negotiation ends; a failure that may pass is tried again. */
static void test_initial_request_refused(void **state)
{
	struct world *w = *state;
	struct gw_conn_refusal r;
	int64_t cneg;
	json_t *o = offer(5), *m, *box = NULL;

	assert_int_equal(gw_conn_start(w->c, CONSUMER, w->ckey, PROVIDER, NULL, o, 1000, &cneg, &r),
			 NDX_OK);
	m = due(w->c);
	assert_int_equal(gw_conn_delivered(w->c, cneg, 1, false, false, NULL, "unreachable", 5000),
			 NDX_OK);
	assert_int_equal(gw_conn_outbox(w->c, 4999, 10, &box), NDX_OK);
	assert_int_equal(json_array_size(box), 0);
	json_decref(box);
	assert_state(w->c, cneg, "REQUESTED");
	json_decref(m);
	m = due(w->c);
	assert_int_equal(gw_conn_delivered(w->c, cneg, 1, false, true, NULL, "refused", 0), NDX_OK);
	assert_int_equal(gw_conn_outbox(w->c, INT64_MAX / 2, 10, &box), NDX_OK);
	assert_int_equal(json_array_size(box), 0);
	json_decref(box);
	{
		json_t *neg = get(w->c, cneg);

		assert_string_equal(str(neg, "state"), "TERMINATED");
		assert_string_equal(str(neg, "lastError"), "refused");
		json_decref(neg);
	}
	json_decref(m);
	json_decref(o);
}

static void test_counter_offer(void **state)
{
	struct world *w = *state;
	struct gw_conn_refusal r;
	int64_t cneg, pneg, n;
	json_t *counter = offer(2), *extra, *neg;

	requested(w, &cneg, &pneg);
	extra = json_pack("{sO}", "offer", counter);
	assert_int_equal(gw_conn_send(w->p, PROVIDER, w->pkey, pneg, NDX_NEG_MSG_OFFER, extra, 1500,
				      &r),
			 NDX_OK);
	json_decref(extra);
	assert_int_equal(deliver(w, false, &n, &r), NDX_OK);
	neg = get(w->c, cneg);
	assert_string_equal(str(neg, "state"), "OFFERED");
	assert_string_equal(str(neg, "waiting"), "accept");
	assert_true(gw_conn_same_terms(json_object_get(neg, "offer"), counter));
	assert_int_equal(gw_conn_auto_step(neg, NULL), -1);
	json_decref(neg);
	assert_int_equal(gw_conn_send(w->c, CONSUMER, w->ckey, cneg, NDX_NEG_MSG_ACCEPTED, NULL,
				      1600, &r),
			 NDX_OK);
	assert_int_equal(deliver(w, true, &n, &r), NDX_OK);
	neg = get(w->p, pneg);
	assert_string_equal(str(neg, "state"), "ACCEPTED");
	/* The consumer accepted the provider's own offer: agreed without anyone. */
	assert_int_equal(gw_conn_auto_step(neg, NULL), NDX_NEG_MSG_AGREEMENT);
	json_decref(neg);
	json_decref(counter);
}

/* The provider's next message (a counter-offer) signed and stored, then
 * replaced by each refused variant before the real one is delivered. */
static void test_refusals_change_nothing(void **state)
{
	struct world *w = *state;
	struct gw_conn_refusal r;
	int64_t cneg, pneg, n;
	json_t *counter = offer(2), *extra, *m, *pneg_shown;
	char *jws = NULL, err[128], path[NDX_NEGMSG_PATH_MAX + 1];
	const char *cpid;

	requested(w, &cneg, &pneg);
	pneg_shown = get(w->p, pneg);
	cpid = str(pneg_shown, "consumerPid");
	snprintf(path, sizeof path, "/dsp/consumer/negotiations/%s/offers", cpid);
	extra = json_pack("{sO}", "offer", counter);
	assert_int_equal(gw_conn_send(w->p, PROVIDER, w->pkey, pneg, NDX_NEG_MSG_OFFER, extra, 1500,
				      &r),
			 NDX_OK);
	json_decref(extra);
	m = due(w->p);
	{
		const char *good = str(m, "jws");
		struct ndx_negmsg *parsed = NULL;
		char *body;

		assert_int_equal(ndx_negmsg_parse(good, strlen(good), &parsed, err, sizeof err),
				 NDX_OK);
		body = json_dumps(parsed->message, JSON_COMPACT);
		/* Signed by another key under the provider's key id: the lookup
		 * finds the provider's key, which does not verify it. */
		w->provider_key_override = w->okey;
		assert_int_equal(gw_conn_receive(w->c, CONSUMER, PROVIDER, path, good, strlen(good),
						 key_of, w, 2000, &n, &r),
				 NDX_EINVAL);
		assert_int_equal(r.status, 403);
		assert_string_equal(r.code, "Client.BadSignature");
		w->provider_key_override = NULL;
		/* Signed by a key that is no gateway's of the provider. */
		assert_int_equal(ndx_negmsg_sign(w->okey, body, strlen(body), PROVIDER, path,
						 parsed->previous, 2000, &jws, err, sizeof err),
				 NDX_OK);
		assert_int_equal(gw_conn_receive(w->c, CONSUMER, PROVIDER, path, jws, strlen(jws),
						 key_of, w, 2000, &n, &r),
				 NDX_EINVAL);
		assert_string_equal(r.code, "Client.UnknownSigner");
		free(jws);
		/* Delivered by another member's gateway. */
		assert_int_equal(gw_conn_receive(w->c, CONSUMER, OTHER, path, good, strlen(good),
						 key_of, w, 2000, &n, &r),
				 NDX_EINVAL);
		assert_string_equal(r.code, "Client.WrongSender");
		/* Delivered to another endpoint than its ndx:path. */
		{
			char other[NDX_NEGMSG_PATH_MAX + 1];

			snprintf(other, sizeof other, "/dsp/consumer/negotiations/%s/agreement", cpid);
			assert_int_equal(gw_conn_receive(w->c, CONSUMER, PROVIDER, other, good,
							 strlen(good), key_of, w, 2000, &n, &r),
					 NDX_EINVAL);
			assert_string_equal(r.code, "Client.WrongPath");
		}
		/* After another message than the last: stale. */
		assert_int_equal(ndx_negmsg_sign(w->pkey, body, strlen(body), PROVIDER, path,
						 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 2000,
						 &jws, err, sizeof err),
				 NDX_OK);
		assert_int_equal(gw_conn_receive(w->c, CONSUMER, PROVIDER, path, jws, strlen(jws),
						 key_of, w, 2000, &n, &r),
				 NDX_EINVAL);
		assert_int_equal(r.status, 409);
		assert_string_equal(r.code, "Client.StaleMessage");
		free(jws);
		/* Out of turn: a FINALIZED while REQUESTED, properly chained. */
		{
			char fpath[NDX_NEGMSG_PATH_MAX + 1], *fin;
			json_t *f = json_pack("{sssssss[s]ss}", "@type",
					      "ContractNegotiationEventMessage", "consumerPid", cpid,
					      "providerPid", str(pneg_shown, "providerPid"),
					      "@context", "x", "eventType", "FINALIZED");

			fin = json_dumps(f, JSON_COMPACT);
			snprintf(fpath, sizeof fpath, "/dsp/consumer/negotiations/%s/events", cpid);
			assert_int_equal(ndx_negmsg_sign(w->pkey, fin, strlen(fin), PROVIDER, fpath,
							 parsed->previous, 2000, &jws, err,
							 sizeof err),
					 NDX_OK);
			assert_int_equal(gw_conn_receive(w->c, CONSUMER, PROVIDER, fpath, jws,
							 strlen(jws), key_of, w, 2000, &n, &r),
					 NDX_EINVAL);
			assert_int_equal(r.status, 400);
			assert_string_equal(r.code, "Client.InvalidTransition");
			free(jws);
			free(fin);
			json_decref(f);
		}
		/* For a negotiation the consumer does not have. */
		{
			char npath[] = "/dsp/consumer/negotiations/urn:uuid:none/offers";

			assert_int_equal(ndx_negmsg_sign(w->pkey, body, strlen(body), PROVIDER, npath,
							 parsed->previous, 2000, &jws, err,
							 sizeof err),
					 NDX_OK);
			assert_int_equal(gw_conn_receive(w->c, CONSUMER, PROVIDER, npath, jws,
							 strlen(jws), key_of, w, 2000, &n, &r),
					 NDX_EINVAL);
			assert_int_equal(r.status, 404);
			free(jws);
		}
		/* Not a JWS. */
		assert_int_equal(gw_conn_receive(w->c, CONSUMER, PROVIDER, path, "x.y", 3, key_of,
						 w, 2000, &n, &r),
				 NDX_EINVAL);
		assert_string_equal(r.code, "Client.InvalidRequest");
		free(body);
		ndx_negmsg_free(parsed);
	}
	assert_state(w->c, cneg, "REQUESTED");
	/* The real one, then the same again (its answer lost): accepted once. */
	assert_int_equal(deliver(w, false, &n, &r), NDX_OK);
	assert_int_equal(gw_conn_receive(w->c, CONSUMER, PROVIDER, path, str(m, "jws"),
					 strlen(str(m, "jws")), key_of, w, 2000, &n, &r),
			 NDX_OK);
	{
		json_t *neg = get(w->c, cneg);

		assert_string_equal(str(neg, "state"), "OFFERED");
		assert_int_equal(json_integer_value(json_object_get(neg, "messages")), 2);
		json_decref(neg);
	}
	/* The consumer's own out-of-turn message is refused before signing. */
	assert_int_equal(gw_conn_send(w->c, CONSUMER, w->ckey, cneg, NDX_NEG_MSG_VERIFICATION, NULL,
				      2500, &r),
			 NDX_EINVAL);
	assert_string_equal(r.code, "Client.InvalidTransition");
	json_decref(m);
	json_decref(pneg_shown);
	json_decref(counter);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_agreed_automatically_to_finalized, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_counter_offer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_initial_request_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_node_takes_a_delivery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals_change_nothing, setup, teardown),
	};
	const char *engine = getenv("NDX_TEST_ENGINE");

	(void)W;
	if (engine && strcmp(engine, "pg") == 0) {
		pg_base = getenv("NDX_TEST_PG");
		if (!pg_base || !pg_base[0]) {
			printf("connector store on PostgreSQL: NDX_TEST_PG is not set (run under "
			       "tests/with-postgres); skipped\n");
			return 77;
		}
		return cmocka_run_group_tests_name("connector_pg", tests, NULL, NULL);
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
