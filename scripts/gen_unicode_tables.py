#!/usr/bin/env python3
"""Writes include/est/data/unicode_tables.hpp: the Unicode character classes that GPT-2's
pre-tokenization pattern needs, as sorted tables of merged [first, last] code-point ranges.

GPT-2's pattern (OpenAI's encoder.py, run with the Python `regex` module) uses three classes:
  \\p{L}  General_Category L*  (Lu, Ll, Lt, Lm, Lo)          -> letter_ranges
  \\p{N}  General_Category N*  (Nd, Nl, No)                  -> number_ranges
  \\s     the White_Space property                          -> space_ranges
The `regex` module's \\s is exactly White_Space. It is *not* str.isspace(): that also accepts the
information separators U+001C..U+001F, which White_Space (and so \\s) does not. Python's
unicodedata has no White_Space property, so it is derived here as the categories Zs, Zl and Zp
plus the controls U+0009..U+000D and U+0085 (the definition in PropList.txt), and checked against
str.isspace() minus U+001C..U+001F.

The data come from the running interpreter's unicodedata module; the header records its Unicode
version. The committed header was made with Python 3.11 (Unicode 14.0.0).

Usage (from the repository root):  python3 scripts/gen_unicode_tables.py [OUT]
  OUT defaults to include/est/data/unicode_tables.hpp.
"""
import pathlib
import sys
import unicodedata

MAX_CODE_POINT = 0x10FFFF


def ranges(predicate):
    """Merged, sorted [first, last] ranges of the code points for which predicate holds."""
    out = []
    for cp in range(MAX_CODE_POINT + 1):
        if predicate(cp):
            if out and out[-1][1] == cp - 1:
                out[-1][1] = cp
            else:
                out.append([cp, cp])
    return out


def is_letter(cp):
    return unicodedata.category(chr(cp)).startswith("L")


def is_number(cp):
    return unicodedata.category(chr(cp)).startswith("N")


def is_white_space(cp):
    return unicodedata.category(chr(cp)) in ("Zs", "Zl", "Zp") or 0x09 <= cp <= 0x0D or cp == 0x85


def check_white_space():
    isspace = {cp for cp in range(MAX_CODE_POINT + 1) if chr(cp).isspace()}
    derived = {cp for cp in range(MAX_CODE_POINT + 1) if is_white_space(cp)}
    expected = isspace - set(range(0x1C, 0x20))
    if derived != expected:
        sys.exit(f"White_Space derivation disagrees with str.isspace(): {sorted(derived ^ expected)}")


def table(name, rs, comment):
    lines = [f"/// {comment} ({len(rs)} ranges).", f"inline constexpr CodePointRange {name}[] = {{"]
    row = "   "
    for first, last in rs:
        item = f" {{0x{first:X}, 0x{last:X}}},"
        if len(row) + len(item) > 100:
            lines.append(row)
            row = "   "
        row += item
    if row.strip():
        lines.append(row)
    lines.append("};")
    return "\n".join(lines)


def main():
    out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "include/est/data/unicode_tables.hpp")
    check_white_space()
    version = unicodedata.unidata_version
    py = ".".join(map(str, sys.version_info[:3]))
    letters, numbers, spaces = ranges(is_letter), ranges(is_number), ranges(is_white_space)
    text = f"""#pragma once
// The Unicode character classes of GPT-2's pre-tokenization pattern: letters (\\p{{L}}), numbers
// (\\p{{N}}) and white space (\\s), as sorted tables of merged [first, last] code-point ranges with
// a binary-search lookup.
//
// GENERATED FILE, do not edit: written by scripts/gen_unicode_tables.py from Python {py}'s
// unicodedata, Unicode {version}. Letters are General_Category L*, numbers N*, white space the
// White_Space property (which is what the Python `regex` module's \\s matches; unlike
// str.isspace() it excludes U+001C..U+001F).

#include <algorithm>
#include <span>
#include <string_view>

namespace est::unicode {{

/// The Unicode version the tables were generated from.
inline constexpr std::string_view tables_version = "{version}";

/// An inclusive range of code points.
struct CodePointRange {{
  char32_t first;  ///< lowest code point of the range
  char32_t last;   ///< highest code point of the range (inclusive)
}};

{table("letter_ranges", letters, "General_Category L (Lu, Ll, Lt, Lm, Lo)")}

{table("number_ranges", numbers, "General_Category N (Nd, Nl, No)")}

{table("space_ranges", spaces, "White_Space: Zs, Zl, Zp, U+0009..U+000D and U+0085")}

/// Whether `cp` lies in one of the sorted, disjoint `ranges`.
constexpr bool in_ranges(std::span<const CodePointRange> ranges, char32_t cp) {{
  // The first range that starts after cp; the range before it is the only candidate.
  const auto starts_after = [](char32_t c, const CodePointRange& r) {{ return c < r.first; }};
  const auto after = std::upper_bound(ranges.begin(), ranges.end(), cp, starts_after);
  return after != ranges.begin() && cp <= (after - 1)->last;
}}

/// `\\p{{L}}`: `cp` is a letter.
constexpr bool is_letter(char32_t cp) {{ return in_ranges(letter_ranges, cp); }}

/// `\\p{{N}}`: `cp` is a number (decimal digit, letter-like or other numeric character).
constexpr bool is_number(char32_t cp) {{ return in_ranges(number_ranges, cp); }}

/// `\\s`: `cp` is white space.
constexpr bool is_space(char32_t cp) {{ return in_ranges(space_ranges, cp); }}

}}  // namespace est::unicode
"""
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out}: Unicode {version}, {len(letters)} letter, {len(numbers)} number and "
          f"{len(spaces)} space ranges")


if __name__ == "__main__":
    main()
