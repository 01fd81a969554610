/* Tests of ndx-sector's events (src/sector/sec_outbox.h, sec_apply.h) on an
 * in-memory database made from the real schema: the outbox rules (which
 * write publishes which event, in the write's transaction), the drain
 * (order, deletion only after success, back-off on failure, its doubling
 * and cap, waiting until the next try), and the apply rules (each change
 * made once: the same event id twice changes nothing, the same fact under
 * another id changes nothing, a bad payload changes nothing). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>

#include "ndx/err.h"
#include "ndx/evclient.h"
#include "ndx/pin.h"
#include "sec_apply.h"
#include "sec_outbox.h"
#include "store.h"

#define PIN "070182917807"
#define CLIENT "VN/GOV/BTP/civil-status"

static sqlite3 *open_sector(const char *name)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	assert_int_equal(store_schema_create(db, sector_find(name), 1), NDX_OK);
	assert_int_equal(outbox_tables(db), NDX_OK);
	return db;
}

static long long scalar(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *q = NULL;
	long long v = -1;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
	if (sqlite3_step(q) == SQLITE_ROW)
		v = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return v;
}

static const char *text(sqlite3 *db, const char *sql, char *out, size_t cap)
{
	sqlite3_stmt *q = NULL;

	out[0] = '\0';
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
	if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_text(q, 0))
		snprintf(out, cap, "%s", (const char *)sqlite3_column_text(q, 0));
	sqlite3_finalize(q);
	return out;
}

static void insert(sqlite3 *db, const char *sql)
{
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
}

static void death(sqlite3 *db, const char *pin, const char *id, int expect_added)
{
	const struct sector_def *def = sector_find("civil-status");
	json_t *row = json_pack("{ssssssssss}", "pin", pin, "full_name", "Phan Thị Phương",
				"died_on", "2026-12-02", "province", "070", "registered_on",
				"2026-12-02");
	int added = -1;

	assert_int_equal(outbox_on_write(db, def, sector_table_find(def, "deaths"), NULL, row, id,
					 CLIENT, &added),
			 NDX_OK);
	assert_int_equal(added, expect_added);
	json_decref(row);
}

static void writes_publish_what_the_rules_say(void **state)
{
	sqlite3 *db = open_sector("civil-status");
	const struct sector_def *civil = sector_find("civil-status");
	char buf[512];
	int added = -1;

	(void)state;
	assert_true(outbox_table_publishes(civil, sector_table_find(civil, "deaths")));
	assert_false(outbox_table_publishes(civil, sector_table_find(civil, "marriages")));
	death(db, PIN, "7", 1);
	assert_string_equal(text(db, "SELECT service FROM event_outbox", buf, sizeof buf),
			    CLIENT "/deaths");
	assert_string_equal(text(db, "SELECT name FROM event_outbox", buf, sizeof buf),
			    "death-registered");
	assert_string_equal(text(db, "SELECT subject FROM event_outbox", buf, sizeof buf), PIN);
	/* The event's id is drawn with the row: a lower-case UUID v4. */
	assert_true(ndx_evclient_is_uuid(text(db, "SELECT event_id FROM event_outbox", buf,
					      sizeof buf)));
	assert_int_equal(buf[14], '4');
	assert_string_equal(text(db, "SELECT payload FROM event_outbox", buf, sizeof buf),
			    "{\"death_id\":7,\"died_on\":\"2026-12-02\",\"full_name\":\"Phan Thị "
			    "Phương\",\"pin\":\"070182917807\",\"province\":\"070\","
			    "\"registered_on\":\"2026-12-02\"}");
	/* A correction of a death record (a PUT) is no new death. */
	json_t *row = json_pack("{ss}", "pin", PIN);
	assert_int_equal(outbox_on_write(db, civil, sector_table_find(civil, "deaths"), row, row,
					 "7", CLIENT, &added),
			 NDX_OK);
	assert_int_equal(added, 0);
	json_decref(row);
	sqlite3_close(db);

	/* Population: a change of permanent residence publishes, another change does not. */
	const struct sector_def *pop = sector_find("population");
	const struct sector_table *cit = sector_table_find(pop, "citizens");
	db = open_sector("population");
	json_t *old = json_pack("{ssssssss}", "pin", PIN, "permanent_address", "A",
				"permanent_province", "079", "relation", "spouse");
	json_t *same = json_pack("{ssssssss}", "pin", PIN, "permanent_address", "A",
				 "permanent_province", "079", "relation", "head");
	json_t *moved = json_pack("{ssssssss}", "pin", PIN, "permanent_address", "B",
				  "permanent_province", "001", "household_id", "H00100000001");
	assert_int_equal(outbox_on_write(db, pop, cit, NULL, old, PIN, "VN/GOV/BCA/population",
					 &added), NDX_OK);
	/* A new record is no change of residence: a new citizen. */
	assert_int_equal(added, 1);
	assert_string_equal(text(db, "SELECT name FROM event_outbox", buf, sizeof buf),
			    "citizen-registered");
	insert(db, "DELETE FROM event_outbox");
	assert_int_equal(outbox_on_write(db, pop, cit, old, same, PIN, "VN/GOV/BCA/population",
					 &added), NDX_OK);
	assert_int_equal(added, 0);
	assert_int_equal(outbox_on_write(db, pop, cit, old, moved, PIN, "VN/GOV/BCA/population",
					 &added), NDX_OK);
	assert_int_equal(added, 1);
	assert_string_equal(text(db, "SELECT payload FROM event_outbox", buf, sizeof buf),
			    "{\"household_id\":\"H00100000001\",\"permanent_address\":\"B\","
			    "\"permanent_province\":\"001\",\"pin\":\"070182917807\","
			    "\"previous_province\":\"079\"}");
	json_decref(old);
	json_decref(same);
	json_decref(moved);
	sqlite3_close(db);
}

