"""Mutation testing by hand: how many small changes to a module do its tests notice?

For each target module, every mutation point is found in its AST (comparison flipped, ``and`` /
``or`` swapped, ``+``/``-`` swapped, an integer constant moved by one, ``True``/``False``
swapped, ``not`` dropped, a ``return`` value replaced by ``None``); a random sample is applied one
at a time (the module file is rewritten, then restored) and the given test files run against it
with ``pytest -x -q``. A mutant is killed when the tests fail or time out; a timeout is checked by
running the same tests on the unmutated module: when they fail or hang there too (a flaky or
racy test), the mutant is counted as neither killed nor survived but listed as ``unsure``, so a
hanging test cannot pass for a kill. A TEST may also be a pytest option, such as
``--deselect=tests/x.py::test_y``.

Run it in a scratch worktree with its own editable install, never in a tree others are testing:

    git worktree add --detach /tmp/mut HEAD && cd /tmp/mut && python3 -m venv .venv \
        && .venv/bin/pip install -q -e '.[test]'
    .venv/bin/python tools/mutation.py --sample 40 \
        opsgenie_integration/checkpoint.py=tests/test_checkpoint.py ...

Prints one line per module (killed / total, percentage) and the survivors (line and change), then
a JSON summary line. Exit status 0 whatever the score: the figure is for people to read.
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import os
import random
import subprocess
import sys
from pathlib import Path

_COMPARE_SWAP = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}


def mutation_points(tree: ast.AST) -> list[tuple[int, str, int]]:
    """``(node index in ast.walk order, description, line)`` for every change this tool makes."""
    points = []
    for index, node in enumerate(ast.walk(tree)):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Compare) and type(node.ops[0]) in _COMPARE_SWAP:
            points.append((index, f"{type(node.ops[0]).__name__} flipped", line))
        elif isinstance(node, ast.BoolOp):
            points.append((index, f"{type(node.op).__name__} swapped", line))
        elif isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
            points.append((index, f"{type(node.op).__name__} swapped", line))
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            points.append((index, f"{node.value} + 1", line))
        elif isinstance(node, ast.Constant) and type(node.value) is bool:
            points.append((index, f"{node.value} negated", line))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            points.append((index, "not dropped", line))
        elif isinstance(node, ast.Return) and not (
            node.value is None
            or (isinstance(node.value, ast.Constant) and node.value.value is None)
        ):  # `return None` made `return None` would be no change
            points.append((index, "returns None", line))
    return points


class _Mutate(ast.NodeTransformer):
    def __init__(self, target: int) -> None:
        self.target = target
        self.index = -1
        self.order = {}

    def run(self, tree: ast.AST) -> ast.AST:
        self.order = {id(node): i for i, node in enumerate(ast.walk(tree))}
        return self.visit(tree)

    def generic_visit(self, node: ast.AST) -> ast.AST:
        node = super().generic_visit(node)
        if self.order.get(id(node)) != self.target:
            return node
        if isinstance(node, ast.Compare):
            node.ops[0] = _COMPARE_SWAP[type(node.ops[0])]()
        elif isinstance(node, ast.BoolOp):
            node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        elif isinstance(node, ast.BinOp):
            node.op = ast.Sub() if isinstance(node.op, ast.Add) else ast.Add()
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            node.value += 1
        elif isinstance(node, ast.Constant) and type(node.value) is bool:
            node.value = not node.value
        elif isinstance(node, ast.UnaryOp):
            return node.operand
        elif isinstance(node, ast.Return):
            node.value = ast.Constant(value=None)
        return node


def run_tests(tests: list[str], timeout: float) -> bool | None:
    """True when the tests pass, False when they fail, None when they time out."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests],
            capture_output=True,
            timeout=timeout,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        )
    except subprocess.TimeoutExpired:
        return None
    return done.returncode == 0


def mutate_module(module: Path, tests: list[str], sample: int, rng: random.Random, timeout: float):
    source = module.read_text(encoding="utf-8")
    tree = ast.parse(source)
    points = mutation_points(tree)
    chosen = sorted(rng.sample(points, min(sample, len(points))))
    survivors = []
    unsure = []
    killed = 0
    try:
        for index, what, line in chosen:
            mutant = _Mutate(index).run(copy.deepcopy(tree))
            module.write_text(ast.unparse(ast.fix_missing_locations(mutant)), encoding="utf-8")
            passed = run_tests(tests, timeout)
            if passed is None:  # a timeout: a kill only if the unmutated module passes in time
                module.write_text(source, encoding="utf-8")
                if run_tests(tests, timeout) is not True:
                    unsure.append({"line": line, "change": what})
                    continue
            if passed:
                survivors.append({"line": line, "change": what})
            else:
                killed += 1
    finally:
        module.write_text(source, encoding="utf-8")
    return killed, len(chosen) - len(unsure), survivors, unsure


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="+", metavar="MODULE=TEST[,TEST...]")
    parser.add_argument("--sample", type=int, default=40, help="mutants per module (default 40)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=120.0, help="s per test run")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    if not run_tests([t for spec in args.targets for t in spec.split("=", 1)[1].split(",")], 600):
        print("the tests fail before any mutation: fix them first", file=sys.stderr)
        return 1
    summary = {}
    total_killed = total = 0
    for spec in args.targets:
        module, _, tests = spec.partition("=")
        killed, count, survivors, unsure = mutate_module(
            Path(module), tests.split(","), args.sample, rng, args.timeout
        )
        total_killed += killed
        total += count
        share = killed / count if count else 1.0
        print(f"{module}: {killed}/{count} killed ({share:.0%})")
        for survivor in survivors:
            print(f"    survived: line {survivor['line']}: {survivor['change']}")
        for item in unsure:
            print(
                f"    unsure (the tests hang or fail unmutated too): line {item['line']}: {item['change']}"
            )
        summary[module] = {
            "killed": killed,
            "mutants": count,
            "survivors": survivors,
            "unsure": unsure,
        }
    share = total_killed / total if total else 1.0
    print(f"all: {total_killed}/{total} killed ({share:.0%})")
    print(json.dumps({"killed": total_killed, "mutants": total, "modules": summary}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
