#!/usr/bin/env python3
"""tools/meta_check.py: META.json against the PGXN Meta Spec 1.0.0
(https://pgxn.org/meta/spec.txt) and against the tree it describes.

    python3 tools/meta_check.py [ROOT]

Prints one "ok - ..." or "not ok - ..." line per check and exits 1 when
one failed.  Checked: the required keys and their types, a semantic
version everywhere one is required, a license the spec knows, every
provided extension's file present, the version that of agentphone.control
(1.5 there is 1.5.0 here), and every upgrade script in the Makefile."""

import json
import os
import re
import sys

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+)?$")
LICENSES = {"agpl_3", "apache_1_1", "apache_2_0", "artistic_1", "artistic_2", "bsd",
            "freebsd", "gfdl_1_2", "gfdl_1_3", "gpl_1", "gpl_2", "gpl_3", "lgpl_2_1",
            "lgpl_3_0", "mit", "mozilla_1_0", "mozilla_1_1", "openssl", "perl_5",
            "postgresql", "qpl_1_0", "ssleay", "sun", "zlib", "open_source",
            "restricted", "unrestricted", "unknown"}
PHASES = {"configure", "build", "test", "runtime", "develop"}
RELATIONS = {"requires", "recommends", "suggests", "conflicts"}
failed = 0


def check(ok, what):
    global failed
    print(("ok - " if ok else "not ok - ") + what)
    failed += 0 if ok else 1


def text(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


meta = json.loads(text("META.json"))
for key in ("name", "abstract", "version", "maintainer", "license", "provides", "meta-spec"):
    check(key in meta, "required key %s" % key)
check(isinstance(meta.get("name"), str) and re.match(r"^[A-Za-z][A-Za-z0-9_-]*$", meta["name"]) is not None,
      "name is a valid distribution name")
check(isinstance(meta.get("abstract"), str) and 0 < len(meta["abstract"]) <= 200, "abstract is a short string")
check(SEMVER.match(str(meta.get("version", ""))) is not None, "version is a semantic version")
m = meta.get("maintainer")
check((isinstance(m, str) and m) or (isinstance(m, list) and m and all(isinstance(x, str) and x for x in m)),
      "maintainer is a string or a list of strings")
lic = meta.get("license")
names = [lic] if isinstance(lic, str) else list(lic) if isinstance(lic, (list, dict)) else []
check(bool(names) and all(isinstance(n, str) and (n in LICENSES or isinstance(lic, dict)) for n in names),
      "license is one the spec knows")
spec = meta.get("meta-spec", {})
check(spec.get("version") == "1.0.0" and spec.get("url") == "https://pgxn.org/meta/spec.txt", "meta-spec is 1.0.0")
provides = meta.get("provides", {})
check(isinstance(provides, dict) and provides, "provides names at least one extension")
for ext, p in provides.items():
    check(isinstance(p.get("file"), str) and os.path.isfile(os.path.join(ROOT, p["file"])),
          "provides.%s.file exists" % ext)
    check(SEMVER.match(str(p.get("version", ""))) is not None, "provides.%s.version is a semantic version" % ext)
    if "docfile" in p:
        check(os.path.isfile(os.path.join(ROOT, p["docfile"])), "provides.%s.docfile exists" % ext)
for phase, rels in meta.get("prereqs", {}).items():
    check(phase in PHASES and isinstance(rels, dict) and set(rels) <= RELATIONS,
          "prereqs.%s is a phase of known relations" % phase)
    for rel, deps in rels.items():
        check(all(isinstance(v, str) and (v == "0" or SEMVER.match(v)) for v in deps.values()),
              "prereqs.%s.%s versions are semantic versions" % (phase, rel))
build = meta.get("prereqs", {}).get("build", {}).get("requires", {})
check({"libcurl", "cJSON", "libphonenumber"} <= set(build), "the build prereqs name libcurl, cJSON and libphonenumber")

control = re.search(r"default_version\s*=\s*'([^']+)'", text("agentphone.control")).group(1)
check(meta.get("version") == control + ".0" and provides.get("agentphone", {}).get("version") == control + ".0",
      "META.json's version is agentphone.control's (%s)" % control)
data = re.search(r"^DATA\s*=(.*)$", text("Makefile"), re.M).group(1).split()
check("sql/agentphone--1.0.sql" in data and any(d.endswith("--%s.sql" % control) for d in data),
      "the Makefile installs the scripts up to %s" % control)
sys.exit(1 if failed else 0)