/* A publish function that fails while *fail is set and records the order. */
struct fake {
	int fail;
	int calls;
	char seen[8][16];
	char ids[8][40];
};

static int fake_publish(void *ctx, const struct outbox_event *ev, char *err, size_t cap)
{
	struct fake *f = ctx;
	json_t *p = json_loads(ev->payload, 0, NULL);

	if (f->calls < 8)
		snprintf(f->seen[f->calls], sizeof f->seen[0], "%lld",
			 (long long)json_integer_value(json_object_get(p, "death_id")));
	if (f->calls < 8)
		snprintf(f->ids[f->calls], sizeof f->ids[0], "%s", ev->event_id);
	f->calls++;
	json_decref(p);
	if (f->fail) {
		snprintf(err, cap, "500 Server.ClientProxy.NetworkError");
		return NDX_ENET;
	}
	return NDX_OK;
}

static void drains_in_order_and_deletes_only_after_success(void **state)
{
	sqlite3 *db = open_sector("civil-status");
	struct fake f = { .fail = 1 };
	unsigned published = 9;
	long long wake = 0, now = 1000000;
	char buf[256];

	(void)state;
	death(db, PIN, "1", 1);
	death(db, "001099012345", "2", 1);
	char first_id[40];
	text(db, "SELECT event_id FROM event_outbox ORDER BY seq LIMIT 1", first_id,
	     sizeof first_id);
	/* The gateway is down: nothing is deleted; the head waits 500 ms. */
	assert_int_equal(outbox_drain(db, fake_publish, &f, now, &published, &wake), NDX_OK);
	assert_string_equal(f.ids[0], first_id);
	assert_int_equal(published, 0);
	assert_int_equal(f.calls, 1);
	assert_int_equal(wake, now + 500);
	assert_int_equal(outbox_pending(db), 2);
	assert_int_equal(scalar(db, "SELECT attempts FROM event_outbox ORDER BY seq LIMIT 1"), 1);
	assert_string_equal(text(db, "SELECT last_error FROM event_outbox ORDER BY seq LIMIT 1",
				 buf, sizeof buf),
			    "500 Server.ClientProxy.NetworkError");
	/* Before its next try nothing is attempted, not even the rows behind it. */
	assert_int_equal(outbox_drain(db, fake_publish, &f, now + 499, &published, &wake), NDX_OK);
	assert_int_equal(f.calls, 1);
	assert_int_equal(wake, now + 500);
	/* Each failure doubles the wait: 500, 1000, 2000 ... up to 30 s. */
	long long t = now + 500, expect[] = { 1000, 2000, 4000, 8000, 16000, 30000, 30000 };
	for (size_t i = 0; i < sizeof expect / sizeof *expect; i++) {
		assert_int_equal(outbox_drain(db, fake_publish, &f, t, &published, &wake), NDX_OK);
		assert_int_equal(wake - t, expect[i]);
		t = wake;
	}
	assert_int_equal(scalar(db, "SELECT attempts FROM event_outbox ORDER BY seq LIMIT 1"), 8);
	/* The gateway is back: both go, in the order written, and the outbox is empty. */
	f.fail = 0;
	f.calls = 0;
	assert_int_equal(outbox_drain(db, fake_publish, &f, t, &published, &wake), NDX_OK);
	assert_int_equal(published, 2);
	assert_int_equal(f.calls, 2);
	assert_string_equal(f.seen[0], "1");
	assert_string_equal(f.seen[1], "2");
	/* Every attempt named the event the same: the id drawn with the row. */
	assert_string_equal(f.ids[0], first_id);
	assert_string_not_equal(f.ids[1], first_id);
	assert_int_equal(outbox_pending(db), 0);
	assert_int_equal(wake, -1);
	/* An empty outbox publishes nothing. */
	assert_int_equal(outbox_drain(db, fake_publish, &f, t, &published, &wake), NDX_OK);
	assert_int_equal(published, 0);
	assert_int_equal(f.calls, 2);
	sqlite3_close(db);
}

