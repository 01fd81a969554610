/* Maintenance mode (gw_maintenance.h, docs/gateway-console.md). The flag
 * is an atomic read by every new exchange; who switched it on and when
 * are kept beside it under a mutex and in DATA_DIR/maintenance.json
 * (written atomically before the flag changes, so what the console shows
 * is what a restart finds). */
#include "gw_maintenance.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ndx/err.h"
#include "ndx/file.h"
#include "ndx/timefmt.h"

#define STATE_FILE_MAX 4096

struct gw_maintenance {
	atomic_bool on;
	pthread_mutex_t mu;
	char *path;
	char since[NDX_TIME_TEXT_LEN];
	char by[512];
};

int gw_maintenance_open(const char *data_dir, struct gw_maintenance **out, char *err,
			size_t errcap)
{
	struct gw_maintenance *m = calloc(1, sizeof *m);
	size_t n = strlen(data_dir) + sizeof "/maintenance.json";
	char *text = NULL;
	size_t len;
	json_t *doc;
	int rc;

	*out = NULL;
	if (!m || !(m->path = malloc(n))) {
		free(m);
		return ndx_fail(err, errcap, NDX_ENOMEM, "out of memory");
	}
	snprintf(m->path, n, "%s/maintenance.json", data_dir);
	pthread_mutex_init(&m->mu, NULL);
	if (ndx_file_read(m->path, STATE_FILE_MAX, &text, &len) == NDX_OK) {
		doc = json_loadb(text, len, 0, NULL);
		free(text);
		if (!json_is_object(doc) || !json_is_boolean(json_object_get(doc, "on"))) {
			json_decref(doc);
			rc = ndx_fail(err, errcap, NDX_EINVAL,
				      "%s: not the gateway's maintenance state; remove it to "
				      "start out of maintenance", m->path);
			gw_maintenance_free(m);
			return rc;
		}
		atomic_store(&m->on, json_is_true(json_object_get(doc, "on")));
		snprintf(m->since, sizeof m->since, "%s",
			 json_string_value(json_object_get(doc, "since")) ?: "");
		snprintf(m->by, sizeof m->by, "%s",
			 json_string_value(json_object_get(doc, "by")) ?: "");
		json_decref(doc);
	}
	*out = m;
	return NDX_OK;
}

void gw_maintenance_free(struct gw_maintenance *m)
{
	if (!m)
		return;
	pthread_mutex_destroy(&m->mu);
	free(m->path);
	free(m);
}

bool gw_maintenance_on(const struct gw_maintenance *m)
{
	return m && atomic_load(&m->on);
}

static json_t *state_json(bool on, const char *since, const char *by)
{
	return on ? json_pack("{sbssss}", "on", 1, "since", since, "by", by)
		  : json_pack("{sbsnsn}", "on", 0, "since", "by");
}

int gw_maintenance_set(struct gw_maintenance *m, bool on, const char *who)
{
	char since[NDX_TIME_TEXT_LEN];
	json_t *doc;
	char *text;
	int rc;

	ndx_time_format(time(NULL), since);
	doc = state_json(on, since, who);
	text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (!text)
		return NDX_ENOMEM;
	pthread_mutex_lock(&m->mu);
	rc = ndx_file_write_atomic(m->path, text, strlen(text), 0600, 0);
	if (rc == NDX_OK) {
		snprintf(m->since, sizeof m->since, "%s", on ? since : "");
		snprintf(m->by, sizeof m->by, "%s", on ? who : "");
		atomic_store(&m->on, on);
	}
	pthread_mutex_unlock(&m->mu);
	free(text);
	return rc;
}

json_t *gw_maintenance_json(struct gw_maintenance *m)
{
	json_t *doc;

	pthread_mutex_lock(&m->mu);
	doc = state_json(atomic_load(&m->on), m->since, m->by);
	pthread_mutex_unlock(&m->mu);
	return doc;
}
