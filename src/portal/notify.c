/* Notifications and e-mail (notify.h, docs/portal.md "Notifications and
 * e-mail"). A notification names its procedure and what happened; the
 * e-mail says the same in Vietnamese and English with a link to the
 * application, and nothing more: a question, a reason or a figure stays
 * behind the portal's sign-in (an e-mail crosses servers nobody here
 * controls, T83). The mailer takes the outbox's due message one at a
 * time, sends it with libcurl's SMTP (STARTTLS when configured), and
 * records the attempt: a failure is retried after RETRY_FIRST_S doubled at
 * each attempt up to RETRY_MAX_S, MAX_ATTEMPTS in all; each attempt is
 * logged by the message's number, never with the address. Several nodes
 * may share the outbox (docs/scale.md "Several portal nodes"): a
 * message is claimed for CLAIM_S before it is sent, so that no other node
 * sends it meanwhile; a node killed mid-send leaves the message to another
 * once the claim has run out (at most once per claim, at least once
 * overall). */
#include "notify.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ndx/err.h"
#include "portal.h"

#define MAX_ATTEMPTS 8
#define RETRY_FIRST_S 5
#define RETRY_MAX_S 3600
#define IDLE_WAIT_S 30
#define SMTP_TIMEOUT_MS 20000
/* A claim outlives the longest attempt (libcurl's timeout covers the whole
 * conversation) with time to record it. */
#define CLAIM_S 45
_Static_assert(CLAIM_S * 1000 >= 2 * SMTP_TIMEOUT_MS, "a claim outlives an attempt");

struct mailer {
	const struct pconfig *cfg;
	struct pstore *st;
	char node[PSTORE_NODE_LEN]; /* this process in the outbox's claims */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop, kick;
};

/* ---- what is said --------------------------------------------------------------- */

static const struct {
	const char *kind, *vi, *en;
} EVENTS[] = {
	{ "information_requested", "cơ quan giải quyết đề nghị bạn bổ sung thông tin",
	  "the agency asks you for more information" },
	{ "completed", "hồ sơ đã được phê duyệt", "your application has been approved" },
	{ "rejected", "hồ sơ bị từ chối; lý do có trên Cổng",
	  "your application has been rejected; the reason is on the portal" },
	{ "paid", "đã nhận lệ phí; hồ sơ đã chuyển đến cơ quan giải quyết",
	  "your fee has been received; the application is with the agency" },
	{ "refunded", "lệ phí đã được hoàn trả", "your fee has been refunded" },
};

int notify_email_ok(const char *a)
{
	const char *at = a ? strchr(a, '@') : NULL;
	size_t n = a ? strlen(a) : 0;

	if (!at || n < 3 || n > 254 || at == a || !at[1] || strchr(at + 1, '@') ||
	    !strchr(at + 1, '.'))
		return 0;
	for (const unsigned char *c = (const unsigned char *)a; *c; c++)
		if (*c <= ' ' || *c >= 0x7f || strchr("<>()[]\\,;:\"", *c))
			return 0;
	return 1;
}

void notify_citizen(const struct portal *p, const json_t *proc, const char *kind)
{
	const char *id = json_string_value(json_object_get(proc, "id"));
	const char *ref = json_string_value(json_object_get(proc, "reference"));
	const char *subject = json_string_value(json_object_get(proc, "subject"));
	char title[256], body[2048];
	size_t i;
	int mailed = 0, rc;

	for (i = 0; i < sizeof EVENTS / sizeof *EVENTS && strcmp(EVENTS[i].kind, kind); i++)
		;
	if (!id || !subject || i == sizeof EVENTS / sizeof *EVENTS) {
		fprintf(stderr, PORTAL_PROG ": notification %s: no procedure or unknown kind\n",
			kind);
		return;
	}
	if (!ref)
		ref = id;
	snprintf(title, sizeof title, "Hồ sơ %s: %s", ref, EVENTS[i].vi);
	snprintf(body, sizeof body,
		 "Hồ sơ %s: %s.\r\nXem chi tiết tại Cổng dịch vụ công: %s/procedures/%s\r\n\r\n"
		 "Application %s: %s.\r\nSee it on the public services portal: %s/procedures/%s\r\n"
		 "\r\n-- \r\nThư này được gửi vì bạn đã đồng ý nhận thư điện tử từ Cổng; bạn có thể "
		 "rút lại tại trang Thông báo của Cổng.\r\nYou receive this because you agreed to be "
		 "e-mailed by the portal; you can withdraw that on the portal's Notifications page.\r\n",
		 ref, EVENTS[i].vi, p->cfg->public_url, id, ref, EVENTS[i].en, p->cfg->public_url,
		 id);
	rc = pstore_notify(p->st, subject, id, kind, p->cfg->smtp_host ? title : NULL, body,
			   time(NULL), &mailed);
	if (rc != NDX_OK) {
		fprintf(stderr, PORTAL_PROG ": notification %s of %s not stored: %s\n", kind, id,
			ndx_strerror(rc));
		return;
	}
	if (mailed)
		mailer_wake(p->mailer);
}