/* A publish whose answer was lost (the gateway kept it, the publisher saw
 * a failure) goes again under the same id; the gateway's 200 "duplicate"
 * is then success (ndx_evclient_publish), so it is one event. And an
 * outbox an older version wrote, without ids, gets its column on open and
 * its rows their ids before the first attempt. */
static void an_event_keeps_its_id_across_attempts_and_versions(void **state)
{
	sqlite3 *db = NULL;
	struct fake f = { .fail = 1 };
	unsigned published;
	long long wake;
	char id[40];

	(void)state;
	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	insert(db, "CREATE TABLE event_outbox(seq INTEGER PRIMARY KEY AUTOINCREMENT,"
		   " service TEXT NOT NULL, name TEXT NOT NULL, subject TEXT NOT NULL,"
		   " payload TEXT NOT NULL, created_at TEXT NOT NULL,"
		   " attempts INTEGER NOT NULL DEFAULT 0, next_at_ms INTEGER NOT NULL DEFAULT 0,"
		   " last_error TEXT)");
	insert(db, "INSERT INTO event_outbox(service, name, subject, payload, created_at)"
		   " VALUES('" CLIENT "/deaths', 'death-registered', '" PIN "',"
		   " '{\"death_id\":5}', 'then')");
	assert_int_equal(outbox_tables(db), NDX_OK);
	assert_int_equal(outbox_tables(db), NDX_OK); /* again: nothing to add */
	assert_int_equal(outbox_drain(db, fake_publish, &f, 1000, &published, &wake), NDX_OK);
	assert_int_equal(published, 0);
	assert_true(ndx_evclient_is_uuid(f.ids[0]));
	assert_string_equal(text(db, "SELECT event_id FROM event_outbox", id, sizeof id), f.ids[0]);
	f.fail = 0;
	assert_int_equal(outbox_drain(db, fake_publish, &f, wake, &published, &wake), NDX_OK);
	assert_int_equal(published, 1);
	assert_string_equal(f.ids[1], f.ids[0]);
	assert_int_equal(outbox_pending(db), 0);
	sqlite3_close(db);
}

