/* HTML for ndx-id's pages (page.h). The markup follows GOV.UK Frontend's
 * components (header, error summary, form group, input, button, footer)
 * so that its stylesheet makes the page usable and accessible without any
 * JavaScript; the page carries landmarks, one h1, a lang attribute, and
 * labels tied to every input, which is what axe-core checks. The text is
 * a two-column table, Vietnamese and English. Overview: docs/id.md. */
#include "page.h"

#include <stdlib.h>
#include <string.h>

#include "ndx/buf.h"
#include "ndx/err.h"

#define SERVICE_VI "Định danh điện tử quốc gia"
#define SERVICE_EN "National electronic identity"

static const char *const TEXT[IDTEXT_COUNT][2] = {
	[IDTEXT_BAD_CREDENTIALS] = { "Số định danh cá nhân hoặc mật khẩu không đúng",
				     "The personal identification number or password is "
				     "incorrect" },
	[IDTEXT_LOCKED] = { "Có quá nhiều lần đăng nhập sai. Hãy đợi vài phút rồi thử lại",
			    "Too many failed sign-in attempts. Wait a few minutes and try again" },
	[IDTEXT_PIN_MISSING] = { "Nhập số định danh cá nhân",
				 "Enter your personal identification number" },
	[IDTEXT_PIN_FORMAT] = { "Số định danh cá nhân phải gồm 12 chữ số",
				"Your personal identification number must be 12 digits" },
	[IDTEXT_PASSWORD_MISSING] = { "Nhập mật khẩu", "Enter your password" },
	[IDTEXT_EXPIRED_TITLE] = { "Yêu cầu đăng nhập đã hết hạn",
				   "Your sign-in request has expired" },
	[IDTEXT_EXPIRED_BODY] = { "Hãy quay lại dịch vụ bạn đang dùng và đăng nhập lại.",
				  "Go back to the service you were using and sign in again." },
	[IDTEXT_ERROR_TITLE] = { "Không thể đăng nhập", "You cannot sign in" },
	[IDTEXT_BAD_CLIENT] = { "Dịch vụ yêu cầu đăng nhập chưa được đăng ký với hệ thống "
				"định danh điện tử.",
				"The service that sent you here is not registered with the "
				"national electronic identity." },
	[IDTEXT_BAD_REDIRECT] = { "Địa chỉ trả về của dịch vụ không khớp với địa chỉ đã đăng "
				  "ký, nên hệ thống không chuyển bạn về đó.",
				  "The service's return address does not match the one it "
				  "registered, so you will not be sent there." },
	[IDTEXT_BAD_REQUEST] = { "Yêu cầu không hợp lệ.", "The request is not valid." },
	[IDTEXT_BAD_LOGOUT] = { "Yêu cầu đăng xuất không hợp lệ, nên hệ thống không chuyển "
				"bạn về dịch vụ.",
				"The sign-out request is not valid, so you will not be sent "
				"back to the service." },
	[IDTEXT_SIGNED_OUT_TITLE] = { "Bạn đã đăng xuất", "You have signed out" },
	[IDTEXT_SIGNED_OUT_BODY] = { "Phiên đăng nhập định danh điện tử của bạn đã kết thúc.",
				     "Your national electronic identity session has ended." },
	[IDTEXT_SERVER_ERROR] = { "Hệ thống đang gặp sự cố. Hãy thử lại sau.",
				  "Something went wrong. Try again later." },
	[IDTEXT_ACCOUNT_DECEASED] = { "Tài khoản định danh điện tử này đã bị vô hiệu hóa vì "
				      "người mang số định danh đã được đăng ký khai tử",
				      "This national electronic identity account has been "
				      "disabled because the death of its holder has been "
				      "registered" },
	[IDTEXT_ACCOUNT_DISABLED] = { "Tài khoản định danh điện tử này đã bị vô hiệu hóa",
				      "This national electronic identity account has been "
				      "disabled" },
};

/* Labels of the page furniture, same layout as TEXT. */
enum label {
	L_SERVICE,
	L_SKIP,
	L_SIGN_IN,
	L_INTRO,
	L_PIN,
	L_PIN_HINT,
	L_PASSWORD,
	L_BUTTON,
	L_PROBLEM,
	L_ERROR_PREFIX,
	L_LANG_NAV,
	L_BACK,
	L_FOOTER,
	L_COUNT
};

