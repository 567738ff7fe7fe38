#!/usr/bin/env python3
"""Runs the console's real-browser tests (Tests/browser) and prints one closing line,
`N passed, N failed, N skipped`. Exit status 0 only when nothing failed or errored.

Env: POS_BROWSER_BIN (default .build/debug/pos-integration), POS_BROWSER_SCREENSHOTS=1 (write
docs/console/*.png), POS_BROWSER_KEEP=1 (keep the temp dir with the service's logs), and
unittest's own `-k PATTERN` / `-v` arguments.
"""
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def main() -> int:
    try:
        import selenium  # noqa: F401
    except ImportError:
        print("error: the Python package selenium is missing (scripts/test installs it into .build/browser-venv)", file=sys.stderr)
        return 2
    argv = sys.argv[1:]
    patterns = []
    verbosity = 2
    while argv:
        arg = argv.pop(0)
        if arg == "-k" and argv:
            patterns.append(argv.pop(0))
        elif arg == "-q":
            verbosity = 1
    loader = unittest.TestLoader()
    if patterns:
        loader.testNamePatterns = [p if "*" in p else f"*{p}*" for p in patterns]
    suite = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    started = time.monotonic()
    result = unittest.TextTestRunner(verbosity=verbosity, stream=sys.stdout).run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    passed = max(0, result.testsRun - failed - skipped - len(result.expectedFailures))
    print(f"browser tests took {time.monotonic() - started:.1f}s")
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    if result.testsRun == 0:
        print("error: no browser test ran", file=sys.stderr)
        return 1
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
