#!/usr/bin/env python3
"""Validates XML files against an XSD shipped in a PyPI package, with lxml.
Prints one JSON report; exits 1 when a file is invalid.

Usage: xsd_check.py PACKAGE RELATIVE_XSD FILE.xml [FILE.xml ...]
  e.g. xsd_check.py sepaxml schemas/pain.008.001.08.xsd file.xml
PACKAGE "-" takes RELATIVE_XSD as a path on this machine (the PES V2
schemas, which no package registry ships).
"""
import importlib
import json
import os
import sys

from lxml import etree


def main(package, relative, paths):
    if package == "-":
        xsd = relative
    else:
        module = importlib.import_module(package)
        xsd = os.path.join(os.path.dirname(module.__file__), relative)
    schema = etree.XMLSchema(etree.parse(xsd))
    report, failed = {}, False
    for path in paths:
        ok = schema.validate(etree.parse(path))
        report[os.path.basename(path)] = [] if ok else [str(e) for e in schema.error_log]
        failed |= not ok
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