/* ---- sending -------------------------------------------------------------------- */

struct upload {
	const char *data;
	size_t len, off;
};

static size_t read_cb(char *buf, size_t size, size_t n, void *ud)
{
	struct upload *u = ud;
	size_t want = size * n, left = u->len - u->off;

	if (want > left)
		want = left;
	memcpy(buf, u->data + u->off, want);
	u->off += want;
	return want;
}

/* s as base64 (malloc'd), with CRLF every 76 characters when wrap. */
static char *base64(const char *s, int wrap)
{
	size_t n = strlen(s), enc = 4 * ((n + 2) / 3), cap = enc + (enc / 76 + 2) * 2 + 1;
	char *flat = malloc(enc + 1), *out = malloc(cap);
	size_t o = 0;

	if (!flat || !out) {
		free(flat);
		free(out);
		return NULL;
	}
	EVP_EncodeBlock((unsigned char *)flat, (const unsigned char *)s, (int)n);
	for (size_t i = 0; i < enc; i += 76) {
		size_t k = enc - i < 76 ? enc - i : 76;
		memcpy(out + o, flat + i, k);
		o += k;
		if (wrap) {
			out[o++] = '\r';
			out[o++] = '\n';
		}
	}
	out[o] = '\0';
	free(flat);
	return out;
}

/* The message of m as RFC 5322 text (malloc'd): UTF-8 subject as an RFC
 * 2047 word, the body as base64 text/plain. */
static char *message_text(const struct pconfig *cfg, const struct pmail *m)
{
	char date[64], msgid[64], *subj = base64(m->title, 0), *body = base64(m->body, 1), *out;
	unsigned char rnd[12];
	time_t now = time(NULL);
	struct tm tm;
	size_t cap;

	gmtime_r(&now, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
	if (RAND_bytes(rnd, sizeof rnd) != 1)
		memset(rnd, 0, sizeof rnd);
	snprintf(msgid, sizeof msgid, "%lld.%02x%02x%02x%02x%02x%02x", (long long)m->id, rnd[0],
		 rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
	cap = (subj ? strlen(subj) : 0) + (body ? strlen(body) : 0) + strlen(m->rcpt) +
	      2 * strlen(cfg->smtp_from) + 512;
	out = subj && body ? malloc(cap) : NULL;
	if (out)
		snprintf(out, cap,
			 "Date: %s\r\nFrom: %s\r\nTo: %s\r\nMessage-ID: <%s@%s>\r\n"
			 "Subject: =?UTF-8?B?%s?=\r\nMIME-Version: 1.0\r\n"
			 "Content-Type: text/plain; charset=UTF-8\r\n"
			 "Content-Transfer-Encoding: base64\r\nAuto-Submitted: auto-generated\r\n"
			 "\r\n%s",
			 date, cfg->smtp_from, m->rcpt, msgid, strchr(cfg->smtp_from, '@') + 1, subj,
			 body);
	free(subj);
	free(body);
	return out;
}

/* Sends m; NULL on success, else why (a static string or errbuf). */
static const char *send_one(const struct pconfig *cfg, const struct pmail *m,
			    char errbuf[CURL_ERROR_SIZE])
{
	char url[300], from[300], to[300];
	struct curl_slist *rcpt = NULL;
	struct upload u = { 0 };
	char *text = message_text(cfg, m);
	const char *why = NULL;
	CURL *c = curl_easy_init();
	CURLcode rc;

	errbuf[0] = '\0';
	snprintf(url, sizeof url, "smtp://%s:%u", cfg->smtp_host, cfg->smtp_port);
	snprintf(from, sizeof from, "<%s>", cfg->smtp_from);
	snprintf(to, sizeof to, "<%s>", m->rcpt);
	if (!text || !c || !(rcpt = curl_slist_append(NULL, to))) {
		why = "out of memory";
		goto out;
	}
	u.data = text;
	u.len = strlen(text);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(c, CURLOPT_READDATA, &u);
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_USE_SSL, cfg->smtp_starttls ? (long)CURLUSESSL_ALL
								: (long)CURLUSESSL_NONE);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)SMTP_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	if ((rc = curl_easy_perform(c)) != CURLE_OK)
		why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
out:
	curl_slist_free_all(rcpt);
	curl_easy_cleanup(c);
	free(text);
	return why;
}