static void a_rolled_back_write_leaves_no_event(void **state)
{
	sqlite3 *db = open_sector("civil-status");

	(void)state;
	assert_int_equal(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
	death(db, PIN, "1", 1);
	assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(outbox_pending(db), 0);
	sqlite3_close(db);
}

/* outbox_put: the write of the API and of an officer's correction
 * (sec_worklist.h) is one function, so a correction queues exactly the
 * events a write through the API would: a new citizen publishes
 * citizen-registered, a change of the address residence-changed, of the
 * name citizen-corrected, a change of another field nothing; a sector
 * serving without events (no client) queues nothing; a rolled back write
 * leaves no event. */
static void a_write_queues_its_events_through_outbox_put(void **state)
{
	const struct sector_def *def = sector_find("population");
	const struct sector_table *t = sector_table_find(def, "citizens");
	const char *base = getenv("NDX_TEST_TMP");
	char dir[4096], path[4200], newid[64], buf[512];
	struct store *st = NULL;
	struct store_conn *c;
	json_t *row;
	sqlite3 *db;
	int added = -1;

	(void)state;
	snprintf(dir, sizeof dir, "%s/sector-put-XXXXXX", base ? base : "/tmp");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/population.db", dir);
	assert_int_equal(store_open(path, def, 1, 1, &st), NDX_OK);
	c = store_acquire(st);
	db = store_conn_db(c);
	assert_int_equal(outbox_tables(db), NDX_OK);
	row = json_pack("{ss ss ss ss ss ss ss}", "pin", PIN, "full_name", "Phan Thị Phương",
			"birth_date", "1982-01-07", "sex", "female", "birth_province", "070",
			"permanent_address", "12 Lê Lợi", "permanent_province", "079");
	assert_non_null(row);

	assert_int_equal(store_begin(c), NDX_OK);
	assert_int_equal(outbox_put(c, def, t, NULL, row, "VN/GOV/BCA/population", newid,
				    sizeof newid, &added), NDX_OK);
	assert_int_equal(store_commit(c), NDX_OK);
	assert_int_equal(added, 1);
	assert_string_equal(newid, PIN);
	assert_string_equal(text(db, "SELECT name || ' ' || service FROM event_outbox", buf,
				 sizeof buf),
			    "citizen-registered VN/GOV/BCA/population/citizens");
	insert(db, "DELETE FROM event_outbox");

	/* Another field: no event. */
	json_object_set_new(row, "temporary_address", json_string("5 Hàng Bài"));
	assert_int_equal(store_begin(c), NDX_OK);
	assert_int_equal(outbox_put(c, def, t, PIN, row, "VN/GOV/BCA/population", newid,
				    sizeof newid, &added), NDX_OK);
	assert_int_equal(store_commit(c), NDX_OK);
	assert_int_equal(added, 0);
	assert_int_equal(outbox_pending(db), 0);

	/* Who the citizen is (the name, as a correction): citizen-corrected,
	 * naming what changed. */
	json_object_set_new(row, "full_name", json_string("Phan Thị Phượng"));
	assert_int_equal(store_begin(c), NDX_OK);
	assert_int_equal(outbox_put(c, def, t, PIN, row, "VN/GOV/BCA/population", newid,
				    sizeof newid, &added), NDX_OK);
	assert_int_equal(store_commit(c), NDX_OK);
	assert_int_equal(added, 1);
	assert_string_equal(text(db, "SELECT name || ' ' || subject || ' ' || "
				     "json_extract(payload, '$.full_name') || ' ' || "
				     "json_extract(payload, '$.corrected') FROM event_outbox",
				 buf, sizeof buf),
			    "citizen-corrected " PIN " Phan Thị Phượng [\"full_name\"]");
	insert(db, "DELETE FROM event_outbox");

	/* The address: residence-changed, with the province before. */
	json_object_set_new(row, "permanent_address", json_string("3 Trần Phú"));
	json_object_set_new(row, "permanent_province", json_string("001"));
	assert_int_equal(store_begin(c), NDX_OK);
	assert_int_equal(outbox_put(c, def, t, PIN, row, "VN/GOV/BCA/population", newid,
				    sizeof newid, &added), NDX_OK);
	assert_int_equal(store_commit(c), NDX_OK);
	assert_int_equal(added, 1);
	assert_string_equal(text(db, "SELECT name || ' ' || subject || ' ' || "
				     "json_extract(payload, '$.previous_province') FROM event_outbox",
				 buf, sizeof buf),
			    "residence-changed " PIN " 079");
	insert(db, "DELETE FROM event_outbox");

	/* No events client: the record changes, nothing is queued. */
	json_object_set_new(row, "permanent_province", json_string("079"));
	assert_int_equal(store_begin(c), NDX_OK);
	assert_int_equal(outbox_put(c, def, t, PIN, row, NULL, newid, sizeof newid, &added),
			 NDX_OK);
	assert_int_equal(store_commit(c), NDX_OK);
	assert_int_equal(added, 0);
	assert_int_equal(outbox_pending(db), 0);

	/* Rolled back: neither the record nor the event. */
	json_object_set_new(row, "permanent_province", json_string("001"));
	assert_int_equal(store_begin(c), NDX_OK);
	assert_int_equal(outbox_put(c, def, t, PIN, row, "VN/GOV/BCA/population", newid,
				    sizeof newid, &added), NDX_OK);
	assert_int_equal(added, 1);
	store_rollback(c);
	assert_int_equal(outbox_pending(db), 0);
	assert_string_equal(text(db, "SELECT permanent_province FROM citizens", buf, sizeof buf),
			    "079");

	/* A record that is not there: refused, nothing queued. */
	assert_int_equal(store_begin(c), NDX_OK);
	assert_int_equal(outbox_put(c, def, t, "001090000001", row, "VN/GOV/BCA/population",
				    newid, sizeof newid, &added), NDX_ENOTFOUND);
	store_rollback(c);
	assert_int_equal(outbox_pending(db), 0);

	json_decref(row);
	store_release(st, c);
	store_close(st);
	static const char *const EXT[] = { "", "-wal", "-shm" };
	for (size_t e = 0; e < 3; e++) {
		snprintf(path, sizeof path, "%s/population.db%s", dir, EXT[e]);
		unlink(path);
	}
	rmdir(dir);
}

static const char DEATH[] = "{\"pin\":\"" PIN "\",\"died_on\":\"2026-12-02\"}";

static void applies_each_death_once(void **state)
{
	struct {
		const char *sector, *seed, *check;
	} cases[] = {
		{ "population",
		  "INSERT INTO citizens(pin, full_name, name_folded, birth_date, sex,"
		  " birth_province, permanent_address, permanent_province, updated_at)"
		  " VALUES('" PIN "', 'P', 'p', '1982-01-07', 'female', '070', 'A', '079', 'old')",
		  "SELECT deceased_on || '/' || updated_at FROM citizens" },
		{ "insurance",
		  "INSERT INTO participants(pin, name, name_folded, status, first_period,"
		  " updated_at) VALUES('" PIN "', 'P', 'p', 'retired', '2005-01', 'old')",
		  "SELECT status || '/' || updated_at FROM participants" },
		{ "tax",
		  "INSERT INTO taxpayers(tax_id, kind, name, name_folded, status, tax_office,"
		  " registered_on, updated_at) VALUES('" PIN "', 'individual', 'P', 'p',"
		  " 'active', '079', '2021-02-21', 'old')",
		  "SELECT status || '/' || updated_at FROM taxpayers" },
	};
	char why[256], first[128], now[128];

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		const struct sector_def *def = sector_find(cases[i].sector);
		sqlite3 *db = open_sector(cases[i].sector);

		insert(db, cases[i].seed);
		assert_true(apply_sector_subscribes(def));
		assert_int_equal(apply_event(db, def, "e1", "death-registered", DEATH, why,
					     sizeof why),
				 APPLY_CHANGED);
		text(db, cases[i].check, first, sizeof first);
		assert_null(strstr(first, "/old"));
		/* The same event again: seen, nothing done. */
		assert_int_equal(apply_event(db, def, "e1", "death-registered", DEATH, why,
					     sizeof why),
				 APPLY_SEEN);
		/* The same fact under another id: nothing to change, not even updated_at. */
		assert_int_equal(apply_event(db, def, "e2", "death-registered", DEATH, why,
					     sizeof why),
				 APPLY_UNCHANGED);
		assert_string_equal(text(db, cases[i].check, now, sizeof now), first);
		assert_int_equal(scalar(db, "SELECT count(*) FROM event_applied"), 2);
		/* Someone the registry does not know: recorded, nothing changed. */
		assert_int_equal(apply_event(db, def, "e3", "death-registered",
					     "{\"pin\":\"001099012345\",\"died_on\":\"2026-12-02\"}",
					     why, sizeof why),
				 APPLY_UNCHANGED);
		/* Payloads that cannot apply change nothing and are not recorded. */
		static const char *const bad[] = {
			"", "[]", "{}", "{\"pin\":\"123\",\"died_on\":\"2026-12-02\"}",
			"{\"pin\":\"" PIN "\",\"died_on\":\"2026-02-30\"}",
			"{\"pin\":\"" PIN "\",\"died_on\":7}",
		};
		for (size_t b = 0; b < sizeof bad / sizeof *bad; b++) {
			char id[8];
			snprintf(id, sizeof id, "b%zu", b);
			assert_int_equal(apply_event(db, def, id, "death-registered", bad[b], why,
						     sizeof why),
					 APPLY_INVALID);
			assert_null(strstr(why, PIN)); /* a reason never names the person */
		}
		assert_int_equal(scalar(db, "SELECT count(*) FROM event_applied"), 3);
		assert_string_equal(text(db, cases[i].check, now, sizeof now), first);
		/* An event without a rule here is ignored. */
		assert_int_equal(apply_event(db, def, "x", "marriage-registered", DEATH, why,
					     sizeof why),
				 APPLY_IGNORED);
		sqlite3_close(db);
	}
	assert_false(apply_sector_subscribes(sector_find("land")));
}

