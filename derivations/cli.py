"""The ``verigrad`` command line.

    verigrad list [--topic T]
    verigrad show NAME [--format text|latex|markdown] [--no-verify]
    verigrad verify [NAME ...] [--json] [--budget S]
    verigrad latex [-o FILE] [--no-verify]
    verigrad report [-o DIR]
    verigrad check LHS [RHS] [--assume "x > 0"]... [--budget S] [--json]
    verigrad plots [-o DIR]

``verify`` prints one line per derivation as it finishes and exits 0 when
every step is proved or numerically consistent, 1 when a step is refuted
(or undecided).  ``check`` parses typed claims without ever evaluating them
(:mod:`derivations.parse`) and exits the same way.  Usage errors (and
refused input) print one line and exit 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

from derivations import registry, render
from derivations.core import DerivationReport, StepVerdict, Verdict
from derivations.parallel import MAX_DEFAULT_JOBS, run_parallel

__all__ = ["main"]

PROG = "verigrad"
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad input from the command line: reported in one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but an error is one line (no usage dump) and exit 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


# ----- verification with progress ----------------------------------------------------------


def _verdict_json(v: Verdict) -> dict[str, Any]:
    out: dict[str, Any] = {
        "status": v.status,
        "method": v.method,
        "elapsed_s": round(v.elapsed_s, 4),
    }
    if v.counterexample is not None:
        out["counterexample"] = {str(k): str(val) for k, val in v.counterexample.items()}
        out["values"] = list(v.values or ())
    return out


def report_json(report: DerivationReport) -> dict[str, Any]:
    d = report.derivation
    return {
        "name": d.name,
        "topic": d.topic,
        "title": d.title,
        "status": report.status,
        "elapsed_s": round(report.elapsed_s, 4),
        "steps": [{"why": s.step.why, **_verdict_json(s.verdict)} for s in report.steps],
    }


def _line(report: DerivationReport) -> str:
    mark = render.MARK_TEXT[report.status].split()[0]
    d = report.derivation
    return f"{mark} {report.status:<22} {d.name:<36} {report.elapsed_s:6.2f} s  {report.methods}"


def _verify_one(task: tuple[str, float | None]) -> tuple[tuple[Verdict, ...], float]:
    """In a worker: the verdicts on one derivation's steps, and the time taken."""
    name, budget_s = task
    report = registry.get(name).verify(budget_s=budget_s)
    return tuple(s.verdict for s in report.steps), report.elapsed_s


def verify_all(
    names: Sequence[str],
    *,
    budget_s: float | None = None,
    on_done: Callable[[DerivationReport], None] | None = None,
    jobs: int | None = None,
) -> list[DerivationReport]:
    """Verify the named derivations on ``jobs`` cores (default: those available),
    calling ``on_done`` as each finishes; the reports come back in the order named."""

    reports: dict[str, DerivationReport] = {}

    def finished(
        task: tuple[str, float | None], outcome: tuple[tuple[Verdict, ...], float]
    ) -> None:
        derivation = registry.get(task[0])
        verdicts, elapsed = outcome
        steps = tuple(
            StepVerdict(i, s, v) for i, (s, v) in enumerate(zip(derivation.steps, verdicts))
        )
        reports[task[0]] = DerivationReport(derivation, steps, elapsed)
        if on_done is not None:
            on_done(reports[task[0]])

    for name in names:
        registry.get(name)  # built once here, shared with the forked workers
    run_parallel(_verify_one, [(name, budget_s) for name in names], jobs=jobs, on_result=finished)
    return [reports[name] for name in names]


def summary(reports: Sequence[DerivationReport], elapsed_s: float) -> str:
    counts: dict[str, int] = {}
    for r in reports:
        counts[r.status] = counts.get(r.status, 0) + 1
    order = ["proved", "numerically-consistent", "refuted", "undecided"]
    parts = [
        f"{counts.get(s, 0)} {s}" for s in order if counts.get(s, 0) or s in ("proved", "refuted")
    ]
    steps = sum(len(r.steps) for r in reports)
    return f"{len(reports)} derivations, {steps} steps: {', '.join(parts)} ({elapsed_s:.1f} s)"


def _failed(reports: Sequence[DerivationReport]) -> bool:
    return any(r.status in ("refuted", "undecided") for r in reports)