static void *mailer_main(void *arg)
{
	struct mailer *m = arg;

	pthread_mutex_lock(&m->mu);
	while (!m->stop) {
		struct pmail mail;
		char errbuf[CURL_ERROR_SIZE];
		const char *why;
		time_t now = time(NULL), retry;
		int rc;

		m->kick = 0;
		pthread_mutex_unlock(&m->mu);
		rc = pstore_outbox_claim(m->st, m->node, now, CLAIM_S, MAX_ATTEMPTS, &mail);
		if (rc == NDX_OK) {
			why = send_one(m->cfg, &mail, errbuf);
			retry = now + ((long)RETRY_FIRST_S << (mail.attempts < 10 ? mail.attempts : 10));
			if (retry > now + RETRY_MAX_S)
				retry = now + RETRY_MAX_S;
			if (why && mail.attempts + 1 >= MAX_ATTEMPTS)
				fprintf(stderr, PORTAL_PROG ": e-mail %lld: attempt %u failed (%s); "
						"giving up\n", (long long)mail.id, mail.attempts + 1, why);
			else if (why)
				fprintf(stderr, PORTAL_PROG ": e-mail %lld: attempt %u failed (%s); "
						"retrying in %lld s\n", (long long)mail.id,
					mail.attempts + 1, why, (long long)(retry - now));
			else
				fprintf(stderr, PORTAL_PROG ": e-mail %lld sent (attempt %u)\n",
					(long long)mail.id, mail.attempts + 1);
			rc = pstore_outbox_done(m->st, mail.id, m->node, time(NULL), why, retry);
			if (rc == NDX_ENOTFOUND)
				fprintf(stderr, PORTAL_PROG ": e-mail %lld: the claim ran out and another "
						"node took the e-mail over; this attempt is not recorded\n",
					(long long)mail.id);
			else if (rc != NDX_OK)
				fprintf(stderr, PORTAL_PROG ": e-mail %lld: the attempt was not recorded\n",
					(long long)mail.id);
			pmail_clear(&mail);
			pthread_mutex_lock(&m->mu);
			continue; /* the next one at once */
		}
		pthread_mutex_lock(&m->mu);
		if (!m->stop && !m->kick) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			/* A failed message is retried within RETRY_FIRST_S of its time. */
			ts.tv_sec += rc == NDX_ENOTFOUND ? RETRY_FIRST_S : IDLE_WAIT_S;
			pthread_cond_timedwait(&m->cv, &m->mu, &ts);
		}
	}
	pthread_mutex_unlock(&m->mu);
	return NULL;
}

int mailer_start(const struct pconfig *cfg, struct pstore *st, struct mailer **out)
{
	struct mailer *m;

	*out = NULL;
	if (!cfg->smtp_host)
		return NDX_OK;
	if (!(m = calloc(1, sizeof *m)))
		return NDX_ENOMEM;
	m->cfg = cfg;
	m->st = st;
	pstore_node_name(m->node);
	pthread_mutex_init(&m->mu, NULL);
	pthread_cond_init(&m->cv, NULL);
	if (pthread_create(&m->thread, NULL, mailer_main, m) != 0) {
		pthread_cond_destroy(&m->cv);
		pthread_mutex_destroy(&m->mu);
		free(m);
		return NDX_ENOMEM;
	}
	fprintf(stderr, PORTAL_PROG ": e-mail through smtp://%s:%u%s\n", cfg->smtp_host,
		cfg->smtp_port, cfg->smtp_starttls ? " (STARTTLS required)" : "");
	*out = m;
	return NDX_OK;
}

void mailer_wake(struct mailer *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->mu);
	m->kick = 1;
	pthread_cond_signal(&m->cv);
	pthread_mutex_unlock(&m->mu);
}

void mailer_stop(struct mailer *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->mu);
	m->stop = 1;
	pthread_cond_signal(&m->cv);
	pthread_mutex_unlock(&m->mu);
	pthread_join(m->thread, NULL);
	pthread_cond_destroy(&m->cv);
	pthread_mutex_destroy(&m->mu);
	free(m);
}
