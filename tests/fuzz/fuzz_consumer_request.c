/* libFuzzer target for the gateway's reading of an exchange request
 * (src/gateway/reqfront.h gw_reqfront_parse, compiled here with coverage):
 * what an information system's path, query and headers go through on the
 * consumer port before any configuration is consulted, and the same input
 * on the provider port. The input is fields separated by 0xff: path,
 * query, then the header values in enum gw_rf_header order (X-Road-Client,
 * X-Road-Id, X-Road-UserId, X-Road-Issue, Ndx-Purpose, Ndx-Subject,
 * Ndx-Consent, Ndx-Subject-Token, Ndx-Timestamp, Ndx-Gateway, Content-Type,
 * Accept, Accept-Language, X-Road-Security-Server,
 * X-Road-Represented-Party); a header not given, or given as the single
 * byte 0xfe, is absent. Invariants: a refusal has a status in 400..499
 * (414 exactly for a URI too long), the type that fits its check, a
 * message; an accepted request is at most GW_RF_URI_MAX bytes of path and
 * query, keeps only RFC 3986 bytes in rest and query, no dot segment in
 * rest and no header value with CR, LF or NUL or over the cap; client
 * (member or subsystem), service and security server ids round-trip
 * through their canonical and wire forms, and the represented party reads
 * back from its canonical text; the path the consumer gateway sends on
 * (/r1/ + wire service id + rest) reads back to the same service and rest
 * on both ports, with the same request hash; the two ports agree on what
 * they both check. How to run: tests/fuzz/README.md. */
#include <string.h>

#include "fuzz.h"
#include "ndx/hash.h"
#include "ndx/id.h"
#include "reqfront.h"

#define SEP 0xff
#define ABSENT 0xfe
#define NFIELDS (2 + GW_RF_NHEADERS)

/* RFC 3986 pchar and '/' ('?' too in a query), written out apart from
 * reqfront.c so that a change there is checked against the standard. */
static bool rfc3986_ok(const char *s, bool query)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				  (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
				  c == '~';
		bool sub_delim = c == '!' || c == '$' || c == '&' || c == '\'' || c == '(' ||
				 c == ')' || c == '*' || c == '+' || c == ',' || c == ';' || c == '=';

		if (!unreserved && !sub_delim && c != ':' && c != '@' && c != '/' && c != '%' &&
		    !(query && c == '?'))
			return false;
	}
	return true;
}

static void check_refusal(const struct gw_rf_input *in, enum gw_rf_port port,
			  enum gw_rf_result res, const struct gw_rf_refusal *ref)
{
	size_t ulen = strlen(in->path) + (in->query[0] ? 1 + strlen(in->query) : 0);

	FUZZ_CHECK(res == GW_RF_NOT_EXCHANGE || res == GW_RF_BAD_HEADER ||
		   res == GW_RF_BAD_CLIENT || res == GW_RF_URI_TOO_LONG ||
		   res == GW_RF_BAD_SERVICE || res == GW_RF_BAD_PATH || res == GW_RF_DOT_SEGMENT ||
		   res == GW_RF_BAD_SECURITY_SERVER || res == GW_RF_BAD_REPRESENTED_PARTY);
	FUZZ_CHECK(ref->status == (res == GW_RF_URI_TOO_LONG ? 414 : 400));
	FUZZ_CHECK(ref->type != NULL);
	if (res == GW_RF_BAD_CLIENT)
		FUZZ_CHECK(strcmp(ref->type, "Client.InvalidClientIdentifier") == 0);
	else
		FUZZ_CHECK(strcmp(ref->type, "Client.BadRequest") == 0);
	FUZZ_CHECK((res == GW_RF_URI_TOO_LONG) <= (ulen > GW_RF_URI_MAX));
	/* The provider port measures first; the consumer once it has read
	 * /r1/, the headers and the client. */
	if (port == GW_RF_PROVIDER)
		FUZZ_CHECK((res == GW_RF_URI_TOO_LONG) == (ulen > GW_RF_URI_MAX));
	if (res == GW_RF_DOT_SEGMENT)
		FUZZ_CHECK(ref->detail && gw_rf_has_dot_segment(ref->detail));
	FUZZ_CHECK(port == GW_RF_CONSUMER || res != GW_RF_BAD_SECURITY_SERVER);
	FUZZ_CHECK(strnlen(ref->message, sizeof ref->message) < sizeof ref->message);
	FUZZ_CHECK(ref->message[0] != '\0');
	if (ref->detail)
		(void)strlen(ref->detail); /* a string ASan can read to its end */
	/* The provider port answers a path that is not /r1/ as a bad service. */
	FUZZ_CHECK(port == GW_RF_CONSUMER || res != GW_RF_NOT_EXCHANGE);
	if (port == GW_RF_CONSUMER)
		FUZZ_CHECK((res == GW_RF_NOT_EXCHANGE) == (strncmp(in->path, "/r1/", 4) != 0));
	if (res == GW_RF_BAD_HEADER) {
		bool named = false;
		for (int i = 0; i < GW_RF_NHEADERS; i++)
			named = named || (ref->detail &&
					  strcmp(ref->detail, gw_rf_header_name((enum gw_rf_header)i)) == 0);
		FUZZ_CHECK(named);
	}
}