static const char *const LABEL[L_COUNT][2] = {
	[L_SERVICE] = { SERVICE_VI, SERVICE_EN },
	[L_SKIP] = { "Chuyển đến nội dung chính", "Skip to main content" },
	[L_SIGN_IN] = { "Đăng nhập", "Sign in" },
	[L_INTRO] = { "Dịch vụ %s đề nghị bạn đăng nhập bằng tài khoản định danh điện tử.",
		      "The service %s asks you to sign in with your national electronic "
		      "identity." },
	[L_PIN] = { "Số định danh cá nhân", "Personal identification number" },
	[L_PIN_HINT] = { "12 chữ số, in trên thẻ căn cước", "12 digits, printed on your identity card" },
	[L_PASSWORD] = { "Mật khẩu", "Password" },
	[L_BUTTON] = { "Đăng nhập", "Sign in" },
	[L_PROBLEM] = { "Có lỗi xảy ra", "There is a problem" },
	[L_ERROR_PREFIX] = { "Lỗi:", "Error:" },
	[L_LANG_NAV] = { "Ngôn ngữ", "Language" },
	[L_BACK] = { "Quay lại %s", "Back to %s" },
	[L_FOOTER] = { "Hệ thống định danh và xác thực điện tử (ndx-id)",
		       "Electronic identification and authentication (ndx-id)" },
};

const char *idpage_text(enum idpage_lang lang, enum idpage_text id)
{
	return TEXT[id][lang == IDPAGE_EN];
}

enum idpage_lang idpage_lang_parse(const char *s)
{
	return s && strncmp(s, "en", 2) == 0 ? IDPAGE_EN : IDPAGE_VI;
}

enum idpage_lang idpage_ui_locales_parse(const char *s)
{
	while (s && *s) {
		size_t n = strcspn(s, " ");
		size_t primary = strcspn(s, " -");

		if (primary > n)
			primary = n;
		if (primary == 2 && strncmp(s, "en", 2) == 0)
			return IDPAGE_EN;
		if (primary == 2 && strncmp(s, "vi", 2) == 0)
			return IDPAGE_VI;
		s += n;
		s += strspn(s, " ");
	}
	return IDPAGE_VI;
}

const char *idpage_lang_code(enum idpage_lang lang)
{
	return lang == IDPAGE_EN ? "en" : "vi";
}

static const char *label(enum idpage_lang lang, enum label id)
{
	return LABEL[id][lang == IDPAGE_EN];
}

/* ---- a growing buffer ------------------------------------------------- */

struct hbuf {
	struct ndx_buf text; /* NDX_BUF_NO_CAP: a page is built from bounded parts */
	int oom;             /* sticky: the builders need not check each append */
};

#define HBUF_INIT { .text = NDX_BUF_INIT(NDX_BUF_NO_CAP) }

static void put_n(struct hbuf *b, const char *s, size_t n)
{
	if (!b->oom && ndx_buf_append(&b->text, s, n) != NDX_OK)
		b->oom = 1;
}

static void put(struct hbuf *b, const char *s)
{
	put_n(b, s, strlen(s));
}

/* Escapes the five characters that matter in text and in quoted
 * attribute values. */
static void put_esc(struct hbuf *b, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': put(b, "&amp;"); break;
		case '<': put(b, "&lt;"); break;
		case '>': put(b, "&gt;"); break;
		case '"': put(b, "&quot;"); break;
		case '\'': put(b, "&#39;"); break;
		default: put_n(b, s, 1);
		}
	}
}

/* The page (caller frees), or NULL when memory ran out. */
static char *finish(struct hbuf *b)
{
	if (b->oom) {
		ndx_buf_free(&b->text);
		return NULL;
	}
	return ndx_buf_steal(&b->text, NULL);
}

/* ---- layout ---------------------------------------------------------------- */

/* fmt (a LABEL with one "%s") with value escaped in its place: names
 * never go into a format. */
static void put_filled(struct hbuf *b, const char *fmt, const char *value, int strong)
{
	const char *mark = strstr(fmt, "%s");

	put_n(b, fmt, (size_t)(mark - fmt));
	put(b, strong ? "<strong>" : "");
	put_esc(b, value);
	put(b, strong ? "</strong>" : "");
	put(b, mark + 2);
}