def _print(text: str) -> None:
    print(text, flush=True)


# ----- commands ----------------------------------------------------------------------------


def _check_names(names: Sequence[str]) -> list[str]:
    known = registry.names()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UsageError(f"unknown derivation {', '.join(map(repr, unknown))}; see 'verigrad list'")
    return list(names) or known


def _check_topic(topic: str | None) -> None:
    topics = {t.key for t in registry.TOPICS}
    if topic is not None and topic not in topics:
        raise UsageError(f"unknown topic {topic!r}; expected one of {', '.join(sorted(topics))}")


def cmd_list(args: argparse.Namespace) -> int:
    _check_topic(args.topic)
    for d in registry.all(args.topic):
        _print(f"{d.name:<36} {d.topic:<12} {render.why_text(d.title)}")
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    (name,) = _check_names([args.name])
    d = registry.get(name)
    report = None if args.no_verify else d.verify()
    formatter = {"text": render.to_text, "latex": render.to_latex, "markdown": render.to_markdown}[
        args.format
    ]
    _print(formatter(d, report))
    return EXIT_FAILED if report is not None and _failed([report]) else EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    _check_topic(args.topic)
    names = _check_names(args.names)
    if args.topic is not None:
        in_topic = set(registry.names(args.topic))  # known without building the others
        names = [n for n in names if n in in_topic]
    start = time.monotonic()

    def show(report: DerivationReport) -> None:
        _print(json.dumps(report_json(report)) if args.json else _line(report))
        if not args.json:
            for sv in report.steps:
                if sv.verdict.status in ("refuted", "undecided"):
                    _print(
                        f"    step {sv.index + 1} ({render.why_text(sv.step.why)}): {sv.verdict}"
                    )

    reports = verify_all(names, budget_s=args.budget, on_done=show, jobs=args.jobs)
    line = summary(reports, time.monotonic() - start)
    _print(json.dumps({"summary": line, "failed": _failed(reports)}) if args.json else line)
    return EXIT_FAILED if _failed(reports) else EXIT_OK


def _verified(names: Sequence[str], verify: bool) -> list[DerivationReport] | None:
    if not verify:
        return None
    start = time.monotonic()
    reports = verify_all(names, on_done=lambda r: print(_line(r), file=sys.stderr, flush=True))
    print(summary(reports, time.monotonic() - start), file=sys.stderr, flush=True)
    return reports


def cmd_latex(args: argparse.Namespace) -> int:
    names = registry.names()
    reports = _verified(names, not args.no_verify)
    text = render.latex_document(registry.all(), reports)
    if args.output is None:
        sys.stdout.write(text)
    else:
        _write(Path(args.output), text)
    return EXIT_FAILED if reports is not None and _failed(reports) else EXIT_OK


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None
    _print(f"wrote {path}")


def cmd_report(args: argparse.Namespace) -> int:
    """Verify everything, check the notes, measure the numeric functions, write the book
    (``derivations.tex``, ``derivations.md`` and, with pdflatex, ``derivations.pdf``)."""
    start = time.monotonic()
    names = registry.names()
    reports = verify_all(names, on_done=lambda r: _print(_line(r)), jobs=args.jobs)
    _print(summary(reports, time.monotonic() - start))
    checks = _checked_notes(lambda c: _print(_notes_line(c)), jobs=args.jobs)
    accuracy = _measured_accuracy()
    out = Path(args.output)
    figures = _figures(out / "figures")
    derivations = registry.all()
    book = render.latex_document(
        derivations, reports, errata=checks, accuracy=accuracy, figures=figures
    )
    _write(out / "derivations.tex", book)
    _write(
        out / "derivations.md",
        render.markdown_document(derivations, reports, errata=checks, accuracy=accuracy),
    )
    pdf_ok = _pdflatex(out / "derivations.tex")
    failed = _failed(reports) or not _notes_ok(checks) or not pdf_ok
    _print(f"report: {'FAILED' if failed else 'done'} in {time.monotonic() - start:.1f} s")
    return EXIT_FAILED if failed else EXIT_OK


def _measured_accuracy() -> list[Any]:
    from derivations.accuracy import measure_all, row_text

    start = time.monotonic()
    rows = measure_all(on_done=lambda r: _print(row_text(r)))
    _print(f"accuracy: {len(rows)} functions measured ({time.monotonic() - start:.1f} s)")
    return rows


