#!/usr/bin/env python3
"""Tries popular PyPI packages as a new user would, and prints a table.

Each package goes into a one-function module that imports it at the top and
calls it; the module is built with `snakebox run --requirements`, and the
result is compared with the same call under native python3 (with the
package installed for it by pip into a temporary folder).

    python3 scripts/pypi-compat.py [--snakebox target/debug/snakebox] [NAME ...]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

# requirement, imports, expression (a JSON-able result, computed both ways).
PACKAGES = [
    ("python-dateutil==2.9.0.post0", "from dateutil.relativedelta import relativedelta; import datetime",
     "str(datetime.date(2024, 1, 31) + relativedelta(months=1))"),
    ("attrs==25.3.0", "import attrs", "repr(attrs.make_class('P', ['x'])(1))"),
    ("tabulate==0.9.0", "import tabulate", "tabulate.tabulate([[1, 'a']], headers=['n', 's'])"),
    ("six==1.17.0", "import six", "six.ensure_str(b'x')"),
    ("idna==3.10", "import idna", "idna.encode('bücher.example').decode()"),
    ("jinja2==3.1.6", "import jinja2", "jinja2.Template('{{ x|upper }}').render(x='a<b')"),
    ("pyyaml==6.0.3", "import yaml", "yaml.safe_dump(yaml.safe_load('a: [1, 2]'))"),
    ("msgpack==1.1.2", "import msgpack", "list(msgpack.packb([1, 'a']))"),
    ("pytz==2025.2", "import pytz, datetime", "str(pytz.timezone('Europe/Paris').utcoffset(datetime.datetime(2024, 7, 1)))"),
    ("pygments==2.19.2", "import pygments, pygments.lexers, pygments.formatters",
     "pygments.highlight('x = 1', pygments.lexers.get_lexer_by_name('python'), pygments.formatters.NullFormatter())"),
    ("packaging==25.0", "from packaging.version import Version", "str(max(Version('1.10'), Version('1.9')))"),
    ("tomli==2.2.1", "import tomli", "tomli.loads('a = [1, 2]')"),
    ("click==8.2.1", "import click", "click.style('x', bold=True)"),
    ("more-itertools==10.7.0", "import more_itertools", "list(more_itertools.chunked(range(5), 2))"),
    ("toolz==1.0.0", "import toolz", "toolz.frequencies('abca')"),
    ("sortedcontainers==2.4.0", "import sortedcontainers", "list(sortedcontainers.SortedList([3, 1, 2]))"),
    ("cachetools==6.1.0", "import cachetools", "cachetools.LRUCache(maxsize=2).maxsize"),
    ("pyparsing==3.2.3", "import pyparsing as pp", "pp.Word(pp.nums).parse_string('42').as_list()"),
    ("markdown==3.8.2", "import markdown", "markdown.markdown('# Hi')"),
    ("humanize==4.12.3", "import humanize", "humanize.intcomma(1234567)"),
    ("chardet==5.2.0", "import chardet", "chardet.detect('héllo wörld'.encode('latin-1'))['encoding']"),
    ("networkx==3.5", "import networkx as nx", "nx.shortest_path(nx.path_graph(4), 0, 3)"),
    ("sympy==1.14.0", "import sympy", "str(sympy.expand('(x + 1)**2'))"),
    ("jsonschema==4.25.0", "import jsonschema", "jsonschema.validate(1, {'type': 'integer'}) is None"),
    ("pydantic==2.11.7", "import pydantic", "pydantic.TypeAdapter(int).validate_python('1')"),
    ("regex==2025.7.34", "import regex", "regex.findall(r'\\p{L}+', 'a1b')"),
]


def native(requirement, imports, expression, work):
    site = work / "native"
    pip = [sys.executable, "-m", "pip", "install", "-q", "--target", str(site), requirement]
    subprocess.run(pip, check=True, capture_output=True)
    script = f"import json\n{imports}\nprint(json.dumps({expression}))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(site)})
    return json.loads(out.stdout) if out.returncode == 0 else f"native failed: {out.stderr.strip().splitlines()[-1]}"


def sandboxed(snakebox, requirement, imports, expression, work):
    (work / "requirements.txt").write_text(requirement + "\n")
    (work / "probe.py").write_text(f"import json\n{imports}\n\n\ndef probe() -> str:\n    return json.dumps({expression})\n")
    out = subprocess.run([snakebox, "run", str(work / "probe.py"), "--requirements", str(work / "requirements.txt"), "probe"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        lines = [l for l in out.stderr.strip().splitlines() if l.strip() and "INFO" not in l and "--verbose" not in l]
        return None, lines[-1] if lines else "failed"
    return json.loads(json.loads(out.stdout)), None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--snakebox", default="target/debug/snakebox")
    parser.add_argument("names", nargs="*")
    args = parser.parse_args()
    print("| package | works | why not |")
    print("|---|---|---|")
    worked = 0
    chosen = [p for p in PACKAGES if not args.names or p[0].split("==")[0] in args.names]
    for requirement, imports, expression in chosen:
        with tempfile.TemporaryDirectory() as work:
            work = Path(work)
            expected = native(requirement, imports, expression, work)
            got, error = sandboxed(os.path.abspath(args.snakebox), requirement, imports, expression, work)
        if error is None and got == expected:
            worked += 1
            print(f"| `{requirement}` | yes | |", flush=True)
        elif error is None:
            print(f"| `{requirement}` | no | result `{got}`, native python3 `{expected}` |", flush=True)
        else:
            print(f"| `{requirement}` | no | {error.replace('|', '/')[:160]} |", flush=True)
    print(f"\n{worked} of {len(chosen)} work.")


if __name__ == "__main__":
    main()
