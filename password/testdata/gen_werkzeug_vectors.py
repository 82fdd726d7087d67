#!/usr/bin/python3
# Generates the legacy-hash test vectors that password/legacy_test.go verifies.
#
# The committed files were produced, from the root of the checkout, with:
#
#   /usr/bin/python3 password/testdata/gen_werkzeug_vectors.py \
#       /usr/bin/python3 /root/.pyenv/versions/3.11.7/bin/python3
#
# on Debian 12 (bookworm) with these packages:
#
#   werkzeug_vectors.json  werkzeug 2.2.2  (Debian python3-werkzeug 2.2.2-3+deb12u1,
#                                           DEFAULT_PBKDF2_ITERATIONS = 260000,
#                                           no scrypt support)
#                          werkzeug 3.1.8  (installed with pip in the machine image's
#                                           Python 3.11.7; DEFAULT_PBKDF2_ITERATIONS =
#                                           1_000_000, scrypt is the default method)
#   other_vectors.json     Django 3.2.25   (Debian python3-django 3:3.2.25-0+deb12u7)
#                          bcrypt 3.2.2    (Debian python3-bcrypt)
#                          argon2-cffi 21.1.0 (Debian python3-argon2)
#                          htpasswd        (Debian apache2-utils 2.4.71, writes $2y$)
#                          argon2 CLI      (Debian argon2 0~20171227, the reference code)
#
# Every interpreter named on the command line must have werkzeug importable; the
# script runs itself once under each (with --werkzeug-worker) and merges the
# results. Django, bcrypt and argon2 vectors come from the interpreter that runs
# the script (use /usr/bin/python3, where the Debian packages live).
#
# Every positive vector was checked with the library that made it
# (check_password_hash, django's check_password, bcrypt.checkpw,
# argon2.PasswordHasher.verify) before it is written; negative vectors record
# what that library said for a wrong password.
#
# Werkzeug's generate_password_hash always writes the expanded method
# ("pbkdf2:sha256:1000000"), so the short forms ("pbkdf2", "pbkdf2:sha512",
# "scrypt") are built from werkzeug 3.x's own _hash_internal and then checked
# with its check_password_hash. Werkzeug 2.2 reads the one-argument form
# "pbkdf2:sha256" with 260000 iterations and 3.x with 1000000; hallpass follows
# 3.x, so short forms are only generated with 3.x.

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

PASSWORDS = [
    "correct horse battery staple",
    "",
    "pässwörd",  # Latin-1 range letters
    "p\u0061\u0308sswort",  # decomposed a + combining diaeresis (NFD)
    "日本語のパスワード",
    "emoji 🔐 key",
    "dollar$ colon: percent% quote\" backslash\\",
    "x" * 100,
]
WRONG = "correct horse battery stapler"


def werkzeug_worker():
    import importlib.metadata

    import werkzeug.security as ws

    version = importlib.metadata.version("werkzeug")
    major = int(version.split(".")[0])
    source = f"werkzeug {version}"
    out = []

    def add(pw, h, note, want=True):
        got = ws.check_password_hash(h, pw)
        if got != want:
            raise SystemExit(f"{source}: check_password_hash({h!r}, {pw!r}) = {got}, want {want}")
        out.append({"source": source, "note": note, "password": pw, "hash": h, "want": want})

    def add_pair(pw, h, note):
        add(pw, h, note)
        add(WRONG if pw != WRONG else pw + "!", h, note + ", wrong password", want=False)

    methods = ["pbkdf2:sha256:1", "pbkdf2:sha256:1000", "pbkdf2:sha512:1000", "pbkdf2:sha1:1000"]
    if major >= 3:
        methods += ["scrypt:1024:8:1", "scrypt:16:2:3"]
    for method in methods:
        for pw in PASSWORDS:
            add_pair(pw, ws.generate_password_hash(pw, method=method), f"generate_password_hash method={method}")

    # Other iteration counts and salt lengths.
    add_pair("hunter2", ws.generate_password_hash("hunter2", "pbkdf2:sha256:4096", salt_length=8), "pbkdf2:sha256:4096, 8-char salt")
    add_pair("hunter2", ws.generate_password_hash("hunter2", "pbkdf2:sha512:2", salt_length=32), "pbkdf2:sha512:2, 32-char salt")

    # The library defaults, once each (slow: skipped by go test -short).
    add_pair("default method", ws.generate_password_hash("default method"), f"generate_password_hash default method (slow)")
    add_pair("default pbkdf2", ws.generate_password_hash("default pbkdf2", "pbkdf2:sha256"), "pbkdf2:sha256 with default iterations (slow)")

    # A salt is used as its literal UTF-8 bytes, whatever characters it holds.
    for salt in ["sälz:ü", "a", "0123456789abcdef0123456789abcdef0123456789"]:
        h, method = ws._hash_internal("pbkdf2:sha256:1000", salt, "salty")
        add_pair("salty", f"{method}${salt}${h}", f"_hash_internal pbkdf2:sha256:1000 salt={salt!r}")

    if major >= 3:
        # Short forms, as werkzeug 3.x reads them.
        for method in ["pbkdf2", "pbkdf2:sha512", "scrypt"]:
            salt = ws.gen_salt(16)
            h, _ = ws._hash_internal(method, salt, "short form")
            add_pair("short form", f"{method}${salt}${h}", f"short form {method!r} (slow)")
        h, method = ws._hash_internal("scrypt:1024:1:1", "sälz", "salty")
        add_pair("salty", f"{method}$sälz${h}", "_hash_internal scrypt:1024:1:1 salt='sälz'")

        # Parameters werkzeug refuses (hashlib.scrypt raises ValueError: N too
        # large for r, memory above maxmem = 132*N*r*p, maxmem above INT_MAX).
        for method in ["scrypt:2:1:1", "scrypt:65536:1:1", "scrypt:1048576:8:2", "scrypt:3:8:1"]:
            h = f"{method}$saltsalt${'00' * 64}"
            try:
                ws.check_password_hash(h, "x")
            except ValueError as e:
                out.append({"source": source, "note": f"werkzeug raises ValueError: {e}", "password": "x", "hash": h, "want": False, "error": "malformed"})
            else:
                raise SystemExit(f"{source}: check_password_hash({h!r}) did not raise")

    json.dump({"version": version, "default_pbkdf2_iterations": ws.DEFAULT_PBKDF2_ITERATIONS, "vectors": out}, sys.stdout)


