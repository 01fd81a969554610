"""The federation of test_gateway_console.py (a registry, three gateways, BCA's with
its web console, a test e-ID) for the browser test tests/browser/gateway-console.test.mjs,
which runs this script with NDX_BUILD_DIR set. Once everything is up it prints one JSON
line: {"console": URL, "officials": {"administrator": [subject, name], "auditor": [...]},
"citizen": [subject, name]}. Then it reads commands on stdin, one a line, and answers
"ok" (or "error: ...") on stdout:

    user SUBJECT NAME   the test e-ID signs the next login in as this person
    revoke BHXH         the registry revokes BHXH's TLS certificate; waits until BCA's
                        gateway holds the configuration that says so

End of input stops every process (a non-zero exit when one of them failed)."""

import json
import os
import sys
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import test_gateway_console as t  # noqa: E402
from federation import running_federation  # noqa: E402
from test_portal import FakeEid  # noqa: E402


def serve(f):
    print(json.dumps({"console": f.gateways["BCA"].console_url + "/console/",
                      "officials": {"administrator": t.ADMIN, "auditor": t.AUDITOR},
                      "citizen": t.CITIZEN}, ensure_ascii=False), flush=True)
    for line in sys.stdin:
        cmd, _, rest = line.strip().partition(" ")
        try:
            if cmd == "user":
                subject, _, name = rest.partition(" ")
                t.EID.user, t.EID.mode = (subject, name), "good"
            elif cmd == "revoke":
                fp = f.idents[rest].tls_fingerprint()
                r = f.registry.api("POST", "/api/revocations",
                                   json={"kind": "certificate", "value": fp})
                assert r.status_code == 201, r.text
                f.wait_conf(f.gateways["BCA"], f.registry.conf_version())
            else:
                raise ValueError(f"unknown command {cmd!r}")
            print("ok", flush=True)
        except Exception as e:  # noqa: BLE001 - said to the test, which fails on it
            print(f"error: {e}", flush=True)
            traceback.print_exc()


def main():
    build_dir = Path(os.environ["NDX_BUILD_DIR"]).resolve()
    t.EID = FakeEid()
    try:
        with running_federation(build_dir, "ndx-gwconsole-browser-",
                                gateway_class=t.ConsoleGateway) as f:
            serve(f)
    finally:
        t.EID.stop()


if __name__ == "__main__":
    main()
