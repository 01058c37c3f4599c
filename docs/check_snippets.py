#!/usr/bin/env python3
"""Checks that no code in est's Markdown can go stale (the docs.snippets test).

Every fenced block in README.md, docs/**/*.md and bench/README.md must be one of:

* code (```cpp, ```cmake, ```python, ```cu) preceded by a marker line
  `<!-- snippet: PATH#NAME -->`: the block is the region of PATH between two lines that end in
  `[NAME]` (`// [NAME]` or `# [NAME]`), character for character after removing the region's
  common indentation. PATH must be a file the build compiles or a test runs: this script
  checks that a CMakeLists.txt or a compiled file of the repository names it.
* shell (```sh): each command line (continuations joined) that runs est-train, est-eval or
  est-tokenize is checked against the program: every option it gives must be one the program's
  --help lists, and est-train's whole line must pass `est-train ... --dry-run` (the program's
  own option checks, without reading or writing anything); under mpirun or mpiexec, the part
  from the program's name on is checked. Other commands must appear verbatim
  in a script the test suite or CI runs (.ci/, scripts/, tests/, examples/, bench/, fuzz/, docs/
  files that are not Markdown), or the block is preceded by `<!-- not-run: REASON -->`.
* output (```text): what a program printed; not code.

Every relative link ([text](path) outside code blocks) must name a file or directory that exists.

Usage: check_snippets.py SOURCE_DIR BIN_DIR   (BIN_DIR holds est-train, est-eval, est-tokenize)
"""

import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

FENCE = re.compile(r"^```(\w*)\s*$")
SNIPPET = re.compile(r"<!--\s*snippet:\s*(\S+?)#(\S+)\s*-->")
NOT_RUN = re.compile(r"<!--\s*not-run:\s*(.+?)\s*-->")
PROGRAMS = ("est-train", "est-eval", "est-tokenize", "est-train-pinned-ends")
# MPI launchers: `mpirun -np 2 est-train ...` is checked as the est-train line it runs.
LAUNCHERS = ("mpirun", "mpiexec")
# Programs built on est-train's run_program(), checked as est-train is.
TRAINERS = ("est-train", "est-train-pinned-ends")
# est-train's options that must name something that exists (CLI11 checks it while parsing).
PATH_OPTIONS = {"--tokenizer-file": "file", "--gpt2-dir": "dir", "--init-from": "path"}
SCRIPT_DIRS = (".ci", "scripts", "tests", "examples", "bench", "fuzz", "docs")


def markdown_files(root):
    files = [root / "README.md", root / "bench" / "README.md"]
    files += sorted((root / "docs").rglob("*.md"))
    return [f for f in files if f.exists()]


def blocks(path):
    """(language, first line number, lines, marker line) of every fenced block."""
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start = i
        j = i + 1
        while j < len(lines) and lines[j].rstrip() != "```":
            j += 1
        marker = ""
        k = start - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        if k >= 0 and lines[k].strip().startswith("<!--"):
            marker = lines[k].strip()
        yield m.group(1), start + 1, lines[start + 1:j], marker
        i = j + 1


LINK = re.compile(r"\]\(([^)\s]+)\)")


def broken_links(path, root):
    """Relative links of a Markdown file (outside fenced blocks) whose target does not exist."""
    out, fenced = [], False
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            continue
        for target in LINK.findall(line.replace("``", "")):
            if re.match(r"^[a-z]+:", target) or target.startswith("#"):
                continue
            if "`" in line and f"`{target}" in line:
                continue
            file = (path.parent / target.split("#", 1)[0]).resolve()
            if not file.exists():
                out.append(f"{path.relative_to(root)}:{number}: broken link {target}")
    return out


def region(path, name):
    lines = path.read_text().splitlines()
    marks = [i for i, line in enumerate(lines) if line.rstrip().endswith(f"[{name}]")]
    if len(marks) != 2:
        return None
    body = lines[marks[0] + 1:marks[1]]
    indents = [len(l) - len(l.lstrip()) for l in body if l.strip()]
    cut = min(indents) if indents else 0
    return [l[cut:] if l.strip() else "" for l in body]


def referenced_by_build(root, rel):
    """True when some CMakeLists.txt, .cmake file or compiled source of the repository names
    the file (its path or file name), so that the build compiles it or a test runs it."""
    name = Path(rel).name
    for pattern in ("CMakeLists.txt", "*.cmake", "*.cpp", "*.cu", "*.hpp", "*.sh"):
        for f in root.rglob(pattern):
            if "build" in f.relative_to(root).parts or f == root / rel:
                continue
            text = f.read_text(errors="replace")
            if rel in text or re.search(r"[\"/ ]" + re.escape(name) + r"[\"\s)]", text):
                return True
    return False


def command_lines(lines):
    joined, current = [], ""
    for line in lines:
        stripped = line.rstrip()
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        if current.strip():
            joined.append(current.strip())
        current = ""
    return joined


def strip_comment(command):
    out, quote = [], None
    for i, c in enumerate(command):
        if quote:
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c == "#" and (i == 0 or command[i - 1].isspace()):
            break
        out.append(c)
    return "".join(out).strip()