def werkzeug_vectors(interpreters):
    runs = []
    for exe in interpreters:
        res = subprocess.run([exe, os.path.abspath(__file__), "--werkzeug-worker"], check=True, capture_output=True, text=True)
        runs.append(json.loads(res.stdout))
    return {
        "generator": "password/testdata/gen_werkzeug_vectors.py",
        "werkzeug": [{"version": r["version"], "default_pbkdf2_iterations": r["default_pbkdf2_iterations"]} for r in runs],
        "vectors": [v for r in runs for v in r["vectors"]],
    }


def other_vectors():
    import base64
    import hashlib

    import argon2
    import bcrypt
    import django
    from django.conf import settings

    settings.configure(PASSWORD_HASHERS=[
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
        "django.contrib.auth.hashers.BCryptPasswordHasher",
    ])
    django.setup()
    from django.contrib.auth import hashers

    out = []

    def add(source, pw, h, note, check, want=True, error=""):
        if not error:
            got = check(pw, h)
            if got != want:
                raise SystemExit(f"{source}: check({h!r}, {pw!r}) = {got}, want {want}")
        v = {"source": source, "note": note, "password": pw, "hash": h, "want": want}
        if error:
            v["error"] = error
        out.append(v)

    def add_pair(source, pw, h, note, check):
        add(source, pw, h, note, check)
        add(source, WRONG, h, note + ", wrong password", check, want=False)

    # Django.
    dj = f"django {django.get_version()}"

    def dj_check(pw, h):
        return hashers.check_password(pw, h)

    class FastBCryptSHA256(hashers.BCryptSHA256PasswordHasher):
        rounds = 4

    class FastBCrypt(hashers.BCryptPasswordHasher):
        rounds = 4

    class SmallArgon2(hashers.Argon2PasswordHasher):
        time_cost = 1
        memory_cost = 64
        parallelism = 2

    for pw in PASSWORDS:
        for iterations in (1, 1000):
            salt = hashers.PBKDF2PasswordHasher().salt()
            add_pair(dj, pw, hashers.PBKDF2PasswordHasher().encode(pw, salt, iterations), f"PBKDF2PasswordHasher iterations={iterations}", dj_check)
        add_pair(dj, pw, hashers.PBKDF2SHA1PasswordHasher().encode(pw, hashers.PBKDF2SHA1PasswordHasher().salt(), 1000), "PBKDF2SHA1PasswordHasher iterations=1000", dj_check)
        add_pair(dj, pw, FastBCryptSHA256().encode(pw, FastBCryptSHA256().salt()), "BCryptSHA256PasswordHasher rounds=4", dj_check)
        add_pair(dj, pw, SmallArgon2().encode(pw, SmallArgon2().salt()), "Argon2PasswordHasher t=1 m=64 p=2", dj_check)
    add_pair(dj, "default django", hashers.make_password("default django"), "make_password default PBKDF2PasswordHasher (slow)", dj_check)
    add_pair(dj, "default django", hashers.make_password("default django", hasher="argon2"), "make_password default Argon2PasswordHasher (slow)", dj_check)
    add_pair(dj, "plain bcrypt", FastBCrypt().encode("plain bcrypt", FastBCrypt().salt()), "BCryptPasswordHasher rounds=4", dj_check)
    # Django's format computed with hashlib, with a salt that is not base64.
    raw = hashlib.pbkdf2_hmac("sha256", "salty".encode(), "sälz+/=".encode(), 1000)
    add_pair(dj, "salty", "pbkdf2_sha256$1000$sälz+/=$" + base64.b64encode(raw).decode(), "pbkdf2_sha256 computed with hashlib, literal salt", dj_check)

    # bcrypt.
    bc = f"python3-bcrypt {bcrypt.__version__}"

    def bc_check(pw, h):
        return bcrypt.checkpw(pw.encode(), h.encode())

    for prefix in (b"2a", b"2b"):
        for pw in PASSWORDS:
            h = bcrypt.hashpw(pw.encode(), bcrypt.gensalt(rounds=4, prefix=prefix)).decode()
            if len(pw.encode()) > 72:
                assert bc_check(pw[:72], h), "bcrypt no longer truncates"
                add(bc, pw, h, f"hashpw ${prefix.decode()}$ cost 4, {len(pw.encode())}-byte password: checkpw truncates to 72 bytes, hallpass refuses", bc_check, want=False, error="too_long")
                continue
            add_pair(bc, pw, h, f"hashpw ${prefix.decode()}$ cost 4", bc_check)
    h = bcrypt.hashpw(b"cost five", bcrypt.gensalt(rounds=5)).decode()
    add_pair(bc, "cost five", h, "hashpw $2b$ cost 5", bc_check)
    # 72 bytes is the most bcrypt reads; longer passwords must be refused, not truncated.
    p72 = "a" * 72
    h = bcrypt.hashpw(p72.encode(), bcrypt.gensalt(rounds=4)).decode()
    add_pair(bc, p72, h, "hashpw 72-byte password", bc_check)
    add(bc, p72 + "b", h, "73-byte password: bcrypt.checkpw says true (truncation), hallpass refuses", bc_check, want=False, error="too_long")
    add(bc, "ü" * 37, bcrypt.hashpw(("ü" * 36).encode(), bcrypt.gensalt(rounds=4)).decode(), "74-byte password of 37 code points", bc_check, want=False, error="too_long")

    ht = "htpasswd (apache2-utils)"
    for pw in ["correct horse battery staple", "pässwörd", "emoji 🔐 key", ""]:
        res = subprocess.run(["htpasswd", "-nbB", "-C", "4", "user", pw], check=True, capture_output=True)
        h = res.stdout.decode().strip().split(":", 1)[1]
        assert h.startswith("$2y$"), h
        add_pair(ht, pw, h, "htpasswd -nbB -C 4 ($2y$)", bc_check)

    # Argon2.
    a2 = f"argon2-cffi {argon2.__version__}"

    def a2_check(pw, h):
        try:
            return argon2.PasswordHasher().verify(h, pw)
        except argon2.exceptions.VerifyMismatchError:
            return False

    for typ, name in ((argon2.Type.ID, "argon2id"), (argon2.Type.I, "argon2i")):
        for t, m, p, hl, sl in ((1, 64, 1, 32, 16), (2, 256, 2, 16, 8), (3, 1024, 4, 64, 32), (2, 19456, 1, 32, 16)):
            ph = argon2.PasswordHasher(time_cost=t, memory_cost=m, parallelism=p, hash_len=hl, salt_len=sl, type=typ)
            for pw in PASSWORDS[:6] if m < 1024 else PASSWORDS[:1]:
                add_pair(a2, pw, ph.hash(pw), f"{name} t={t} m={m} p={p} hash_len={hl} salt_len={sl}", a2_check)
    add_pair(a2, "defaults", argon2.PasswordHasher().hash("defaults"), "PasswordHasher() defaults (slow)", a2_check)

    cli = "argon2 CLI (reference implementation)"
    for flag, t, m, p, pw in (("-id", 2, 10, 1, "cli password"), ("-i", 1, 8, 2, "cli password"), ("-id", 3, 12, 4, "пароль")):
        res = subprocess.run(["argon2", "somesaltsomesalt", flag, "-t", str(t), "-m", str(m), "-p", str(p), "-l", "32", "-e"],
                             input=pw.encode(), check=True, capture_output=True)
        add_pair(cli, pw, res.stdout.decode().strip(), f"argon2 somesaltsomesalt {flag} -t {t} -m {m} -p {p} -l 32 -e", a2_check)

    return {"generator": "password/testdata/gen_werkzeug_vectors.py", "vectors": out}


def write(name, data):
    with open(os.path.join(HERE, name), "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, ensure_ascii=False)
        f.write("\n")


def main():
    if sys.argv[1:] == ["--werkzeug-worker"]:
        werkzeug_worker()
        return
    if len(sys.argv) < 2:
        raise SystemExit(f"usage: {sys.argv[0]} PYTHON_WITH_WERKZEUG...")
    write("werkzeug_vectors.json", werkzeug_vectors(sys.argv[1:]))
    write("other_vectors.json", other_vectors())


if __name__ == "__main__":
    main()