/* back: {href, name} of the GOV.UK back link to the service, or NULL. */
static void page_open(struct hbuf *b, enum idpage_lang lang, int styled, const char *title,
		      int error, const char *switch_href, const char *const back[2])
{
	put(b, "<!DOCTYPE html>\n<html lang=\"");
	put(b, idpage_lang_code(lang));
	put(b, "\" class=\"govuk-template\">\n<head>\n<meta charset=\"utf-8\">\n"
	       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	       "<title>");
	if (error) {
		put_esc(b, label(lang, L_ERROR_PREFIX));
		put(b, " ");
	}
	put_esc(b, title);
	put(b, " – ");
	put_esc(b, label(lang, L_SERVICE));
	put(b, "</title>\n");
	if (styled)
		put(b, "<link rel=\"stylesheet\" href=\"/assets/govuk-frontend.min.css\">\n");
	put(b, "</head>\n<body class=\"govuk-template__body\">\n"
	       "<a href=\"#main-content\" class=\"govuk-skip-link\">");
	put_esc(b, label(lang, L_SKIP));
	put(b, "</a>\n<header class=\"govuk-header\">\n"
	       "<div class=\"govuk-header__container govuk-width-container\">\n"
	       "<div class=\"govuk-header__logo\">\n"
	       "<span class=\"govuk-header__product-name\">");
	put_esc(b, label(lang, L_SERVICE));
	put(b, "</span>\n</div>\n</div>\n</header>\n<div class=\"govuk-width-container\">\n");
	if (switch_href) {
		enum idpage_lang other = lang == IDPAGE_EN ? IDPAGE_VI : IDPAGE_EN;

		put(b, "<nav class=\"govuk-language-navigation\" aria-label=\"");
		put_esc(b, label(lang, L_LANG_NAV));
		put(b, "\">\n<ul class=\"govuk-language-navigation__list\">\n"
		       "<li class=\"govuk-language-navigation__list-item\">"
		       "<span class=\"govuk-language-navigation__text\" aria-current=\"true\">");
		put(b, lang == IDPAGE_EN ? "English" : "Tiếng Việt");
		put(b, "</span></li>\n<li class=\"govuk-language-navigation__list-item\">"
		       "<a class=\"govuk-language-navigation__link\" href=\"");
		put_esc(b, switch_href);
		put(b, "\" lang=\"");
		put(b, idpage_lang_code(other));
		put(b, "\" hreflang=\"");
		put(b, idpage_lang_code(other));
		put(b, "\">");
		put(b, other == IDPAGE_EN ? "English" : "Tiếng Việt");
		put(b, "</a></li>\n</ul>\n</nav>\n");
	}
	if (back) {
		put(b, "<a href=\"");
		put_esc(b, back[0]);
		put(b, "\" class=\"govuk-back-link\" id=\"back-to-service\">");
		put_filled(b, label(lang, L_BACK), back[1], 0);
		put(b, "</a>\n");
	}
	put(b, "<main class=\"govuk-main-wrapper\" id=\"main-content\">\n"
	       "<div class=\"govuk-grid-row\">\n<div class=\"govuk-grid-column-two-thirds\">\n");
}

static void page_close(struct hbuf *b, enum idpage_lang lang)
{
	put(b, "</div>\n</div>\n</main>\n</div>\n<footer class=\"govuk-footer\">\n"
	       "<div class=\"govuk-width-container\">\n<p class=\"govuk-body-s\">");
	put_esc(b, label(lang, L_FOOTER));
	put(b, "</p>\n</div>\n</footer>\n</body>\n</html>\n");
}

/* ---- pages -------------------------------------------------------------- */

static void field(struct hbuf *b, enum idpage_lang lang, const char *id, enum label lab,
		  const char *hint, const char *type, const char *autocomplete, const char *value,
		  const char *error)
{
	put(b, error ? "<div class=\"govuk-form-group govuk-form-group--error\">\n"
		     : "<div class=\"govuk-form-group\">\n");
	put(b, "<label class=\"govuk-label\" for=\"");
	put(b, id);
	put(b, "\">");
	put_esc(b, label(lang, lab));
	put(b, "</label>\n");
	if (hint) {
		put(b, "<div id=\"");
		put(b, id);
		put(b, "-hint\" class=\"govuk-hint\">");
		put_esc(b, hint);
		put(b, "</div>\n");
	}
	if (error) {
		put(b, "<p id=\"");
		put(b, id);
		put(b, "-error\" class=\"govuk-error-message\">"
		       "<span class=\"govuk-visually-hidden\">");
		put_esc(b, label(lang, L_ERROR_PREFIX));
		put(b, "</span> ");
		put_esc(b, error);
		put(b, "</p>\n");
	}
	put(b, error ? "<input class=\"govuk-input govuk-input--width-20 govuk-input--error\""
		     : "<input class=\"govuk-input govuk-input--width-20\"");
	put(b, " id=\"");
	put(b, id);
	put(b, "\" name=\"");
	put(b, id);
	put(b, "\" type=\"");
	put(b, type);
	put(b, "\" autocomplete=\"");
	put(b, autocomplete);
	put(b, "\" spellcheck=\"false\"");
	if (strcmp(type, "text") == 0)
		put(b, " inputmode=\"numeric\"");
	if (hint || error) {
		put(b, " aria-describedby=\"");
		if (hint) {
			put(b, id);
			put(b, "-hint");
		}
		if (error) {
			put(b, hint ? " " : "");
			put(b, id);
			put(b, "-error");
		}
		put(b, "\"");
	}
	if (value) {
		put(b, " value=\"");
		put_esc(b, value);
		put(b, "\"");
	}
	put(b, ">\n</div>\n");
}