static const char MOVE[] = "{\"pin\":\"" PIN "\",\"permanent_address\":\"Số 8 phố Lý "
			   "Thường Kiệt, Hà Nội\",\"permanent_province\":\"001\","
			   "\"previous_province\":\"079\"}";

static void applies_each_residence_change_once(void **state)
{
	struct {
		const char *sector, *seed, *check;
	} cases[] = {
		{ "tax",
		  "INSERT INTO taxpayers(tax_id, kind, name, name_folded, status, tax_office,"
		  " registered_on, address, province, updated_at) VALUES('" PIN "', 'individual',"
		  " 'P', 'p', 'active', '079', '2021-02-21', 'A', '079', 'old'),"
		  " ('0101234567', 'enterprise', 'E', 'e', 'active', '079', '2021-02-21', 'A',"
		  " '079', 'old')",
		  "SELECT group_concat(address || '/' || province || '/' || updated_at, ';')"
		  " FROM (SELECT * FROM taxpayers ORDER BY tax_id)" },
		{ "insurance",
		  "INSERT INTO participants(pin, name, name_folded, status, first_period,"
		  " updated_at) VALUES('" PIN "', 'P', 'p', 'retired', '2005-01', 'old')",
		  "SELECT address || '/' || province || '/' || updated_at FROM participants" },
		{ "vehicles",
		  "INSERT INTO vehicles(plate, kind, brand, year, chassis_no, owner_id,"
		  " registered_on, owner_address, owner_province, updated_at) VALUES"
		  " ('51F12345', 'car', 'Toyota', 2020, 'RLH00000000000001', '" PIN "',"
		  " '2020-05-01', 'A', '079', 'old'),"
		  " ('59X112345', 'motorbike', 'Honda', 2019, 'RLM00000000000002', '" PIN "',"
		  " '2019-05-01', 'A', '079', 'old'),"
		  " ('51F99999', 'car', 'Kia', 2021, 'RLH00000000000003', '001099012345',"
		  " '2021-05-01', 'B', '079', 'old')",
		  "SELECT group_concat(owner_address || '/' || owner_province || '/' || updated_at,"
		  " ';') FROM (SELECT * FROM vehicles ORDER BY plate)" },
	};
	char why[256], first[512], now[512];

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		const struct sector_def *def = sector_find(cases[i].sector);
		sqlite3 *db = open_sector(cases[i].sector);

		insert(db, cases[i].seed);
		assert_true(apply_sector_subscribes(def));
		assert_int_equal(apply_event(db, def, "m1", "residence-changed", MOVE, why,
					     sizeof why),
				 APPLY_CHANGED);
		text(db, cases[i].check, first, sizeof first);
		assert_non_null(strstr(first, "Số 8 phố Lý Thường Kiệt, Hà Nội/001/"));
		/* Nobody else's address moved: the enterprise, the other owner. */
		if (strcmp(cases[i].sector, "tax") == 0)
			assert_non_null(strstr(first, "A/079/old;"));
		if (strcmp(cases[i].sector, "vehicles") == 0) {
			assert_non_null(strstr(first, ";B/079/old"));
			assert_null(strstr(first, "A/079"));
		}
		assert_int_equal(apply_event(db, def, "m1", "residence-changed", MOVE, why,
					     sizeof why),
				 APPLY_SEEN);
		assert_int_equal(apply_event(db, def, "m2", "residence-changed", MOVE, why,
					     sizeof why),
				 APPLY_UNCHANGED);
		assert_string_equal(text(db, cases[i].check, now, sizeof now), first);
		static const char *const bad[] = {
			"{\"pin\":\"" PIN "\",\"permanent_address\":\"X\"}",
			"{\"pin\":\"" PIN "\",\"permanent_address\":\"X\",\"permanent_province\":\"999\"}",
			"{\"pin\":\"" PIN "\",\"permanent_address\":\"\",\"permanent_province\":\"001\"}",
			"{\"pin\":\"12\",\"permanent_address\":\"X\",\"permanent_province\":\"001\"}",
		};
		for (size_t b = 0; b < sizeof bad / sizeof *bad; b++) {
			char id[8];
			snprintf(id, sizeof id, "b%zu", b);
			assert_int_equal(apply_event(db, def, id, "residence-changed", bad[b], why,
						     sizeof why),
					 APPLY_INVALID);
		}
		assert_string_equal(text(db, cases[i].check, now, sizeof now), first);
		sqlite3_close(db);
	}
	/* Population publishes the change; it applies none. */
	assert_int_equal(apply_event(NULL, sector_find("population"), "x", "residence-changed",
				     MOVE, why, sizeof why),
			 APPLY_IGNORED);
}

