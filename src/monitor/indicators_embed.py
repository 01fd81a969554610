#!/usr/bin/env python3
"""Writes the indicator catalogue (indicators.json) as a C array, so that
ndx-monitor carries the one catalogue it was built with (docs/indicators.md).
The JSON is checked to parse here, so that a broken catalogue fails the build.
usage: indicators_embed.py IN.json OUT.c"""
import json
import sys

src, out = sys.argv[1], sys.argv[2]
data = open(src, "rb").read()
json.loads(data.decode("utf-8"))
with open(out, "w", encoding="ascii") as f:
    f.write("/* Generated from src/monitor/indicators.json by indicators_embed.py. */\n")
    f.write("#include <stddef.h>\n\n")
    f.write("extern const unsigned char ind_catalogue_json[];\n")
    f.write("extern const size_t ind_catalogue_json_len;\n\n")
    f.write("const unsigned char ind_catalogue_json[] = {\n")
    for i in range(0, len(data), 16):
        f.write("\t" + ", ".join(str(b) for b in data[i:i + 16]) + ",\n")
    f.write("\t0\n};\n")
    f.write("const size_t ind_catalogue_json_len = %d;\n" % len(data))
