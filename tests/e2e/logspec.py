"""An implementation of the message log's encodings written from docs/protocol.md
"Message log" and "Witnessed tree heads" alone, apart from the C code, for the tests
that recompute record hashes, batch roots, tree heads and countersignatures from the
outside (test_msglog_cli.py, test_witness.py)."""

import hashlib


def field(b):
    return len(b).to_bytes(8, "big") + b


def u64(v):
    return field((v % (1 << 64)).to_bytes(8, "big"))


# The record table of docs/protocol.md "Records", field by field.
RECORD_TEXT_FIELDS = ("message_id", "client", "service", "method", "path", "subject",
                      "subjects", "purpose", "user_id", "issue", "represented_party",
                      "authenticated")


def record_hash(r):
    parts = [field(b"ndx-log-record-v3"),                 # 1 label
             u64(r["seq"]), u64(r["time_ms"]),            # 2 seq, 3 time
             field(r["direction"].encode())]              # 4 direction
    parts += [field(r[k].encode()) for k in RECORD_TEXT_FIELDS]  # 5..16
    parts += [field(r["request_hash"] or b""), field(r["response_hash"] or b""),  # 17, 18
              u64(r["status"]), u64(r["duration_ms"]),    # 19, 20
              field(r["request_sig"].encode()),           # 21
              field(r["response_sig"].encode()),          # 22
              field(r["prev_hash"])]                      # 23
    return hashlib.sha256(b"".join(parts)).digest()


def merkle_root(leaves):
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + merkle_root(leaves[:k]) + merkle_root(leaves[k:])).digest()


def sth_message(b):
    return (field(b"ndx-log-sth-v1") + u64(b["batch"]) + u64(b["first_seq"]) + u64(b["size"])
            + field(b["root"]) + u64(b["time_ms"]) + field(b["prev_sth_hash"]))


def sth_hash(b):
    return hashlib.sha256(sth_message(b) + field(b["signature"])).digest()


def witness_message(gateway, batch, h, time_ms):
    return (field(b"ndx-witness-v1") + field(gateway.encode()) + u64(batch) + field(h)
            + u64(time_ms))
