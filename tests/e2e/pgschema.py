"""What the PostgreSQL end-to-end tests of the gateway's stores share: the server the run
was given (NDX_TEST_PG, set by tests/with-postgres), psql, a connection string that puts
a schema first in the search_path, and a federation.Gateway mixin that keeps one of the
gateway's stores in a schema of its own."""

import json
import os
import subprocess

PG = os.environ.get("NDX_TEST_PG", "")
CLI_TIMEOUT = 30


def psql(conninfo, sql):
    res = subprocess.run(["psql", "-X", "-q", "-At", conninfo, "-c", sql], capture_output=True,
                         text=True, timeout=CLI_TIMEOUT)
    assert res.returncode == 0, f"psql {sql}: {res.stderr}"
    return res.stdout.strip()


def in_schema(schema):
    """PG's connection string with schema first in the search_path (docs/scale.md)."""
    sep = "&" if "?" in PG else "?"
    return f"{PG}{sep}options=-csearch_path%3D{schema}"


class StoreInSchema:
    """Mixin for a federation.Gateway: the store that store_config() puts in the
    gateway's config lives in the schema `{schema_prefix}_{member}_{code}` (or
    fixed_schema, a second node's: the first node's), made when the config is written."""

    schema_prefix = "gw"
    fixed_schema = None

    @property
    def schema(self):
        return self.fixed_schema or (f"{self.schema_prefix}_" +
                                     self.ident.member.replace("/", "_").lower() + "_" +
                                     self.code.lower())

    @property
    def db(self):
        return in_schema(self.schema)

    def store_config(self, cfg):
        raise NotImplementedError

    def write_config(self):
        super().write_config()
        psql(PG, f"CREATE SCHEMA IF NOT EXISTS {self.schema}")
        cfg = json.loads(self.config_path.read_text())
        self.store_config(cfg)
        self.config_path.write_text(json.dumps(cfg, indent=2, ensure_ascii=False))
