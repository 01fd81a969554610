/* ndx-id's HTML pages: the sign-in form, the error and "signed out"
 * pages. Server-rendered, Vietnamese first with English as the second
 * language, GOV.UK Frontend markup (styled when the stylesheet is served
 * under /assets/), no script at all. Every echoed value is HTML-escaped
 * here, so callers pass raw text. Overview: docs/id.md. */
#ifndef NDX_ID_PAGE_H
#define NDX_ID_PAGE_H

enum idpage_lang { IDPAGE_VI = 0, IDPAGE_EN = 1 };

enum idpage_text {
	IDTEXT_BAD_CREDENTIALS,
	IDTEXT_LOCKED,
	IDTEXT_PIN_MISSING,
	IDTEXT_PIN_FORMAT,
	IDTEXT_PASSWORD_MISSING,
	IDTEXT_EXPIRED_TITLE,
	IDTEXT_EXPIRED_BODY,
	IDTEXT_ERROR_TITLE,
	IDTEXT_BAD_CLIENT,
	IDTEXT_BAD_REDIRECT,
	IDTEXT_BAD_REQUEST,
	IDTEXT_BAD_LOGOUT,
	IDTEXT_SIGNED_OUT_TITLE,
	IDTEXT_SIGNED_OUT_BODY,
	IDTEXT_SERVER_ERROR,
	IDTEXT_ACCOUNT_DECEASED,
	IDTEXT_ACCOUNT_DISABLED,
	IDTEXT_COUNT
};

/* The sentence for id in lang (static). */
const char *idpage_text(enum idpage_lang lang, enum idpage_text id);
/* "en" selects English; anything else (NULL included) Vietnamese. */
enum idpage_lang idpage_lang_parse(const char *s);
/* ui_locales of an authorization request (OpenID Connect Core 1.0
 * §3.1.2.1: space-separated BCP 47 tags, most preferred first): the first
 * tag whose language is Vietnamese or English; Vietnamese when none is
 * (NULL included). "en-GB vi" is English, "fr vi" Vietnamese. */
enum idpage_lang idpage_ui_locales_parse(const char *s);
/* "vi" or "en". */
const char *idpage_lang_code(enum idpage_lang lang);

struct idpage_login {
	enum idpage_lang lang;
	int styled;             /* link the GOV.UK stylesheet */
	const char *tx;         /* transaction id for the hidden field */
	const char *client_name;/* the service's registered name, shown to say
				 * who asks (the client id when it has none) */
	const char *back_href;  /* the service's own address for the back
				 * link, or NULL for none */
	const char *pin;        /* the PIN as typed, re-shown after an error; NULL */
	const char *error_field;/* "pin", "password" or NULL */
	const char *error;      /* sentence, or NULL when there is no error */
};

/* Each returns a malloc'd NUL-terminated page (caller frees) or NULL when
 * memory ran out. */
char *idpage_login(const struct idpage_login *p);
/* A page with a heading, a paragraph and an optional detail line. */
char *idpage_message(enum idpage_lang lang, int styled, const char *title, const char *body,
		     const char *detail);

#endif