static void check_id_round_trip(const struct ndx_id *id, enum ndx_id_kind kind, const char *canon,
				const char *wire)
{
	struct ndx_id back;
	char again[NDX_ID_TEXT_MAX];
	const char *why;

	FUZZ_CHECK(id->kind == kind);
	FUZZ_CHECK(ndx_id_parse(canon, strlen(canon), kind, &back, &why) == NDX_OK);
	FUZZ_CHECK(ndx_id_equal(id, &back));
	FUZZ_CHECK(ndx_id_parse(wire, strlen(wire), kind, &back, &why) == NDX_OK);
	FUZZ_CHECK(ndx_id_equal(id, &back));
	FUZZ_CHECK(ndx_id_format_wire(&back, again, sizeof again) > 0);
	FUZZ_CHECK(strcmp(again, wire) == 0);
	FUZZ_CHECK(ndx_id_format(&back, again, sizeof again) > 0);
	FUZZ_CHECK(strcmp(again, canon) == 0);
}

/* The request hash the consumer gateway would sign for rq. */
static void hash_of(const struct gw_rf_request *rq, uint8_t out[NDX_SHA256_LEN])
{
	struct ndx_request_hash_input hin;

	memset(&hin, 0, sizeof hin);
	hin.method = "GET";
	hin.service = rq->service;
	hin.path = rq->rest;
	hin.query = rq->query;
	hin.client = rq->client;
	hin.message_id = rq->hdr[GW_RF_ID];
	hin.user_id = rq->hdr[GW_RF_USER_ID];
	hin.issue = rq->hdr[GW_RF_ISSUE];
	hin.purpose = rq->hdr[GW_RF_PURPOSE];
	hin.subject = rq->hdr[GW_RF_SUBJECT];
	hin.consent = rq->hdr[GW_RF_CONSENT];
	hin.timestamp = "2026-01-01T00:00:00Z";
	hin.gateway = "VN/GOV/BCA/gw1";
	hin.content_type = rq->hdr[GW_RF_CONTENT_TYPE];
	ndx_sha256("", 0, hin.body_sha256);
	ndx_request_hash(&hin, out);
}