def _figures(directory: Path) -> list[tuple[Path, str]]:
    """The plots as (PNG path relative to the book, caption), when matplotlib is installed."""
    from derivations import plots

    def written(png: Path, svg: Path, seconds: float) -> None:
        _print(f"wrote {png} and {svg.suffix} ({seconds:.1f} s)")

    start = time.monotonic()
    try:
        pairs = plots.write_all(directory, on_written=written)
    except plots.MissingExtra as exc:
        _print(f"figures: skipped ({exc})")
        return []
    _print(f"figures: {len(pairs)} written to {directory} ({time.monotonic() - start:.1f} s)")
    return [(Path(p).relative_to(directory.parent), caption) for p, caption in pairs]


def _pdflatex(tex: Path) -> bool:
    """Compile the book twice (the contents need a second pass); False if it fails."""
    import shutil

    if shutil.which("pdflatex") is None:
        _print("pdf: skipped (pdflatex is not installed; on Debian: texlive-latex-base)")
        return True
    start = time.monotonic()
    for _ in range(2):
        run = render.run_pdflatex(tex)
        if run.returncode != 0:
            _print(f"pdf: pdflatex failed; see {tex.with_suffix('.log')}")
            return False
    _print(f"wrote {tex.with_suffix('.pdf')} ({time.monotonic() - start:.1f} s)")
    return True


# ----- the notes check ---------------------------------------------------------------------


def _notes_line(check: Any) -> str:
    mark = render.MARK_TEXT[check.verdict.status].split()[0]
    return (
        f"{mark} {check.verdict.status:<22} {check.claim.id:<36} {check.verdict.elapsed_s:6.2f} s"
    )


def _checked_notes(
    on_done: Callable[[Any], None], *, progress: TextIO | None = None, jobs: int | None = None
) -> list[Any]:
    """Check the notes, then print a summary line (to stdout unless ``progress`` says)."""
    from derivations.notes import check_notes

    start = time.monotonic()
    checks = check_notes(on_done=on_done, jobs=jobs)
    wrong = sum(1 for c in checks if c.wrong)
    print(
        f"notes: {len(checks)} claims checked, {wrong} wrong in the notes"
        f" ({time.monotonic() - start:.1f} s)",
        file=progress or sys.stdout,
        flush=True,
    )
    return checks


def _notes_ok(checks: Sequence[Any]) -> bool:
    """Every claim decided one way or the other, every wrong one with a proved correction."""
    return all(c.consistent for c in checks)


def _check_json(check: Any) -> dict[str, Any]:
    from derivations.notes import separation

    claim = check.claim
    out: dict[str, Any] = {
        "id": claim.id,
        "section": claim.section,
        "quote": claim.quote,
        "claim": str(claim.lhs) if claim.rhs is True else f"{claim.lhs} == {claim.rhs}",
        "reason": claim.reason,
        **_verdict_json(check.verdict),
    }
    if check.wrong:
        lhs, rhs = separation(check)
        out["separation_50_digits"] = [str(lhs), str(rhs)]
    if claim.correction is not None:
        out["correction"] = {
            "quote": claim.correction.quote,
            **(_verdict_json(check.correction) if check.correction is not None else {}),
        }
    return out


def cmd_notes(args: argparse.Namespace) -> int:
    """Check every claim of the lecture notes; report the wrong ones with corrections."""
    if args.format == "text":
        checks = _checked_notes(lambda c: None, progress=sys.stderr, jobs=args.jobs)
        sys.stdout.write(render.notes_text(checks))
    else:
        checks = _checked_notes(
            lambda c: print(_notes_line(c), file=sys.stderr, flush=True),
            progress=sys.stderr,
            jobs=args.jobs,
        )
        if args.format == "json":
            counts: dict[str, int] = {}
            for c in checks:
                counts[c.verdict.status] = counts.get(c.verdict.status, 0) + 1
            doc = {"claims": [_check_json(c) for c in checks], "summary": counts}
            _print(json.dumps(doc, indent=1))
        elif args.format == "markdown":
            sys.stdout.write(render.notes_markdown(checks))
        else:
            sys.stdout.write(render.errata_latex(checks) + "\n")
    return EXIT_OK if _notes_ok(checks) else EXIT_FAILED


