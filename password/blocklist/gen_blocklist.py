#!/usr/bin/python3
# Builds common.txt.gz, the list of common passwords that password.Policy
# rejects by default. See README.md for the sources and their licenses.
#
# common.txt.gz was produced, from the root of the checkout, on Debian 12 with
# john-data 1.9.0-2 and python3-zxcvbn 4.4.28-3 installed, by:
#
#   /usr/bin/python3 password/blocklist/gen_blocklist.py
#
# Output: one lowercased password per line, deduplicated, sorted by byte
# value, gzip-compressed with no file name or time stamp (reproducible).

import gzip
import os

from zxcvbn.frequency_lists import FREQUENCY_LISTS

OPENWALL = "/usr/share/john/password.lst"
ZXCVBN_TOP = 30000  # the whole list

words = set()

openwall = 0
with open(OPENWALL, encoding="ascii") as f:
    for line in f:
        line = line.rstrip("\r\n")
        if line.startswith("#!comment:") or not line:
            continue
        openwall += 1
        words.add(line.lower())

zx = FREQUENCY_LISTS["passwords"][:ZXCVBN_TOP]
words.update(w.lower() for w in zx if w)

data = "".join(w + "\n" for w in sorted(words)).encode("utf-8")
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "common.txt.gz")
with open(out, "wb") as f:
    # mtime=0 and no file name keep the output byte-for-byte reproducible.
    with gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=f, mtime=0) as gz:
        gz.write(data)
print(f"openwall entries {openwall}, zxcvbn entries {len(zx)}, unique lowercased {len(words)}, gzip {os.path.getsize(out)} bytes")
