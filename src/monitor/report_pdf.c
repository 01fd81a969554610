/* The six-monthly report as a PDF (report.h). A small page writer (a
 * cursor down an A4 page, a new page when the next block does not fit, a
 * footer on each) draws the blocks in order: the title page with the
 * signature block, the summary, one section per indicator with its trend
 * chart, the rankings, the overdue tasks, the exchange's volume and
 * reliability, the registries' four measures per agency. Its input is
 * ind_view's document, the tasks, the exchange's figures and the
 * registries' figures for the period, all ordered, so that the bytes
 * depend on the data alone. */
#include <fontconfig/fontconfig.h>
#include <cairo-pdf.h>
#include <cairo.h>
#include <math.h>
#include <pango/pangocairo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "indicators_ops.h"
#include "indicators_registries.h"
#include "indicators_view.h"
#include "ndx/err.h"
#include "report.h"

#define PAGE_W 595.276 /* A4 in points */
#define PAGE_H 841.890
#define MARGIN 56.7    /* 2 cm */
#define BOTTOM (PAGE_H - MARGIN)
#define TEXT_W (PAGE_W - 2 * MARGIN)
#define FONT "DejaVu Sans"
#define PDF_CAP (32u << 20)

#define DEFAULT_ADDRESSEE                                                                \
	"Ban Chỉ đạo Trung ương về phát triển khoa học, công nghệ, đổi mới sáng tạo và " \
	"chuyển đổi số"

/* ---- output buffer -------------------------------------------------------------- */

struct obuf {
	unsigned char *p;
	size_t len, cap;
	bool toobig;
};

static cairo_status_t obuf_write(void *ctx, const unsigned char *data, unsigned int n)
{
	struct obuf *b = ctx;

	if (b->len + n > PDF_CAP) {
		b->toobig = true;
		return CAIRO_STATUS_WRITE_ERROR;
	}
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;
		unsigned char *p;

		while (cap < b->len + n)
			cap *= 2;
		if (!(p = realloc(b->p, cap)))
			return CAIRO_STATUS_NO_MEMORY;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	return CAIRO_STATUS_SUCCESS;
}

/* ---- the page writer ---------------------------------------------------------- */

enum style { BODY, SMALL, BOLD, H1, H2, TITLE };

struct pw {
	cairo_surface_t *surf;
	cairo_t *cr;
	/* A font map of the report's own, freed with it: pango's default map
	 * keeps fontconfig patterns for the life of the process, which a
	 * daemon answering reports for months should not accumulate. */
	PangoFontMap *fonts;
	PangoContext *pctx;
	double y;
	int page;
	char footer[256];
};

static PangoLayout *layout(struct pw *w, const char *text, enum style st, double width,
			   PangoAlignment align)
{
	static const struct { double size; bool bold; } S[] = {
		[BODY] = { 10, false }, [SMALL] = { 8.5, false }, [BOLD] = { 10, true },
		[H1] = { 14, true },    [H2] = { 11.5, true },    [TITLE] = { 17, true },
	};
	PangoLayout *l = pango_layout_new(w->pctx);
	PangoFontDescription *fd = pango_font_description_new();

	pango_font_description_set_family(fd, FONT);
	pango_font_description_set_absolute_size(fd, S[st].size * PANGO_SCALE);
	pango_font_description_set_weight(fd, S[st].bold ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL);
	pango_layout_set_font_description(l, fd);
	pango_font_description_free(fd);
	pango_layout_set_width(l, (int)(width * PANGO_SCALE));
	pango_layout_set_wrap(l, PANGO_WRAP_WORD_CHAR);
	pango_layout_set_alignment(l, align);
	pango_layout_set_text(l, text, -1);
	return l;
}

static double height_of(PangoLayout *l)
{
	int h;

	pango_layout_get_size(l, NULL, &h);
	return (double)h / PANGO_SCALE;
}

static void end_page(struct pw *w)
{
	PangoLayout *l = layout(w, w->footer, SMALL, TEXT_W, PANGO_ALIGN_LEFT);
	char num[32];

	cairo_set_source_rgb(w->cr, 0.35, 0.35, 0.35);
	cairo_move_to(w->cr, MARGIN, PAGE_H - MARGIN + 18);
	pango_cairo_show_layout(w->cr, l);
	g_object_unref(l);
	snprintf(num, sizeof num, "Trang %d", w->page);
	l = layout(w, num, SMALL, TEXT_W, PANGO_ALIGN_RIGHT);
	cairo_move_to(w->cr, MARGIN, PAGE_H - MARGIN + 18);
	pango_cairo_show_layout(w->cr, l);
	g_object_unref(l);
	cairo_set_source_rgb(w->cr, 0, 0, 0);
	cairo_show_page(w->cr);
	w->page++;
	w->y = MARGIN;
}

