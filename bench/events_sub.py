#!/usr/bin/python3
"""The subscriber system of bench/run's events step (started by bench/run, pinned with
the load generator; not meant to be run by hand).

Pulls GET /e1/inbox?after=SEQ&limit=500&unacked=1 from the subscriber's gateway in a
loop (one connection, kept alive; a pull that finds nothing waits --idle-ms before the
next) and acknowledges every event it pulls, POST /e1/inbox/{id}/ack, on --workers
connections of their own (an ack is a durable write on the gateway: one connection would
wait for one commit per event). For each event of this run (payload trace.run == --run)
it records the time from trace.t_us, the CLOCK_MONOTONIC microseconds at which wrk began
to write the publish (bench/events.lua), to the end of the pull that brought it and to
the end of its acknowledgement; events of other runs are acknowledged and counted apart.

Protocol with bench/run: prints "ready" once the first pull has answered; then reads one
line "expect N END_US TAIL_S" on stdin (N publishes answered 201, wrk's end, the longest
wait for the tail), goes on until it has acknowledged N events of the run and nothing new
came for --quiet-ms, or TAIL_S after END_US, and prints one line of JSON."""

import argparse
import http.client
import json
import queue
import sys
import threading
import time


def now_us():
    return time.monotonic_ns() // 1000


def pct(xs, p):
    """Nearest-rank percentile of the sorted list xs, in ms."""
    if not xs:
        return None
    k = max(0, min(len(xs) - 1, int(round(p / 100 * len(xs) + 0.5)) - 1))
    return round(xs[k] / 1000, 3)


def dist(xs):
    xs = sorted(xs)
    return {"p50": pct(xs, 50), "p90": pct(xs, 90), "p99": pct(xs, 99),
            "max": round(xs[-1] / 1000, 3) if xs else None}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--client", required=True)
    ap.add_argument("--run", required=True)
    ap.add_argument("--workers", type=int, default=16)
    ap.add_argument("--idle-ms", type=float, default=2.0)
    ap.add_argument("--quiet-ms", type=float, default=500.0)
    args = ap.parse_args()
    hdr = {"X-Road-Client": args.client}

    lock = threading.Lock()
    acked = {}            # trace.n -> (t0, t_pull, t_ack) of this run
    ids = set()           # event ids pulled (a repeat is a duplicate delivery)
    st = {"duplicates": 0, "other_runs": 0, "pulls": 0, "empty_pulls": 0, "pulled": 0,
          "ack_errors": {}, "pull_errors": {}, "untraced": 0}
    q = queue.Queue()

    def conn():
        return http.client.HTTPConnection("127.0.0.1", args.port, timeout=15)

    def count(where, what):
        with lock:
            st[where][what] = st[where].get(what, 0) + 1

    def worker():
        c = conn()
        while True:
            item = q.get()
            if item is None:
                c.close()
                return
            eid, run, n, t0, t_pull = item
            try:
                c.request("POST", f"/e1/inbox/{eid}/ack", body=b"", headers=hdr)
                r = c.getresponse()
                body = r.read()
                status = r.status
            except (OSError, http.client.HTTPException) as e:
                status, body = type(e).__name__, b""
                c.close()
                c = conn()
            t = now_us()
            if status != 200:
                count("ack_errors", f"{status} {body[:120].decode(errors='replace')}")
                continue
            if run == args.run:
                with lock:
                    acked[n] = (t0, t_pull, t)
            else:
                with lock:
                    st["other_runs"] += 1

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(args.workers)]
    for t in threads:
        t.start()

    expect = {}

    def read_stdin():
        line = sys.stdin.readline().split()
        if len(line) == 4 and line[0] == "expect":
            expect["n"], expect["end_us"], expect["tail_s"] = (int(line[1]), int(line[2]),
                                                               float(line[3]))
        else:
            expect["n"], expect["end_us"], expect["tail_s"] = 0, now_us(), 0.0
        expect["set"] = True

    threading.Thread(target=read_stdin, daemon=True).start()

    c = conn()
    after = 0
    last_new = now_us()
    timed_out = False
    ready = False
    while True:
        try:
            c.request("GET", f"/e1/inbox?after={after}&limit=500&unacked=1", headers=hdr)
            r = c.getresponse()
            body = r.read()
            status = r.status
        except (OSError, http.client.HTTPException) as e:
            status, body = type(e).__name__, b""
            c.close()
            c = conn()
        t_pull = now_us()
        st["pulls"] += 1
        events = []
        if status == 200:
            d = json.loads(body)
            events = d.get("events") or []
            if d.get("next") is not None:
                after = max(after, int(d["next"]))
        else:
            count("pull_errors", f"{status} {body[:120].decode(errors='replace')}")
        if not ready:
            print("ready", flush=True)
            ready = True
        for e in events:
            st["pulled"] += 1
            if e["id"] in ids:
                st["duplicates"] += 1
                continue
            ids.add(e["id"])
            tr = (e.get("payload") or {}).get("trace") if isinstance(e.get("payload"),
                                                                       dict) else None
            if not tr:
                st["untraced"] += 1
                q.put((e["id"], None, 0, 0, t_pull))
                continue
            q.put((e["id"], tr.get("run"), tr.get("n"), tr.get("t_us"), t_pull))
        if events:
            last_new = t_pull
        else:
            st["empty_pulls"] += 1
        if expect.get("set"):
            with lock:
                done = len(acked)
            if (done >= expect["n"] and q.empty() and now_us() - last_new > args.quiet_ms * 1000):
                break
            if now_us() > expect["end_us"] + expect["tail_s"] * 1e6:
                timed_out = True
                break
        if not events:
            time.sleep(args.idle_ms / 1000)
    left = q.qsize()
    for _ in threads:
        q.put(None)
    for t in threads:
        t.join(timeout=20)
    c.close()

    with lock:
        rows = list(acked.values())
    end_us = expect.get("end_us", now_us())
    t0s = [x[0] for x in rows]
    out = dict(st)
    out.update({
        "acked": len(rows), "timed_out": timed_out,
        "first_publish_us": min(t0s) if t0s else None,
        "last_publish_us": max(t0s) if t0s else None,
        "last_ack_us": max(x[2] for x in rows) if rows else None,
        "acked_by_publish_end": sum(1 for x in rows if x[2] <= end_us),
        "publish_to_pull_ms": dist([x[1] - x[0] for x in rows]),
        "publish_to_ack_ms": dist([x[2] - x[0] for x in rows]),
        "max_n": max(acked) if acked else 0,
        # wrk calls request() once on its first thread's script before the run to check
        # it (script_verify_request), a request never sent: numbers start at 2.
        "missing_below_max_n": len(set(range(2, max(acked) + 1)) - set(acked))
        if acked else 0,
        "missing_first": sorted(set(range(2, max(acked) + 1)) - set(acked))[:20]
        if acked else [],
        "acked_after_publish_end": sum(1 for x in rows if x[2] > end_us),
        "queued_unacked_at_stop": left,
    })
    import resource
    ru = resource.getrusage(resource.RUSAGE_SELF)
    out["cpu_s"] = round(ru.ru_utime + ru.ru_stime, 2)
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
