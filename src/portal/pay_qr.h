/* How the portal offers a VietQR payload to be paid (docs/portal.md "Fees
 * and payment", a procedure's fee; docs/marketplace.md, a member's
 * invoice): drawn as an SVG image (the QR symbol is made by libqrencode,
 * the SVG is one path of its dark modules), and as a link to each
 * configured bank's confirmation page. */
#ifndef NDX_PORTAL_PAY_QR_H
#define NDX_PORTAL_PAY_QR_H

/* A new NUL-terminated SVG document (free it) of payload as a QR code at
 * error correction level M with a 4-module quiet zone; label is its
 * accessible name (XML-escaped here). NULL when payload cannot be encoded
 * or memory runs out. */
char *pay_qr_svg(const char *payload, const char *label);

struct pconfig;
struct json_t;
/* The banks of cfg's payment.banks for payload: a new JSON array of
 * {"name", "url"}, each url the bank's page ?qr=PAYLOAD&return=RETURN_URL
 * (both escaped); an empty array without banks, NULL without memory. */
struct json_t *pay_bank_choices(const struct pconfig *cfg, const char *return_url,
				const char *payload);

#endif
