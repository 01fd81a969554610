/* The data model of the seven sector systems as data: each sector is a set
 * of tables, each table a list of typed columns with their rules. The
 * store creates tables from it, the API validates writes against it, the
 * OpenAPI document and the quality report are derived from it, so the
 * four cannot disagree. Overview: docs/sectors.md "Data model". */
#ifndef NDX_SECTOR_SCHEMA_H
#define NDX_SECTOR_SCHEMA_H

#include <stddef.h>

enum col_type {
	COL_TEXT,     /* UTF-8, 1..max bytes */
	COL_DATE,     /* YYYY-MM-DD */
	COL_PERIOD,   /* YYYY-MM */
	COL_INT,      /* integer in [min, max] */
	COL_REAL,     /* number in [min, max] */
	COL_ENUM,     /* one of values */
	COL_PIN,      /* 12-digit personal identification number */
	COL_ECODE,    /* 10-digit enterprise code */
	COL_PARTY,    /* a PIN or an enterprise code (tax ids, owners, holders) */
	COL_PROVINCE, /* 3-digit province code */
	COL_PLATE,    /* vehicle plate, compact: 29A12345 or 59X123456 */
	COL_PARCEL,   /* land parcel: PPP-SSSS-NNNNN (province, map sheet, parcel) */
	COL_HOUSEHOLD /* household code: H + province + 8 digits */
};

#define COL_REQUIRED 0x1u /* must be present and not null */
#define COL_ID 0x2u       /* the table's key, named in the URL path */
#define COL_NAME 0x4u     /* searched by name: has a folded, indexed twin */
#define COL_FILTER 0x8u   /* indexed; an equality filter on the list call */
/* COL_PROVINCE of where something is now (an address, a parcel, a tax
 * office), not of a past registration: since 1 July 2025 one of the 34
 * units; a former code there is a row written under the old map, which the
 * quality report counts (adminmap.h). */
#define COL_PLACE 0x10u

struct sector_column {
	const char *name;
	enum col_type type;
	unsigned flags;
	size_t max;                 /* COL_TEXT: bytes */
	double lo, hi;              /* COL_INT, COL_REAL: inclusive range */
	const char *const *values;  /* COL_ENUM: NULL-terminated */
	/* The table this value refers to: "sector/table"; for COL_PARTY a
	 * PIN refers to population/citizens and an enterprise code to
	 * enterprise/enterprises, and ref is then "party". NULL: none. */
	const char *ref;
	const char *desc;
};

struct sector_table {
	const char *name;  /* SQL table and URL collection */
	const char *title;
	/* The key column (COL_ID), or NULL: then rows are numbered by the
	 * store ("id", an integer assigned on POST). */
	const char *key;
	const struct sector_column *cols;
	size_t ncols;
	/* Columns (comma-separated) that identify one real-world thing: the
	 * quality report lists groups of rows sharing them. NULL: none. */
	const char *dup_key;
};

struct sector_def {
	const char *name;   /* "population": also the database file stem */
	const char *title;  /* English */
	const char *title_vi;
	const char *agency; /* the member that runs it, e.g. "VN/GOV/BCA" */
	const struct sector_table *tables;
	size_t ntables;
};

#define SECTOR_COUNT 7

/* The sector named name, or NULL. */
const struct sector_def *sector_find(const char *name);
/* i < SECTOR_COUNT. */
const struct sector_def *sector_at(size_t i);
/* The table of def named name, or NULL. */
const struct sector_table *sector_table_find(const struct sector_def *def, const char *name);
/* The column of t named name, or NULL. */
const struct sector_column *sector_column_find(const struct sector_table *t, const char *name);
/* The COL_NAME column of t, or NULL. */
const struct sector_column *sector_name_column(const struct sector_table *t);
/* Space-separated list of sector names, for usage text. */
const char *sector_names(void);

/* Checks one text value against a column's format (not its range, enum or
 * reference). Returns 0 when it fits, else -1 with *why set to a static
 * sentence. Used by the API and the quality report. */
int sector_value_check(const struct sector_column *c, const char *v, const char **why);

#endif