/* A birth at population: the child's record with a new valid number in the
 * mother's household, citizen-registered in the outbox of the same
 * transaction; the same birth under the same or another event id adds
 * nothing; a bad payload, or one naming no known parent, changes nothing.
 * Then insurance: citizen-registered of a child gives a health card once,
 * an adult none. */
#define MOTHER "079190000123"
static const char BIRTH[] = "{\"child_name\":\"Lê Bảo An\",\"birth_date\":\"2026-11-30\","
			    "\"sex\":\"female\",\"province\":\"079\",\"mother_pin\":\"" MOTHER
			    "\",\"registered_on\":\"2026-12-01\",\"birth_id\":42}";

static void applies_each_birth_once(void **state)
{
	const struct sector_def *pop = sector_find("population");
	const struct sector_def *ins = sector_find("insurance");
	sqlite3 *db = open_sector("population");
	char why[256], pin[32], buf[1024], card[256];
	struct ndx_pin_info info;
	int published = -1;

	(void)state;
	assert_true(apply_sector_subscribes(pop));
	insert(db, "INSERT INTO citizens(pin, full_name, name_folded, birth_date, sex,"
		   " birth_province, permanent_address, permanent_province, household_id,"
		   " relation, updated_at) VALUES('" MOTHER "', 'Lê Thị Hoa', 'le thi hoa',"
		   " '1990-03-04', 'female', '079', 'Số 1 Lê Lợi', '079', 'H07900000001', 'spouse',"
		   " 'old')");
	/* No parent known: nothing applied, nothing published. */
	assert_int_equal(apply_event_as(db, pop, "VN/GOV/BCA/population", "b0", "birth-registered",
					"{\"child_name\":\"X\",\"birth_date\":\"2026-11-30\","
					"\"sex\":\"male\",\"province\":\"079\",\"mother_pin\":"
					"\"001190000009\",\"registered_on\":\"2026-12-01\"}",
					&published, why, sizeof why),
			 APPLY_INVALID);
	assert_int_equal(scalar(db, "SELECT count(*) FROM citizens"), 1);
	assert_int_equal(apply_event_as(db, pop, "VN/GOV/BCA/population", "b1", "birth-registered",
					BIRTH, &published, why, sizeof why),
			 APPLY_CHANGED);
	assert_int_equal(published, 1);
	text(db, "SELECT pin FROM citizens WHERE pin <> '" MOTHER "'", pin, sizeof pin);
	assert_int_equal(ndx_pin_parse(pin, 0, &info, NULL), NDX_OK);
	assert_string_equal(info.province, "079");
	assert_int_equal(info.female, 1);
	assert_int_equal(info.birth_year, 2026);
	assert_string_equal(text(db, "SELECT full_name || '/' || household_id || '/' || relation"
				     " || '/' || permanent_address || '/' || name_folded FROM"
				     " citizens WHERE pin <> '" MOTHER "'", buf, sizeof buf),
			    "Lê Bảo An/H07900000001/child/Số 1 Lê Lợi/le bao an");
	assert_string_equal(text(db, "SELECT name || ' ' || service FROM event_outbox", buf,
				 sizeof buf),
			    "citizen-registered VN/GOV/BCA/population/citizens");
	assert_string_equal(text(db, "SELECT subject FROM event_outbox", buf, sizeof buf), pin);
	/* The same event again, and the same birth under another id. */
	assert_int_equal(apply_event(db, pop, "b1", "birth-registered", BIRTH, why, sizeof why),
			 APPLY_SEEN);
	assert_int_equal(apply_event_as(db, pop, NULL, "b2", "birth-registered", BIRTH, &published,
					why, sizeof why),
			 APPLY_UNCHANGED);
	assert_int_equal(published, 0);
	assert_int_equal(scalar(db, "SELECT count(*) FROM citizens"), 2);
	assert_int_equal(scalar(db, "SELECT count(*) FROM event_outbox"), 1);
	static const char *const bad[] = {
		"{\"child_name\":\"X\",\"birth_date\":\"2026-11-30\",\"sex\":\"other\","
		"\"province\":\"079\",\"mother_pin\":\"" MOTHER "\"}",
		"{\"child_name\":\"X\",\"birth_date\":\"2026-11-30\",\"sex\":\"male\","
		"\"province\":\"999\",\"mother_pin\":\"" MOTHER "\"}",
		"{\"child_name\":\"X\",\"birth_date\":\"2026-13-30\",\"sex\":\"male\","
		"\"province\":\"079\",\"mother_pin\":\"" MOTHER "\"}",
		"{\"birth_date\":\"2026-11-30\",\"sex\":\"male\",\"province\":\"079\","
		"\"mother_pin\":\"" MOTHER "\"}",
	};
	for (size_t b = 0; b < sizeof bad / sizeof *bad; b++) {
		char id[8];
		snprintf(id, sizeof id, "x%zu", b);
		assert_int_equal(apply_event(db, pop, id, "birth-registered", bad[b], why, sizeof why),
				 APPLY_INVALID);
	}
	assert_int_equal(scalar(db, "SELECT count(*) FROM citizens"), 2);
	text(db, "SELECT payload FROM event_outbox", buf, sizeof buf);
	sqlite3_close(db);

	/* Insurance: the child's card, from the event population published. */
	db = open_sector("insurance");
	assert_int_equal(apply_event(db, ins, "c1", "citizen-registered", buf, why, sizeof why),
			 APPLY_CHANGED);
	snprintf(card, sizeof card, "SELECT status || '/' || first_period || '/' || name ||"
				    " '/' || address FROM participants WHERE pin = '%s'", pin);
	assert_string_equal(text(db, card, why, sizeof why),
			    "health-card/2026-11/Lê Bảo An/Số 1 Lê Lợi");
	assert_int_equal(apply_event(db, ins, "c1", "citizen-registered", buf, why, sizeof why),
			 APPLY_SEEN);
	assert_int_equal(apply_event(db, ins, "c2", "citizen-registered", buf, why, sizeof why),
			 APPLY_UNCHANGED);
	/* An adult newly registered gets no child's card. */
	assert_int_equal(apply_event(db, ins, "c3", "citizen-registered",
				     "{\"pin\":\"" MOTHER "\",\"full_name\":\"Lê Thị Hoa\","
				     "\"birth_date\":\"1990-03-04\",\"sex\":\"female\","
				     "\"birth_province\":\"079\"}",
				     why, sizeof why),
			 APPLY_UNCHANGED);
	assert_int_equal(scalar(db, "SELECT count(*) FROM participants"), 1);
	sqlite3_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(writes_publish_what_the_rules_say),
		cmocka_unit_test(drains_in_order_and_deletes_only_after_success),
		cmocka_unit_test(an_event_keeps_its_id_across_attempts_and_versions),
		cmocka_unit_test(a_rolled_back_write_leaves_no_event),
		cmocka_unit_test(a_write_queues_its_events_through_outbox_put),
		cmocka_unit_test(applies_each_death_once),
		cmocka_unit_test(applies_each_residence_change_once),
		cmocka_unit_test(applies_each_birth_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