static void check_accepted(const struct gw_rf_input *in, enum gw_rf_port port,
			   const struct gw_rf_request *rq)
{
	const char *why;
	struct ndx_id back;
	size_t plen = strlen(in->path);

	FUZZ_CHECK(rq->rest != NULL && rq->rest >= in->path && rq->rest <= in->path + plen);
	FUZZ_CHECK(rq->rest[0] == '\0' || rq->rest[0] == '/');
	FUZZ_CHECK(rq->query == in->query);
	FUZZ_CHECK(plen + (in->query[0] ? 1 + strlen(in->query) : 0) <= GW_RF_URI_MAX);
	FUZZ_CHECK(rfc3986_ok(rq->rest, false) && rfc3986_ok(rq->query, true));
	FUZZ_CHECK(gw_rf_uri_chars_ok(rq->rest, false) && gw_rf_uri_chars_ok(rq->query, true));
	FUZZ_CHECK(!gw_rf_has_dot_segment(rq->rest));
	for (int i = 0; i < GW_RF_NHEADERS; i++) {
		const char *v = rq->hdr[i];

		if (!gw_rf_header_read(port, (enum gw_rf_header)i)) {
			FUZZ_CHECK(v == NULL);
			continue;
		}
		FUZZ_CHECK(v == in->hdr[i].v);
		if (!v)
			continue;
		FUZZ_CHECK(strlen(v) == in->hdr[i].len);
		FUZZ_CHECK(in->hdr[i].len <= gw_rf_header_max((enum gw_rf_header)i));
		FUZZ_CHECK(strchr(v, '\r') == NULL && strchr(v, '\n') == NULL);
	}
	FUZZ_CHECK(rq->hdr[GW_RF_CLIENT] != NULL);
	FUZZ_CHECK(rq->client_id.kind == NDX_ID_MEMBER || rq->client_id.kind == NDX_ID_SUBSYSTEM);
	check_id_round_trip(&rq->client_id, rq->client_id.kind, rq->client, rq->client_wire);
	FUZZ_CHECK(ndx_id_parse(rq->hdr[GW_RF_CLIENT], strlen(rq->hdr[GW_RF_CLIENT]),
				rq->client_id.kind, &back, &why) == NDX_OK);
	FUZZ_CHECK(ndx_id_equal(&back, &rq->client_id));
	check_id_round_trip(&rq->service_id, NDX_ID_SERVICE, rq->service, rq->service_wire);
	if (rq->hdr[GW_RF_SECURITY_SERVER]) {
		char member[NDX_ID_TEXT_MAX];
		struct ndx_id m;

		FUZZ_CHECK(port == GW_RF_CONSUMER);
		FUZZ_CHECK(ndx_id_parse(rq->hdr[GW_RF_SECURITY_SERVER],
					strlen(rq->hdr[GW_RF_SECURITY_SERVER]), NDX_ID_SUBSYSTEM,
					&back, &why) == NDX_OK);
		FUZZ_CHECK(ndx_id_format(&back, member, sizeof member) > 0);
		FUZZ_CHECK(strcmp(member, rq->security_server) == 0);
		FUZZ_CHECK(strcmp(back.subsystem, rq->security_server_code) == 0);
		FUZZ_CHECK(ndx_id_parent(&back, NDX_ID_MEMBER, &m) == NDX_OK);
		FUZZ_CHECK(ndx_id_format(&m, member, sizeof member) > 0);
		FUZZ_CHECK(strcmp(member, rq->security_server_member) == 0);
	} else {
		FUZZ_CHECK(rq->security_server[0] == '\0' && rq->security_server_member[0] == '\0');
	}
	if (rq->hdr[GW_RF_REPRESENTED_PARTY]) {
		/* The canonical text is the decoded parts: 1 or 2 of them, and
		 * itself a valid header value that reads back the same. */
		struct gw_rf_input again = *in;
		struct gw_rf_request rq2;
		struct gw_rf_refusal ref2;
		size_t slashes = 0;

		for (const char *c = rq->represented_party; *c; c++)
			slashes += *c == '/';
		FUZZ_CHECK(rq->represented_party[0] != '\0' && slashes <= 1);
		again.hdr[GW_RF_REPRESENTED_PARTY].v = rq->represented_party;
		again.hdr[GW_RF_REPRESENTED_PARTY].len = strlen(rq->represented_party);
		FUZZ_CHECK(gw_reqfront_parse(&again, port, &rq2, &ref2) == GW_RF_ACCEPTED);
		FUZZ_CHECK(strcmp(rq2.represented_party, rq->represented_party) == 0);
	} else {
		FUZZ_CHECK(rq->represented_party[0] == '\0');
	}
}

/* The request as the consumer gateway sends it on: /r1/{wire service id}
 * + rest, X-Road-Client in wire form, the other headers as they came. */