/* Makes room for h points, on a new page when this one is full. */
static void need(struct pw *w, double h)
{
	if (w->y + h > BOTTOM && w->y > MARGIN)
		end_page(w);
}

static void text_at(struct pw *w, const char *text, enum style st, double indent,
		    PangoAlignment align, double after)
{
	PangoLayout *l = layout(w, text, st, TEXT_W - indent, align);
	double h = height_of(l);

	need(w, h);
	cairo_move_to(w->cr, MARGIN + indent, w->y);
	pango_cairo_show_layout(w->cr, l);
	g_object_unref(l);
	w->y += h + after;
}

static void para(struct pw *w, const char *text, enum style st)
{
	text_at(w, text, st, 0, PANGO_ALIGN_LEFT, st == H1 ? 8 : st == H2 ? 4 : 3);
}

static void paraf(struct pw *w, enum style st, double indent, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void paraf(struct pw *w, enum style st, double indent, const char *fmt, ...)
{
	char buf[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	text_at(w, buf, st, indent, PANGO_ALIGN_LEFT, 2);
}

/* One table row: cells[i] in a column of widths[i] points; rows keep
 * together, a header row is repeated by the caller. */
static void row(struct pw *w, const char *const *cells, const double *widths, size_t n,
		enum style st, bool rule)
{
	PangoLayout *ls[8];
	double h = 0, x = MARGIN;

	n = n > 8 ? 8 : n;
	for (size_t i = 0; i < n; i++) {
		ls[i] = layout(w, cells[i] ? cells[i] : "", st, widths[i] - 4, PANGO_ALIGN_LEFT);
		h = fmax(h, height_of(ls[i]));
	}
	need(w, h + 4);
	for (size_t i = 0; i < n; i++) {
		cairo_move_to(w->cr, x, w->y + 2);
		pango_cairo_show_layout(w->cr, ls[i]);
		g_object_unref(ls[i]);
		x += widths[i];
	}
	w->y += h + 4;
	if (rule) {
		cairo_set_line_width(w->cr, 0.5);
		cairo_move_to(w->cr, MARGIN, w->y);
		cairo_line_to(w->cr, MARGIN + TEXT_W, w->y);
		cairo_stroke(w->cr);
	}
}

/* ---- numbers, words ----------------------------------------------------------- */

/* v as Vietnamese write it: a decimal comma, thousands with dots, at
 * most `decimals` decimals (trailing zeros dropped). */
static void num(double v, int decimals, char *out, size_t cap)
{
	char raw[64], *dot;
	size_t o = 0, intlen, start;

	snprintf(raw, sizeof raw, "%.*f", decimals, v);
	if ((dot = strchr(raw, '.'))) {
		char *end = raw + strlen(raw) - 1;

		while (end > dot && *end == '0')
			*end-- = '\0';
		if (end == dot)
			*dot = '\0';
	}
	dot = strchr(raw, '.');
	intlen = dot ? (size_t)(dot - raw) : strlen(raw);
	start = raw[0] == '-';
	for (size_t i = 0; raw[i] && o + 2 < cap; i++) {
		if (i > start && i < intlen && (intlen - i) % 3 == 0)
			out[o++] = '.';
		out[o++] = raw[i] == '.' ? ',' : raw[i];
	}
	out[o] = '\0';
}

static const char *unit_word(const char *unit)
{
	return strcmp(unit, "percent") == 0  ? "%"
	       : strcmp(unit, "points") == 0 ? "điểm"
	       : strcmp(unit, "ms") == 0     ? "ms"
	       : strcmp(unit, "count") == 0  ? "lượt"
					     : unit;
}

static void value_text(const struct ind_def *d, double v, char *out, size_t cap)
{
	char n[48];

	num(v, strcmp(d->unit, "count") == 0 ? 0 : 2, n, sizeof n);
	snprintf(out, cap, "%s %s", n, unit_word(d->unit));
}

static const char *source_word(const char *s)
{
	return strcmp(s, "exchange") == 0 ? "tính tự động từ bản ghi vận hành của nền tảng"
	       : strcmp(s, "portal") == 0 ? "tính từ Cổng dịch vụ công"
	       : strcmp(s, "eid") == 0    ? "tính từ hệ thống định danh điện tử"
	       : strcmp(s, "registries") == 0
		       ? "tính tự động từ kết quả đối chiếu của các cơ sở dữ liệu chuyên ngành với Cơ sở "
			 "dữ liệu quốc gia về dân cư (lần đối chiếu gần nhất của mỗi bảng trong kỳ)"
					      : "do cán bộ có thẩm quyền nhập";
}

static const char *status_word(const char *s)
{
	return strcmp(s, "done") == 0 ? "Đã hoàn thành"
	       : strcmp(s, "in_progress") == 0 ? "Đang thực hiện" : "Chưa bắt đầu";
}

/* "31/12/2026" from "2026-12-31" (or the first 10 characters of a time). */
static void vn_date(const char *iso, char out[11])
{
	if (!iso || strlen(iso) < 10) {
		snprintf(out, 11, "-");
		return;
	}
	snprintf(out, 11, "%.2s/%.2s/%.4s", iso + 8, iso + 5, iso);
}

/* "6 tháng cuối năm 2026 (01/07/2026 – 31/12/2026)" */
static void period_words(const struct ind_period *p, char *out, size_t cap)
{
	snprintf(out, cap, "6 tháng %s năm %d (%s/%d – %s/%d)", p->n == 1 ? "đầu" : "cuối",
		 p->year, p->n == 1 ? "01/01" : "01/07", p->year, p->n == 1 ? "30/06" : "31/12",
		 p->year);
}

static const char *jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

/* ---- the chart ------------------------------------------------------------------ */

/* The national series as a line over its periods, with the target as a
 * dashed line. Nothing when the series is empty. */
static void chart(struct pw *w, const struct ind_def *d, const json_t *series)
{
	const double h = 130, axis = MARGIN + 36, left = axis + 30, width = TEXT_W - 96,
		     top_pad = 14;
	size_t n = json_array_size(series), i;
	double lo = d->min, hi = d->has_max ? d->max : 0, x0, y0;
	const json_t *pt;
	char label[64];

	if (n == 0)
		return;
	json_array_foreach(series, i, pt)
		hi = fmax(hi, json_number_value(json_object_get(pt, "value")));
	if (d->has_target)
		hi = fmax(hi, d->target);
	if (!d->has_max)
		hi = hi <= 0 ? 1 : hi * 1.15;
	need(w, h + 36);
	y0 = w->y + top_pad;
	cairo_save(w->cr);
	cairo_set_line_width(w->cr, 0.6);
	cairo_set_source_rgb(w->cr, 0.4, 0.4, 0.4);
	cairo_move_to(w->cr, axis, y0);
	cairo_line_to(w->cr, axis, y0 + h);
	cairo_line_to(w->cr, left + width + 30, y0 + h);
	cairo_stroke(w->cr);
	for (int k = 0; k <= 2; k++) {
		PangoLayout *l;

		num(lo + (hi - lo) * k / 2, 1, label, sizeof label);
		l = layout(w, label, SMALL, 32, PANGO_ALIGN_RIGHT);
		cairo_move_to(w->cr, MARGIN, y0 + h - h * k / 2 - 6);
		pango_cairo_show_layout(w->cr, l);
		g_object_unref(l);
	}
	if (d->has_target) {
		double ty = y0 + h - h * (d->target - lo) / (hi - lo);
		static const double dash[] = { 4, 3 };
		PangoLayout *l;

		cairo_set_source_rgb(w->cr, 0.75, 0.1, 0.1);
		cairo_set_dash(w->cr, dash, 2, 0);
		cairo_move_to(w->cr, axis, ty);
		cairo_line_to(w->cr, left + width + 30, ty);
		cairo_stroke(w->cr);
		cairo_set_dash(w->cr, NULL, 0, 0);
		l = layout(w, "Mục tiêu", SMALL, 80, PANGO_ALIGN_LEFT);
		cairo_move_to(w->cr, axis + 3, ty - 12);
		pango_cairo_show_layout(w->cr, l);
		g_object_unref(l);
	}
	cairo_set_source_rgb(w->cr, 0.05, 0.3, 0.6);
	cairo_set_line_width(w->cr, 1.5);
	x0 = n > 1 ? width / (double)(n - 1) : 0;
	json_array_foreach(series, i, pt) {
		double v = json_number_value(json_object_get(pt, "value"));
		double x = left + (n > 1 ? x0 * (double)i : width / 2), y = y0 + h - h * (v - lo) / (hi - lo);

		if (i == 0)
			cairo_move_to(w->cr, x, y);
		else
			cairo_line_to(w->cr, x, y);
	}
	cairo_stroke(w->cr);
	json_array_foreach(series, i, pt) {
		double v = json_number_value(json_object_get(pt, "value"));
		double x = left + (n > 1 ? x0 * (double)i : width / 2), y = y0 + h - h * (v - lo) / (hi - lo);
		PangoLayout *l;

		cairo_set_source_rgb(w->cr, 0.05, 0.3, 0.6);
		cairo_new_path(w->cr); /* the labels leave a current point */
		cairo_arc(w->cr, x, y, 2.5, 0, 2 * M_PI);
		cairo_fill(w->cr);
		cairo_set_source_rgb(w->cr, 0, 0, 0);
		num(v, strcmp(d->unit, "count") == 0 ? 0 : 1, label, sizeof label);
		l = layout(w, label, SMALL, 60, PANGO_ALIGN_CENTER);
		cairo_move_to(w->cr, x - 30, y - 13);
		pango_cairo_show_layout(w->cr, l);
		g_object_unref(l);
		l = layout(w, jstr(pt, "period"), SMALL, 60, PANGO_ALIGN_CENTER);
		cairo_move_to(w->cr, x - 30, y0 + h + 3);
		pango_cairo_show_layout(w->cr, l);
		g_object_unref(l);
	}
	cairo_restore(w->cr);
	w->y = y0 + h + 22;
}

/* ---- sections ----------------------------------------------------------------- */

static void title_page(struct pw *w, const struct report_opts *o)
{
	char pw[128], line[512];

	text_at(w, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", BOLD, 0, PANGO_ALIGN_CENTER, 2);
	text_at(w, "Độc lập – Tự do – Hạnh phúc", BOLD, 0, PANGO_ALIGN_CENTER, 80);
	text_at(w, "BÁO CÁO SÁU THÁNG", TITLE, 0, PANGO_ALIGN_CENTER, 8);
	text_at(w,
		"Kết quả thực hiện Nghị quyết số 57-NQ/TW, Đề án 06 và Bộ chỉ số phục vụ người "
		"dân, doanh nghiệp (Quyết định số 766/QĐ-TTg) trên nền tảng trao đổi dữ liệu "
		"quốc gia",
		H2, 0, PANGO_ALIGN_CENTER, 24);
	period_words(o->period, pw, sizeof pw);
	snprintf(line, sizeof line, "Kỳ báo cáo: %s", pw);
	text_at(w, line, BODY, 0, PANGO_ALIGN_CENTER, 6);
	snprintf(line, sizeof line, "Kính gửi: %s", o->addressee ? o->addressee : DEFAULT_ADDRESSEE);
	text_at(w, line, BODY, 0, PANGO_ALIGN_CENTER, 6);
	text_at(w, "Đơn vị lập báo cáo: đơn vị vận hành nền tảng trao đổi dữ liệu quốc gia (ndx)",
		BODY, 0, PANGO_ALIGN_CENTER, 6);
	text_at(w,
		"Báo cáo được lập tự động từ dữ liệu của hệ thống giám sát (ndx-monitor); cùng một "
		"dữ liệu cho cùng một báo cáo.",
		SMALL, 0, PANGO_ALIGN_CENTER, 0);
	w->y = BOTTOM - 170;
	text_at(w, "Hà Nội, ngày ...... tháng ...... năm ........", BODY, TEXT_W / 2,
		PANGO_ALIGN_CENTER, 14);
	{
		const char *const c1[] = { "NGƯỜI LẬP BÁO CÁO", "THỦ TRƯỞNG CƠ QUAN" };
		const char *const c2[] = { "(Ký, ghi rõ họ tên)", "(Ký tên, đóng dấu)" };
		const double wd[] = { TEXT_W / 2, TEXT_W / 2 };

		row(w, c1, wd, 2, BOLD, false);
		row(w, c2, wd, 2, SMALL, false);
	}
	end_page(w);
}

static const json_t *national_of(const json_t *ind)
{
	const json_t *so = json_array_get(json_object_get(ind, "scopes"), 0);

	return so && strcmp(jstr(so, "scope"), "national") == 0 ? so : NULL;
}

static void summary(struct pw *w, const json_t *view, const json_t *tasks, const json_t *fig)
{
	const json_t *s = json_object_get(view, "summary"), *t;
	size_t i, overdue = 0, done = 0;
	char a[64], b[64];

	json_array_foreach(tasks, i, t) {
		overdue += json_is_true(json_object_get(t, "overdue"));
		done += strcmp(jstr(t, "status"), "done") == 0;
	}
	para(w, "1. Tóm tắt", H1);
	paraf(w, BODY, 0,
	      "• Danh mục gồm %lld chỉ số; %lld chỉ số có giá trị cấp quốc gia trong kỳ, trong đó "
	      "%lld chỉ số đã đạt mục tiêu.",
	      (long long)json_integer_value(json_object_get(s, "indicators")),
	      (long long)json_integer_value(json_object_get(s, "with_value")),
	      (long long)json_integer_value(json_object_get(s, "met")));
	paraf(w, BODY, 0,
	      "• Nhiệm vụ triển khai: %zu nhiệm vụ, %zu đã hoàn thành, %zu quá hạn tính đến "
	      "ngày cuối kỳ.",
	      json_array_size(tasks), done, overdue);
	if (fig && json_integer_value(json_object_get(fig, "exchanges")) > 0) {
		num((double)json_integer_value(json_object_get(fig, "exchanges")), 0, a, sizeof a);
		num(json_number_value(json_object_get(fig, "success_pct")), 2, b, sizeof b);
		paraf(w, BODY, 0, "• Nền tảng đã thực hiện %s lượt trao đổi dữ liệu, %s %% thành công.",
		      a, b);
	} else {
		para(w, "• Không có bản ghi trao đổi dữ liệu nào trong kỳ.", BODY);
	}
	w->y += 6;
	{
		const double wd[] = { 200, 90, 90, 101.8 };
		const char *const head[] = { "Chỉ số", "Giá trị kỳ này", "Mục tiêu", "Đánh giá" };
		const json_t *ind;

		row(w, head, wd, 4, BOLD, true);
		/* value cells: at most 48 + a unit word; target cells add an operator */
		json_array_foreach(json_object_get(view, "indicators"), i, ind) {
			const struct ind_def d0 = { 0 };
			const json_t *nat = national_of(ind), *cur = nat ? json_object_get(nat, "current")
								       : NULL;
			const json_t *tg = json_object_get(ind, "target");
			char v[64] = "chưa có", tv[80] = "—";
			const char *cells[4];
			struct ind_def d = d0;

			d.unit = jstr(ind, "unit");
			if (json_is_object(cur))
				value_text(&d, json_number_value(json_object_get(cur, "value")), v,
					   sizeof v);
			if (json_is_object(tg)) {
				char n[64];

				value_text(&d, json_number_value(json_object_get(tg, "value")), n,
					   sizeof n);
				snprintf(tv, sizeof tv, "%s %s", jstr(tg, "op"), n);
			}
			cells[0] = jstr(json_object_get(ind, "name"), "vi");
			cells[1] = v;
			cells[2] = tv;
			cells[3] = !json_is_object(cur)			 ? "chưa có số liệu"
				   : !json_is_object(tg)		 ? "không đặt mục tiêu"
				   : json_is_true(json_object_get(nat, "met")) ? "Đạt"
									     : "Chưa đạt";
			row(w, cells, wd, 4, SMALL, true);
		}
	}
}

static void indicator(struct pw *w, const struct ind_catalogue *cat, const json_t *ind,
		      size_t k)
{
	const struct ind_def *d = ind_catalogue_find(cat, jstr(ind, "id"));
	const json_t *nat = national_of(ind), *cur = nat ? json_object_get(nat, "current") : NULL;
	const json_t *b;
	size_t i;
	char v[64], t[64], date[11];

	if (!d)
		return;
	need(w, 120);
	paraf(w, H2, 0, "2.%zu. %s", k, d->name_vi);
	paraf(w, SMALL, 0, "(%s) — mã: %s", d->name_en, d->id);
	paraf(w, BODY, 0, "Định nghĩa: %s", jstr(json_object_get(d->json, "definition"), "vi"));
	paraf(w, BODY, 0, "Nguồn số liệu: %s.", source_word(d->source));
	if (json_is_object(cur)) {
		value_text(d, json_number_value(json_object_get(cur, "value")), v, sizeof v);
		paraf(w, BOLD, 0, "Giá trị kỳ %s (toàn quốc): %s", jstr(cur, "period"), v);
		if (json_is_string(json_object_get(cur, "entered_by"))) {
			vn_date(jstr(cur, "entered_at"), date);
			paraf(w, SMALL, 0, "Nguồn: %s; người nhập: %s; ngày nhập: %s%s%s",
			      jstr(cur, "source"), jstr(cur, "entered_by"), date,
			      json_is_string(json_object_get(cur, "note")) ? "; ghi chú: " : "",
			      jstr(cur, "note"));
		}
	} else {
		para(w, "Giá trị kỳ này (toàn quốc): chưa có số liệu.", BOLD);
	}
	if (d->has_target) {
		value_text(d, d->target, t, sizeof t);
		vn_date(d->deadline, date);
		paraf(w, BODY, 0, "Mục tiêu: %s %s, thời hạn %s (%s).", d->target_op, t, date,
		      jstr(json_object_get(d->json, "target"), "set_by"));
		if (json_is_object(cur)) {
			double dist = ind_distance(d, json_number_value(json_object_get(cur, "value")));

			value_text(d, fabs(dist), v, sizeof v);
			if (json_is_true(json_object_get(nat, "met")))
				para(w, "Khoảng cách đến mục tiêu: đã đạt.", BODY);
			else
				paraf(w, BODY, 0, "Khoảng cách đến mục tiêu: còn thiếu %s.", v);
		}
	} else {
		para(w, "Mục tiêu: không đặt (số liệu tham khảo).", BODY);
	}
	json_array_foreach(json_object_get(d->json, "basis"), i, b)
		paraf(w, SMALL, 0, "Căn cứ: %s (%s): %s", jstr(b, "document"), jstr(b, "date"),
		      jstr(json_object_get(b, "wording"), "vi"));
	if (nat && json_array_size(json_object_get(nat, "series")) > 0)
		chart(w, d, json_object_get(nat, "series"));
	else
		para(w, "Chưa có số liệu theo kỳ để vẽ xu hướng.", SMALL);
	w->y += 8;
}

static void rankings(struct pw *w, const json_t *view)
{
	const json_t *ind, *so;
	size_t i, j;
	bool any = false;
	const double wd[] = { 40, 250, 100, 91.8 };
	const char *const head[] = { "Hạng", "Bộ, ngành / địa phương", "Giá trị", "Đánh giá" };

	para(w, "3. Xếp hạng bộ, ngành và địa phương", H1);
	json_array_foreach(json_object_get(view, "indicators"), i, ind) {
		struct ind_def d = { .unit = jstr(ind, "unit") };
		bool header = false;

		for (int kind = 0; kind < 2; kind++) {
			const char *kname = kind == 0 ? "member" : "province";

			/* in rank order: ranks are 1..n among the scopes of a kind */
			for (json_int_t r = 1;; r++) {
				const json_t *found = NULL;

				json_array_foreach(json_object_get(ind, "scopes"), j, so)
					if (strcmp(jstr(so, "kind"), kname) == 0 &&
					    json_integer_value(json_object_get(so, "rank")) == r)
						found = so;
				if (!found)
					break;
				if (!header) {
					need(w, 60);
					paraf(w, H2, 0, "%s", jstr(json_object_get(ind, "name"), "vi"));
					row(w, head, wd, 4, BOLD, true);
					header = any = true;
				}
				if (r == 1) {
					const char *const group[] = {
						"", kind == 0 ? "Bộ, ngành" : "Địa phương", "", ""
					};

					row(w, group, wd, 4, BOLD, false);
				}
				{
					char rank[24], v[64];
					const char *cells[4];

					snprintf(rank, sizeof rank, "%lld", (long long)r);
					value_text(&d, json_number_value(json_object_get(
							       json_object_get(found, "current"), "value")),
						   v, sizeof v);
					cells[0] = rank;
					cells[1] = jstr(found, "label");
					cells[2] = v;
					cells[3] = json_is_null(json_object_get(found, "met")) ? "—"
						   : json_is_true(json_object_get(found, "met")) ? "Đạt"
												  : "Chưa đạt";
					row(w, cells, wd, 4, SMALL, true);
				}
			}
		}
		if (header)
			w->y += 8;
	}
	if (!any)
		para(w, "Chưa có giá trị theo bộ, ngành hoặc địa phương trong kỳ.", BODY);
}

static void overdue_tasks(struct pw *w, const json_t *tasks, const char *as_of)
{
	const json_t *t;
	size_t i, n = 0;
	const double wd[] = { 30, 190, 100, 70, 91.8 };
	const char *const head[] = { "Số", "Nhiệm vụ", "Cơ quan chủ trì", "Thời hạn", "Tình trạng" };
	char date[11];

	vn_date(as_of, date);
	para(w, "4. Nhiệm vụ quá hạn", H1);
	paraf(w, BODY, 0, "Nhiệm vụ chưa hoàn thành có thời hạn đến hết ngày %s:", date);
	json_array_foreach(tasks, i, t) {
		char id[24], dl[11];
		char st[160];
		const char *cells[5];

		if (!json_is_true(json_object_get(t, "overdue")))
			continue;
		if (n++ == 0)
			row(w, head, wd, 5, BOLD, true);
		snprintf(id, sizeof id, "%lld", (long long)json_integer_value(json_object_get(t, "id")));
		vn_date(jstr(t, "deadline"), dl);
		snprintf(st, sizeof st, "QUÁ HẠN — %s%s%s", status_word(jstr(t, "status")),
			 json_is_string(json_object_get(t, "evidence")) ? "; minh chứng: " : "",
			 jstr(t, "evidence"));
		cells[0] = id;
		cells[1] = jstr(t, "title");
		cells[2] = jstr(t, "lead");
		cells[3] = dl;
		cells[4] = st;
		row(w, cells, wd, 5, SMALL, true);
	}
	if (n == 0)
		para(w, "Không có nhiệm vụ quá hạn.", BODY);
	w->y += 8;
}

static void exchange_section(struct pw *w, const json_t *fig)
{
	const json_t *m;
	size_t i;
	char a[64], b[64], c[64], e[64];
	const double wd[] = { 170, 80, 70, 80, 81.8 };
	const char *const head[] = { "Thành viên", "Lượt trao đổi", "Lỗi", "Thành công",
				     "p95 (ms)" };

	para(w, "5. Khối lượng và độ tin cậy trao đổi dữ liệu", H1);
	if (!fig || json_integer_value(json_object_get(fig, "exchanges")) == 0) {
		para(w, "Không có bản ghi trao đổi dữ liệu nào trong kỳ.", BODY);
		return;
	}
	num((double)json_integer_value(json_object_get(fig, "exchanges")), 0, a, sizeof a);
	num((double)json_integer_value(json_object_get(fig, "failed")), 0, b, sizeof b);
	num(json_number_value(json_object_get(fig, "success_pct")), 2, c, sizeof c);
	if (json_is_integer(json_object_get(fig, "p95_ms")))
		num((double)json_integer_value(json_object_get(fig, "p95_ms")), 0, e, sizeof e);
	else
		snprintf(e, sizeof e, "—");
	paraf(w, BODY, 0,
	      "Toàn nền tảng: %s lượt trao đổi, %s lượt lỗi, tỷ lệ thành công %s %%, thời gian "
	      "phản hồi phân vị 95: %s ms. Mỗi lượt được đếm một lần dù cả hai cổng kết nối "
	      "đều ghi nhận.",
	      a, b, c, e);
	w->y += 4;
	row(w, head, wd, 5, BOLD, true);
	json_array_foreach(json_object_get(fig, "members"), i, m) {
		const char *cells[5];

		num((double)json_integer_value(json_object_get(m, "exchanges")), 0, a, sizeof a);
		num((double)json_integer_value(json_object_get(m, "failed")), 0, b, sizeof b);
		num(json_number_value(json_object_get(m, "success_pct")), 2, c, sizeof c);
		if (json_is_integer(json_object_get(m, "p95_ms")))
			num((double)json_integer_value(json_object_get(m, "p95_ms")), 0, e, sizeof e);
		else
			snprintf(e, sizeof e, "—");
		strncat(c, " %", sizeof c - strlen(c) - 1);
		cells[0] = jstr(m, "member");
		cells[1] = a;
		cells[2] = b;
		cells[3] = c;
		cells[4] = e;
		row(w, cells, wd, 5, SMALL, true);
	}
}

/* "90,00 %", or "—" without a share. */
static void pct_cell(const json_t *o, const char *field, char *out, size_t cap)
{
	if (!json_is_number(json_object_get(o, field))) {
		snprintf(out, cap, "—");
		return;
	}
	num(json_number_value(json_object_get(o, field)), 2, out, cap);
	strncat(out, " %", cap - strlen(out) - 1);
}

static void registries_section(struct pw *w, const json_t *reg)
{
	static const char *const FIELDS[] = { "accurate_pct", "sufficient_pct", "clean_pct",
					      "live_pct" };
	const double wd[] = { 170, 70, 60, 60, 60, 61.8 };
	const char *const head[] = { "Cơ quan", "Bản ghi", "Đúng", "Đủ", "Sạch", "Sống" };
	char v[5][64];
	const char *cells[6];
	const json_t *m;
	size_t i;

	para(w, "6. Chất lượng dữ liệu của các cơ sở dữ liệu: đúng, đủ, sạch, sống", H1);
	if (!reg || json_integer_value(json_object_get(reg, "records")) == 0) {
		para(w, "Không có lần đối chiếu nào của các cơ sở dữ liệu hoàn thành trong kỳ.",
		     BODY);
		return;
	}
	para(w, "Tỷ lệ bản ghi về người của mỗi cơ quan khớp với Cơ sở dữ liệu quốc gia về dân cư"
		" theo từng tiêu chí, theo lần đối chiếu gần nhất của mỗi bảng hoàn thành trong kỳ,"
		" do cơ sở dữ liệu của cơ quan cung cấp qua nền tảng.", BODY);
	w->y += 4;
	row(w, head, wd, 6, BOLD, true);
	for (i = 0; i <= json_array_size(json_object_get(reg, "members")); i++) {
		m = i < json_array_size(json_object_get(reg, "members"))
			    ? json_array_get(json_object_get(reg, "members"), i)
			    : reg;
		num((double)json_integer_value(json_object_get(m, "records")), 0, v[0],
		    sizeof v[0]);
		for (size_t k = 0; k < 4; k++)
			pct_cell(m, FIELDS[k], v[1 + k], sizeof v[1 + k]);
		cells[0] = m == reg ? "Toàn quốc" : jstr(m, "member");
		for (size_t k = 0; k < 5; k++)
			cells[1 + k] = v[k];
		row(w, cells, wd, 6, m == reg ? BOLD : SMALL, true);
	}
}

/* ---- the document ---------------------------------------------------------------- */

static void draw(struct pw *w, const struct report_opts *o, const json_t *view,
		 const json_t *tasks, const json_t *fig, const json_t *reg)
{
	const json_t *ind;
	size_t i;

	title_page(w, o);
	summary(w, view, tasks, fig);
	end_page(w);
	para(w, "2. Các chỉ số", H1);
	json_array_foreach(json_object_get(view, "indicators"), i, ind)
		indicator(w, o->cat, ind, i + 1);
	end_page(w);
	rankings(w, view);
	w->y += 8;
	overdue_tasks(w, tasks, jstr(view, "as_of"));
	exchange_section(w, fig);
	w->y += 8;
	registries_section(w, reg);
	end_page(w);
}

static int render(const struct report_opts *o, const json_t *view, const json_t *tasks,
		  const json_t *fig, const json_t *reg, struct obuf *b)
{
	char pname[IND_PERIOD_MAX], date[40], last[IND_DATE_MAX], title[128];
	struct pw w = { .y = MARGIN, .page = 1 };
	cairo_status_t cs;

	ind_period_format(o->period, pname);
	ind_period_last_day(o->period, last);
	/* The document's only date: the period's last second, Vietnam time. */
	snprintf(date, sizeof date, "%sT23:59:59+07:00", last);
	snprintf(title, sizeof title, "Báo cáo sáu tháng %s — nền tảng trao đổi dữ liệu quốc gia",
		 pname);
	snprintf(w.footer, sizeof w.footer, "ndx — Báo cáo sáu tháng %s", pname);
	w.surf = cairo_pdf_surface_create_for_stream(obuf_write, b, PAGE_W, PAGE_H);
	cairo_pdf_surface_set_metadata(w.surf, CAIRO_PDF_METADATA_TITLE, title);
	cairo_pdf_surface_set_metadata(w.surf, CAIRO_PDF_METADATA_AUTHOR,
				       "ndx-monitor (nền tảng trao đổi dữ liệu quốc gia)");
	cairo_pdf_surface_set_metadata(w.surf, CAIRO_PDF_METADATA_CREATE_DATE, date);
	cairo_pdf_surface_set_metadata(w.surf, CAIRO_PDF_METADATA_MOD_DATE, date);
	w.cr = cairo_create(w.surf);
	w.fonts = pango_cairo_font_map_new();
	w.pctx = pango_font_map_create_context(w.fonts);
	pango_cairo_update_context(w.cr, w.pctx);
	draw(&w, o, view, tasks, fig, reg);
	g_object_unref(w.pctx);
	g_object_unref(w.fonts);
	cairo_destroy(w.cr);
	cairo_surface_finish(w.surf);
	cs = cairo_surface_status(w.surf);
	cairo_surface_destroy(w.surf);
	if (b->toobig)
		return NDX_ETOOBIG;
	return cs == CAIRO_STATUS_SUCCESS ? NDX_OK : NDX_EIO;
}

int report_generate(const struct report_opts *o, unsigned char **pdf, size_t *len)
{
	struct ind_view_opts vo = { .cat = o->cat, .st = o->st, .monitor_db = o->monitor_db,
				    .period = o->period };
	json_t *view = NULL, *tasks = NULL, *fig = NULL, *reg = NULL;
	struct obuf b = { 0 };
	char last[IND_DATE_MAX];
	int64_t from, to;
	int rc;

	*pdf = NULL;
	*len = 0;
	if (o->period->kind != IND_HALF)
		return NDX_EINVAL;
	ind_period_last_day(o->period, last);
	ind_period_range_ms(o->period, &from, &to);
	rc = ind_view(&vo, &view);
	/* Overdue as of the day after the period's last: a task due on the
	 * last day and not done is overdue at the report's date. */
	if (!rc) {
		char after[IND_DATE_MAX + 1];

		snprintf(after, sizeof after, "%s~", last);
		rc = istore_tasks(o->st, after, &tasks);
	}
	if (!rc) {
		rc = ind_exchange_figures(o->monitor_db, from, to, &fig);
		if (rc == NDX_ENOTFOUND)
			rc = NDX_OK;
	}
	if (!rc) {
		rc = ind_registry_figures(o->monitor_db, from, to, &reg);
		if (rc == NDX_ENOTFOUND)
			rc = NDX_OK;
	}
	if (!rc)
		rc = render(o, view, tasks, fig, reg, &b);
	json_decref(view);
	json_decref(tasks);
	json_decref(fig);
	json_decref(reg);
	if (rc) {
		free(b.p);
		return rc;
	}
	*pdf = b.p;
	*len = b.len;
	return NDX_OK;
}

void report_release_fonts(void)
{
	cairo_debug_reset_static_data();
	FcFini();
}