def help_options(binary, cache):
    """The options `binary --help` lists, or None when the program is not there."""
    if binary not in cache:
        if not Path(binary).exists():
            cache[binary] = None
        else:
            result = subprocess.run([binary, "--help"], capture_output=True, text=True,
                                    timeout=60)
            cache[binary] = set(re.findall(r"(--[a-z0-9][a-z0-9-]*)", result.stdout))
    return cache[binary]


def check_program_line(command, bin_dir, cache):
    """Problems with one est program invocation, or an empty list."""
    problems = []
    for part in re.split(r"\s*(?:&&|\|\||;|\|)\s*", command):
        try:
            words = shlex.split(part)
        except ValueError as e:
            return [f"cannot parse '{part}': {e}"]
        if words and Path(words[0]).name in LAUNCHERS:
            # mpirun's own options come first; the program's line is checked from its name on.
            words = next((words[i:] for i, w in enumerate(words) if Path(w).name in PROGRAMS),
                         [])
        if not words or Path(words[0]).name not in PROGRAMS:
            continue
        program = Path(words[0]).name
        binary = str(Path(bin_dir) / program)
        known = help_options(binary, cache)
        if known is None:
            problems.append(f"{program} is not built in {bin_dir}")
            continue
        for word in words[1:]:
            option = word.split("=", 1)[0]
            if option.startswith("--") and option not in known:
                problems.append(f"{program} has no option {option}")
        if program in TRAINERS and not problems:
            # The paths in a documented command are stand-ins: in a scratch directory, the
            # options that must name an existing file or directory get an empty one.
            scratch = Path(tempfile.mkdtemp(prefix="est-doc-"))
            for option, value in zip(words[1:], words[2:]):
                if option in PATH_OPTIONS and not Path(value).is_absolute():
                    target = scratch / value
                    if value.endswith("/") or PATH_OPTIONS[option] == "dir":
                        target.mkdir(parents=True, exist_ok=True)
                    else:
                        target.parent.mkdir(parents=True, exist_ok=True)
                        target.touch()
            result = subprocess.run([str(Path(binary).resolve()), *words[1:], "--dry-run"],
                                    capture_output=True, text=True, timeout=60, cwd=scratch)
            shutil.rmtree(scratch, ignore_errors=True)
            if result.returncode != 0:
                problems.append(f"'{part} --dry-run' failed: "
                                f"{(result.stderr or result.stdout).strip().splitlines()[-1:]}")
    return problems


def runs_program(command):
    return any(Path(w).name in PROGRAMS for w in re.split(r"[\s;&|]+", command) if w)


def script_texts(root):
    texts = []
    for d in SCRIPT_DIRS:
        base = root / d
        if not base.exists():
            continue
        for f in base.rglob("*"):
            if f.is_file() and f.suffix not in (".md", ".png", ".svg", ".bin", ".safetensors") \
                    and f.stat().st_size < 1_000_000:
                texts.append(f.read_text(errors="replace"))
    return texts


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    root, bin_dir = Path(argv[1]).resolve(), argv[2]
    scripts = script_texts(root)
    cache = {}
    problems = []
    counts = {"code": 0, "command": 0, "script": 0, "not-run": 0, "output": 0}
    for md in markdown_files(root):
        rel_md = md.relative_to(root)
        problems += broken_links(md, root)
        for language, line, body, marker in blocks(md):
            where = f"{rel_md}:{line}"
            if language == "text":
                counts["output"] += 1
                continue
            if language in ("cpp", "cmake", "python", "cu"):
                m = SNIPPET.search(marker)
                if not m:
                    problems.append(f"{where}: a ```{language} block without "
                                    "<!-- snippet: PATH#NAME -->")
                    continue
                rel, name = m.group(1), m.group(2)
                source = root / rel
                if not source.exists():
                    problems.append(f"{where}: snippet file {rel} does not exist")
                    continue
                expected = region(source, name)
                if expected is None:
                    problems.append(f"{where}: {rel} has no region [{name}] (two marker lines)")
                    continue
                if [l.rstrip() for l in body] != [l.rstrip() for l in expected]:
                    problems.append(f"{where}: the block differs from {rel}#{name}")
                    continue
                if not referenced_by_build(root, rel):
                    problems.append(f"{where}: {rel} is neither built nor run by the build")
                    continue
                counts["code"] += 1
                continue
            if language == "sh":
                if NOT_RUN.search(marker):
                    counts["not-run"] += 1
                    continue
                for command in command_lines(body):
                    command = strip_comment(command)
                    if not command:
                        continue
                    if runs_program(command):
                        for p in check_program_line(command, bin_dir, cache):
                            problems.append(f"{where}: {p}")
                        counts["command"] += 1
                    elif any(command in text for text in scripts):
                        counts["script"] += 1
                    else:
                        problems.append(f"{where}: '{command}' is not run by any script or test "
                                        "(or mark the block <!-- not-run: REASON -->)")
                continue
            problems.append(f"{where}: a fenced block needs a language (cpp, cmake, python, cu, "
                            "sh or text)")
    for p in problems:
        print(p)
    print(f"check_snippets: {counts['code']} code snippets, {counts['command']} est commands, "
          f"{counts['script']} script commands, {counts['output']} outputs, "
          f"{counts['not-run']} blocks marked not-run; {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