def cmd_check(args: argparse.Namespace) -> int:
    """Parse LHS, RHS and assumptions safely, then check_claim."""
    from derivations.claims import check_claim
    from derivations.parse import ParseError, parse_assumption, parse_expr

    symbols: dict[str, Any] = {}
    try:
        lhs = parse_expr(args.lhs, symbols)
        rhs = parse_expr(args.rhs, symbols) if args.rhs is not None else True
        domain: dict[Any, Any] = {}
        for text in args.assume:
            for symbol, subset in parse_assumption(text, symbols).items():
                domain[symbol] = domain.get(symbol, subset).intersect(subset)
        verdict = check_claim(lhs, rhs, domain, budget_s=args.budget)
    except (ParseError, TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        _print(json.dumps({"lhs": str(lhs), "rhs": str(rhs), **_verdict_json(verdict)}))
    else:
        _print(str(verdict))
    return EXIT_FAILED if verdict.status in ("refuted", "undecided") else EXIT_OK


def cmd_plots(args: argparse.Namespace) -> int:
    """Write the five figures as PNG and SVG, one line per figure as it is written."""
    from derivations import plots

    start = time.monotonic()

    def show(png: Path, svg: Path, seconds: float) -> None:
        _print(f"wrote {png} and {svg.name} ({seconds:.1f} s)")

    try:
        written = plots.write_all(Path(args.output), on_written=show)
    except plots.MissingExtra as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"cannot write the plots to {args.output}: {exc.strerror}") from None
    _print(f"plots: {len(written)} figures in {time.monotonic() - start:.1f} s")
    return EXIT_OK


# ----- parser ------------------------------------------------------------------------------


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {text!r}")
    return value


def _add_jobs(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-j",
        "--jobs",
        type=_positive_int,
        default=None,
        help=f"worker processes (default: the cores available, at most {MAX_DEFAULT_JOBS})",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG, description="Derive the mathematics of ML step by step and verify every step."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser("list", help="list the registered derivations")
    p.add_argument("--topic", help="only this topic")
    p.set_defaults(run=cmd_list)

    p = sub.add_parser("show", help="print one derivation with its verdicts")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--format", choices=["text", "latex", "markdown"], default="text")
    p.add_argument("--no-verify", action="store_true", help="print without verifying")
    p.set_defaults(run=cmd_show)

    p = sub.add_parser("verify", help="verify derivations (all when no NAME is given)")
    p.add_argument("names", nargs="*", metavar="NAME")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--budget", type=_positive_float, default=None, help="seconds per step")
    p.add_argument("--topic", help="only this topic's derivations")
    _add_jobs(p)
    p.set_defaults(run=cmd_verify)

    p = sub.add_parser("latex", help="the whole LaTeX document")
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    p.add_argument("--no-verify", action="store_true", help="leave out the status marks")
    p.set_defaults(run=cmd_latex)

    p = sub.add_parser("plots", help="write the figures as PNG and SVG (needs matplotlib)")
    p.add_argument("-o", "--output", metavar="DIR", default="build/plots")
    p.set_defaults(run=cmd_plots)

    p = sub.add_parser("check", help="check a typed claim: LHS == RHS, or LHS alone a relation")
    p.add_argument("lhs", metavar="LHS")
    p.add_argument("rhs", metavar="RHS", nargs="?")
    p.add_argument(
        "--assume",
        action="append",
        default=[],
        metavar="A",
        help='e.g. "x > 0", "0 < p < 1", "y in {0, 1}"',
    )
    p.add_argument("--budget", type=_positive_float, default=1.0, help="seconds (default 1)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_check)

    p = sub.add_parser("notes", help="check every formula of the lecture notes; list the errata")
    p.add_argument("--format", choices=["text", "markdown", "latex", "json"], default="text")
    _add_jobs(p)
    p.set_defaults(run=cmd_notes)

    p = sub.add_parser("report", help="verify everything and write the documents")
    p.add_argument("-o", "--output", metavar="DIR", default="build")
    _add_jobs(p)
    p.set_defaults(run=cmd_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 1 verification failed, 2 usage)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        status: int = args.run(args)
        return status
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
