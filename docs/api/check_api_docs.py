#!/usr/bin/env python3
"""Checks that est's public API is documented, from Doxygen's XML output.

Public: every class, struct, union, concept and namespace of include/est, and every public
function, type alias, variable, enumeration, enumerator and macro in them, except those inside
a namespace named detail, cpu_detail or cuda_detail (implementation details) and the members
Doxygen does not list (private ones). Defaulted and deleted special members and friend
declarations need no text of their own.

Usage: check_api_docs.py XML_DIR [WARNINGS_LOG]
Prints each undocumented symbol as file:line: kind name, and each Doxygen warning from
WARNINGS_LOG (a broken reference or command in the docs); exits 1 when there is any.
"""

import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

DETAIL = re.compile(r"(^|::)(detail|cpu_detail|cuda_detail)(::|$)")
COMPOUND_KINDS = {"class", "struct", "union", "concept", "namespace"}
MEMBER_KINDS = {"function", "typedef", "variable", "enum", "define"}


def has_text(element):
    """True when a description element holds any words (Doxygen writes empty ones)."""
    if element is None:
        return False
    return bool("".join(element.itertext()).strip())


def documented(node):
    return any(has_text(node.find(tag))
               for tag in ("briefdescription", "detaileddescription", "inbodydescription"))


def location(node):
    loc = node.find("location")
    if loc is None:
        return "?"
    path = loc.get("file", "?")
    marker = "include/est/"
    if marker in path:
        path = "include/est/" + path.split(marker, 1)[1]
    return f"{path}:{loc.get('line', '?')}"


def in_est_headers(node):
    loc = node.find("location")
    return loc is not None and "include/est/" in loc.get("file", "")


def exempt_member(member):
    args = (member.findtext("argsstring") or "").replace(" ", "")
    if args.endswith("=default") or args.endswith("=delete"):
        return True
    if member.get("kind") == "friend":
        return True
    return False


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    xml_dir = Path(argv[1])
    index = ET.parse(xml_dir / "index.xml").getroot()
    missing = []
    seen = set()
    checked = 0
    for compound in index.findall("compound"):
        kind = compound.get("kind")
        if kind not in COMPOUND_KINDS | {"file"}:
            continue
        name = compound.findtext("name") or ""
        if DETAIL.search(name) or (kind == "namespace" and not name.startswith("est")):
            continue
        root = ET.parse(xml_dir / f"{compound.get('refid')}.xml").getroot()
        definition = root.find("compounddef")
        if kind in COMPOUND_KINDS and kind != "namespace" and not in_est_headers(definition):
            continue
        if kind == "file" and not in_est_headers(definition):
            continue
        if kind in COMPOUND_KINDS:
            checked += 1
            if not documented(definition):
                missing.append(f"{location(definition)}: {kind} {name}")
        for member in definition.iter("memberdef"):
            member_kind = member.get("kind")
            if member_kind not in MEMBER_KINDS and member_kind != "enum":
                continue
            # Namespace members appear in their file's compound too; macros only there.
            if kind == "file" and member_kind != "define":
                continue
            if member.get("prot") not in (None, "public"):
                continue
            if member.get("id") in seen or exempt_member(member) or not in_est_headers(member):
                continue
            seen.add(member.get("id"))
            qualified = f"{name}::{member.findtext('name')}" if kind != "file" else member.findtext("name")
            if DETAIL.search(qualified or ""):
                continue
            checked += 1
            if not documented(member):
                missing.append(f"{location(member)}: {member_kind} {qualified}"
                               f"{member.findtext('argsstring') or ''}")
            if member_kind == "enum":
                for value in member.findall("enumvalue"):
                    checked += 1
                    if not documented(value):
                        missing.append(f"{location(member)}: enumerator "
                                       f"{qualified}::{value.findtext('name')}")
    warnings = []
    if len(argv) > 2 and Path(argv[2]).exists():
        for line in Path(argv[2]).read_text(errors="replace").splitlines():
            # Undocumented members are reported above, with this script's own rules.
            if line.strip() and "is not documented" not in line:
                warnings.append(line)
    for line in sorted(set(missing)):
        print(f"undocumented: {line}")
    for line in warnings:
        print(f"doxygen: {line}")
    print(f"check_api_docs: {checked} public symbols, {len(set(missing))} undocumented, "
          f"{len(warnings)} Doxygen warnings")
    return 1 if missing or warnings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
