/* A VietQR payload drawn as an SVG image for the portal's payment page
 * (docs/portal.md "Fees and payment"): the QR symbol is made by
 * libqrencode, the SVG is one path of its dark modules. */
#ifndef NDX_PORTAL_PAY_QR_H
#define NDX_PORTAL_PAY_QR_H

/* A new NUL-terminated SVG document (free it) of payload as a QR code at
 * error correction level M with a 4-module quiet zone; label is its
 * accessible name (XML-escaped here). NULL when payload cannot be encoded
 * or memory runs out. */
char *pay_qr_svg(const char *payload, const char *label);

#endif
