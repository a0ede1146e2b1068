"""python -m flashcheck verify DIR [--candidate CDIR] [--outputs o,lse,...]: the CLI's `check verify`
(judges the candidate outputs in a suite's case folders); exit 1 on a failure."""

import argparse
import sys

from .cases import verify


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m flashcheck")
    sub = ap.add_subparsers(dest="cmd", required=True)
    v = sub.add_parser("verify", help="judge the outputs in a suite of case folders")
    v.add_argument("dir")
    v.add_argument("--candidate", default="")
    v.add_argument("--outputs", default="", help="comma-separated outputs to require (default: all)")
    a = ap.parse_args(argv)
    try:
        passed, failed, _ = verify(a.dir, a.candidate, [x for x in a.outputs.split(",") if x])
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if passed == 0 and failed == 0:
        return 2  # nothing was judged: never a pass
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