static void check_sent_on(const struct gw_rf_input *in, const struct gw_rf_request *rq)
{
	static const enum gw_rf_port ports[] = { GW_RF_CONSUMER, GW_RF_PROVIDER };
	struct gw_rf_input again = *in;
	struct gw_rf_request rq2;
	struct gw_rf_refusal ref2;
	uint8_t h1[NDX_SHA256_LEN], h2[NDX_SHA256_LEN];
	size_t n = 4 + strlen(rq->service_wire) + strlen(rq->rest) + 1;
	char *path = malloc(n);

	FUZZ_CHECK(path != NULL);
	FUZZ_CHECK(snprintf(path, n, "/r1/%s%s", rq->service_wire, rq->rest) == (int)n - 1);
	again.path = path;
	again.hdr[GW_RF_CLIENT].v = rq->client_wire;
	again.hdr[GW_RF_CLIENT].len = strlen(rq->client_wire);
	/* The consumer gateway writes these two itself. */
	again.hdr[GW_RF_TIMESTAMP].v = "2026-01-01T00:00:00Z";
	again.hdr[GW_RF_TIMESTAMP].len = strlen(again.hdr[GW_RF_TIMESTAMP].v);
	again.hdr[GW_RF_GATEWAY].v = "VN/GOV/BCA/gw1";
	again.hdr[GW_RF_GATEWAY].len = strlen(again.hdr[GW_RF_GATEWAY].v);
	hash_of(rq, h1);
	for (size_t p = 0; p < sizeof ports / sizeof ports[0]; p++) {
		enum gw_rf_result res = gw_reqfront_parse(&again, ports[p], &rq2, &ref2);

		if (res != GW_RF_ACCEPTED)
			fprintf(stderr, "sent-on request refused (%d): %s\n", (int)res, ref2.message);
		FUZZ_CHECK(res == GW_RF_ACCEPTED);
		FUZZ_CHECK(ndx_id_equal(&rq2.service_id, &rq->service_id));
		FUZZ_CHECK(strcmp(rq2.service, rq->service) == 0);
		FUZZ_CHECK(strcmp(rq2.rest, rq->rest) == 0);
		FUZZ_CHECK(ndx_id_equal(&rq2.client_id, &rq->client_id));
		FUZZ_CHECK(strcmp(rq2.client, rq->client) == 0);
		hash_of(&rq2, h2);
		FUZZ_CHECK(memcmp(h1, h2, sizeof h1) == 0);
	}
	free(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *field[NFIELDS] = { 0 };
	size_t flen[NFIELDS] = { 0 };
	struct gw_rf_input in;
	struct gw_rf_request rc, rp;
	struct gw_rf_refusal fc, fp;
	enum gw_rf_result res_c, res_p;
	size_t start = 0, k = 0;

	/* Split; bytes after the last field are ignored. */
	for (size_t i = 0; i <= size && k < NFIELDS; i++) {
		if (i == size || data[i] == SEP) {
			flen[k] = i - start;
			field[k++] = fuzz_strndup(data + start, i - start);
			start = i + 1;
		}
	}
	memset(&in, 0, sizeof in);
	in.path = field[0] ? field[0] : "";
	in.query = field[1] ? field[1] : "";
	for (int i = 0; i < GW_RF_NHEADERS; i++) {
		char *f = field[2 + i];

		if (!f || (flen[2 + i] == 1 && (unsigned char)f[0] == ABSENT))
			continue;
		in.hdr[i].v = f;
		in.hdr[i].len = flen[2 + i];
	}

	res_c = gw_reqfront_parse(&in, GW_RF_CONSUMER, &rc, &fc);
	if (res_c == GW_RF_ACCEPTED) {
		check_accepted(&in, GW_RF_CONSUMER, &rc);
		check_sent_on(&in, &rc);
	} else {
		check_refusal(&in, GW_RF_CONSUMER, res_c, &fc);
	}

	res_p = gw_reqfront_parse(&in, GW_RF_PROVIDER, &rp, &fp);
	if (res_p == GW_RF_ACCEPTED)
		check_accepted(&in, GW_RF_PROVIDER, &rp);
	else
		check_refusal(&in, GW_RF_PROVIDER, res_p, &fp);
	if (res_p == GW_RF_BAD_CLIENT) {
		/* Still hashable: the provider signs this refusal. */
		FUZZ_CHECK(rp.rest != NULL && rp.service[0] != '\0');
		check_id_round_trip(&rp.service_id, NDX_ID_SERVICE, rp.service, rp.service_wire);
	}
	/* What both ports check, they judge alike: the consumer accepts only
	 * what the provider accepts or refuses for the two headers only it
	 * reads. */
	if (res_c == GW_RF_ACCEPTED) {
		FUZZ_CHECK(res_p == GW_RF_ACCEPTED ||
			   (res_p == GW_RF_BAD_HEADER && fp.detail &&
			    (strcmp(fp.detail, "Ndx-Timestamp") == 0 ||
			     strcmp(fp.detail, "Ndx-Gateway") == 0)));
		if (res_p == GW_RF_ACCEPTED) {
			FUZZ_CHECK(strcmp(rp.service, rc.service) == 0 && rp.rest == rc.rest);
			FUZZ_CHECK(strcmp(rp.client, rc.client) == 0);
		}
	}
	/* ... and the provider accepts only what the consumer accepts or
	 * refuses for X-Road-Security-Server, which only the consumer reads. */
	if (res_p == GW_RF_ACCEPTED)
		FUZZ_CHECK(res_c == GW_RF_ACCEPTED || res_c == GW_RF_BAD_SECURITY_SERVER ||
			   (res_c == GW_RF_BAD_HEADER && fc.detail &&
			    strcmp(fc.detail, "X-Road-Security-Server") == 0));

	for (size_t i = 0; i < NFIELDS; i++)
		free(field[i]);
	return 0;
}