char *idpage_login(const struct idpage_login *p)
{
	struct hbuf b = HBUF_INIT;
	const char *pin_err = NULL, *pw_err = NULL;
	enum idpage_lang other = p->lang == IDPAGE_EN ? IDPAGE_VI : IDPAGE_EN;
	struct hbuf href = HBUF_INIT;
	const char *const back[2] = { p->back_href, p->client_name };

	put(&href, "/login?tx=");
	put(&href, p->tx); /* base64url: nothing to encode */
	put(&href, "&lang=");
	put(&href, idpage_lang_code(other));
	if (href.oom) {
		ndx_buf_free(&href.text);
		return NULL;
	}
	if (p->error && p->error_field && strcmp(p->error_field, "password") == 0)
		pw_err = p->error;
	else if (p->error && p->error_field)
		pin_err = p->error;
	page_open(&b, p->lang, p->styled, label(p->lang, L_SIGN_IN), p->error != NULL,
		  href.text.data, p->back_href ? back : NULL);
	ndx_buf_free(&href.text);
	if (p->error) {
		put(&b, "<div class=\"govuk-error-summary\" data-module=\"govuk-error-summary\">\n"
			"<div role=\"alert\">\n<h2 class=\"govuk-error-summary__title\">");
		put_esc(&b, label(p->lang, L_PROBLEM));
		put(&b, "</h2>\n<div class=\"govuk-error-summary__body\">\n"
			"<ul class=\"govuk-list govuk-error-summary__list\">\n<li><a href=\"#");
		put(&b, pw_err ? "password" : "pin");
		put(&b, "\">");
		put_esc(&b, p->error);
		put(&b, "</a></li>\n</ul>\n</div>\n</div>\n</div>\n");
	}
	put(&b, "<h1 class=\"govuk-heading-l\">");
	put_esc(&b, label(p->lang, L_SIGN_IN));
	put(&b, "</h1>\n<p class=\"govuk-body\">");
	put_filled(&b, label(p->lang, L_INTRO), p->client_name, 1);
	put(&b, "</p>\n<form method=\"post\" action=\"/login\" novalidate>\n"
		"<input type=\"hidden\" name=\"tx\" value=\"");
	put_esc(&b, p->tx);
	put(&b, "\">\n<input type=\"hidden\" name=\"lang\" value=\"");
	put(&b, idpage_lang_code(p->lang));
	put(&b, "\">\n");
	field(&b, p->lang, "pin", L_PIN, label(p->lang, L_PIN_HINT), "text", "username", p->pin,
	      pin_err);
	field(&b, p->lang, "password", L_PASSWORD, NULL, "password", "current-password", NULL,
	      pw_err);
	put(&b, "<button type=\"submit\" class=\"govuk-button\" data-module=\"govuk-button\">");
	put_esc(&b, label(p->lang, L_BUTTON));
	put(&b, "</button>\n</form>\n");
	page_close(&b, p->lang);
	return finish(&b);
}

char *idpage_message(enum idpage_lang lang, int styled, const char *title, const char *body,
		     const char *detail)
{
	struct hbuf b = HBUF_INIT;

	page_open(&b, lang, styled, title, 0, NULL, NULL);
	put(&b, "<h1 class=\"govuk-heading-l\">");
	put_esc(&b, title);
	put(&b, "</h1>\n<p class=\"govuk-body\">");
	put_esc(&b, body);
	put(&b, "</p>\n");
	if (detail) {
		put(&b, "<p class=\"govuk-body-s\">");
		put_esc(&b, detail);
		put(&b, "</p>\n");
	}
	page_close(&b, lang);
	return finish(&b);
}
