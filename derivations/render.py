"""Derivations as text, LaTeX, Markdown, and one complete LaTeX document.

* :func:`to_text`: SymPy's unicode pretty printing, one block per step, the
  relation sign on the baseline, the justification and status beside it;
* :func:`to_latex`: an ``align*`` environment, one line per step, the
  justification in ``\\text{}`` at the right and the status mark after it;
* :func:`to_markdown`: ``$$\\begin{aligned} ... \\end{aligned}$$``, which
  GitHub renders;
* :func:`latex_document`: every derivation, one section per topic, ready for
  ``pdflatex -halt-on-error``.

Justifications are plain text that may hold inline math between ``$...$``
(LaTeX source): kept as math in LaTeX and Markdown, shown with the commonest
macros turned into unicode in plain text.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import sympy as sp
from sympy.printing.pretty.pretty import PrettyPrinter

from derivations.core import Derivation, DerivationReport, Status, Verdict
from derivations.sampling import float_repr

__all__ = [
    "errata_latex",
    "latex_document",
    "markdown_document",
    "notes_markdown",
    "notes_text",
    "to_book_latex",
    "to_latex",
    "to_markdown",
    "to_text",
]

MARK_TEXT: dict[str, str] = {
    "proved": "✓ proved",
    "numerically-consistent": "≈ numerically consistent",
    "refuted": "✗ REFUTED",
    "undecided": "? undecided",
}
MARK_LATEX: dict[str, str] = {
    "proved": r"\checkmark",
    "numerically-consistent": r"\approx\ \text{numeric}",
    "refuted": r"\boldsymbol{\times}\ \text{refuted}",
    "undecided": r"?\ \text{undecided}",
}
_REL_TEXT = {"=": "=", "<=": "≤", "<": "<", ">=": "≥", ">": ">"}
_REL_LATEX = {"=": "=", "<=": r"\le", "<": "<", ">=": r"\ge", ">": ">"}


# ----- justifications --------------------------------------------------------------------

_UNICODE = {
    r"\sigma": "σ",
    r"\delta": "δ",
    r"\alpha": "α",
    r"\beta": "β",
    r"\theta": "θ",
    r"\le": "≤",
    r"\ge": "≥",
    r"\ne": "≠",
    r"\cdot": "·",
    r"\to": "→",
    r"\infty": "∞",
    r"\sum": "Σ",
    r"\prod": "Π",
    r"\partial": "∂",
    r"\log": "log",
    r"\exp": "exp",
    r"\top": "T",
    r"\odot": "⊙",
    r"\mid": "|",
    r"\in": "∈",
    r"\dots": "…",
    r"\ldots": "…",
    r"\quad": " ",
    r"\iff": "⇔",
    r"\times": "×",
    r"\sqrt": "√",
    r"\lim": "lim",
    r"\left": "",
    r"\right": "",
    r"\leftarrow": "←",
    r"\Rightarrow": "⇒",
    r"\nabla": "∇",
    r"\Delta": "Δ",
    r"\approx": "≈",
    r"\sim": "~",
    r"\circ": "°",
    r"\geq": "≥",
    r"\leq": "≤",
    r"\neq": "≠",
    r"\mathcal{L}": "ℒ",
    r"\mathbb{R}": "ℝ",
    r"\vdots": "…",
    r"\therefore": "∴",
    r"\lambda": "λ",
    r"\mu": "μ",
    r"\ell": "ℓ",
    r"^\circ": "°",
}
# Accents become combining characters: \hat{y} -> ŷ, \bar{w} -> w̄, \vec{E} -> E⃗.
_ACCENT = re.compile(r"\\(hat|bar|vec|overrightarrow)\{([^{}]*)\}")
_COMBINING = {"hat": "\u0302", "bar": "\u0304", "vec": "\u20d7", "overrightarrow": "\u20d7"}
_MATRIX = re.compile(r"\\begin\{[bp]?matrix\}(.*?)\\end\{[bp]?matrix\}", re.S)


def _plain_matrix(m: re.Match[str]) -> str:
    rows = [r.replace("&", ",").strip() for r in m.group(1).split("\\\\")]
    return "[" + "; ".join(r for r in rows if r) + "]"


_SEGMENT = re.compile(r"\$([^$]*)\$")


def _braced(tex: str, start: int) -> tuple[str, int]:
    """The group {...} that opens at ``start``, and the index after it."""
    depth = 0
    for i in range(start, len(tex)):
        depth += {"{": 1, "}": -1}.get(tex[i], 0)
        if depth == 0:
            return tex[start + 1 : i], i + 1
    return tex[start + 1 :], len(tex)


def _unfrac(tex: str) -> str:
    r"""\frac{a}{b} -> (a)/(b), nested groups included."""
    out, i = [], 0
    while (j := tex.find(r"\frac{", i)) >= 0:
        out.append(tex[i:j])
        num, k = _braced(tex, j + 5)
        den, i = _braced(tex, k) if k < len(tex) and tex[k] == "{" else ("", k)
        out.append(f"({_unfrac(num)})/({_unfrac(den)})")
    out.append(tex[i:])
    return "".join(out)


_OPERATOR = re.compile(r"\\(?:operatorname|mathrm|text|mathbf)\{([^{}]*)\}")


def _plain_math(tex: str) -> str:
    tex = _MATRIX.sub(_plain_matrix, tex)
    tex = _ACCENT.sub(lambda m: m.group(2) + _COMBINING[m.group(1)], tex)
    out = _OPERATOR.sub(r"\1", _unfrac(tex))
    for macro, uni in sorted(_UNICODE.items(), key=lambda kv: -len(kv[0])):
        out = out.replace(macro, uni)
    return out.replace(r"\,", " ").replace("\\", "")


def why_text(why: str) -> str:
    """A justification for a terminal: math segments turned into unicode."""
    return _SEGMENT.sub(lambda m: _plain_math(m.group(1)), why)


_TEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def escape_tex(text: str) -> str:
    """Plain text made safe for LaTeX text mode."""
    return "".join(_TEX_ESCAPES.get(c, c) for c in text)


def prose_latex(text: str) -> str:
    """Prose for LaTeX text mode: escaped, with ``$...$`` math kept as math."""
    parts = []
    pos = 0
    for m in _SEGMENT.finditer(text):
        parts.append(escape_tex(text[pos : m.start()]))
        parts.append(m.group(0))
        pos = m.end()
    parts.append(escape_tex(text[pos:]))
    return "".join(parts)


def why_latex(why: str) -> str:
    """A justification for math mode: text in ``\\text{}``, math segments as they are."""
    parts = []
    pos = 0
    for m in _SEGMENT.finditer(why):
        if m.start() > pos:
            parts.append(r"\text{%s}" % escape_tex(why[pos : m.start()]))
        parts.append(m.group(1))
        pos = m.end()
    if pos < len(why):
        parts.append(r"\text{%s}" % escape_tex(why[pos:]))
    return " ".join(parts)


# ----- one derivation ----------------------------------------------------------------------


def _verdicts(report: DerivationReport | None, n: int) -> list[Verdict | None]:
    return [sv.verdict for sv in report.steps] if report is not None else [None] * n


def _rel_sign(derivation: Derivation, relation: str, plain: bool) -> str:
    if derivation.is_relational and relation == "=":
        return "⇔" if plain else r"\iff"
    return (_REL_TEXT if plain else _REL_LATEX)[relation]


def _pretty_lines(expr: Any) -> tuple[list[str], int]:
    form = PrettyPrinter({"use_unicode": True, "wrap_line": False})._print(expr)
    lines = form.render(wrap_line=False).split("\n")
    return lines, form.baseline


def _status_text(verdict: Verdict | None) -> str:
    if verdict is None:
        return ""
    text = f"{MARK_TEXT[verdict.status]} ({verdict.method}, {verdict.elapsed_s:.2f} s)"
    if verdict.counterexample is not None:
        text += "\n      counterexample: " + str(verdict).split("; at ", 1)[-1]
    return text


def header_text(derivation: Derivation, report: DerivationReport | None = None) -> str:
    status = f"  [{report.status}]" if report is not None else ""
    return f"{derivation.name}: {why_text(derivation.title)}{status}"


def to_text(derivation: Derivation, report: DerivationReport | None = None) -> str:
    """Unicode pretty printing, one block per step, with justifications and statuses."""
    out = [header_text(derivation, report)]
    if derivation.description:
        out += ["", *(f"  {line}" for line in why_text(derivation.description).splitlines()), ""]
    lines, _ = _pretty_lines(derivation.quantity)
    out += [f"    {line}" for line in lines]
    for step, verdict in zip(derivation.steps, _verdicts(report, len(derivation.steps))):
        lines, base = _pretty_lines(step.expr)
        sign = _rel_sign(derivation, step.relation, plain=True)
        for i, line in enumerate(lines):
            prefix = f"  {sign} " if i == base else "    "
            out.append(prefix + line)
        out.append(f"      [{why_text(step.why)}]  {_status_text(verdict)}".rstrip())
    return "\n".join(out)


def _latex_lines(derivation: Derivation, report: DerivationReport | None) -> list[str]:
    lines = []
    quantity = sp.latex(derivation.quantity)
    for i, (step, verdict) in enumerate(
        zip(derivation.steps, _verdicts(report, len(derivation.steps)))
    ):
        left = quantity if i == 0 else ""
        sign = _rel_sign(derivation, step.relation, plain=False)
        mark = f" & {MARK_LATEX[verdict.status]}" if verdict is not None else ""
        lines.append(f"{left} &{sign} {sp.latex(step.expr)} && {why_latex(step.why)}{mark}")
    return lines


def to_latex(derivation: Derivation, report: DerivationReport | None = None) -> str:
    """An ``align*`` block: one line per step, justification and status at the right."""
    body = " \\\\\n".join(_latex_lines(derivation, report))
    return "\\begin{align*}\n" + body + "\n\\end{align*}"


def to_markdown(derivation: Derivation, report: DerivationReport | None = None) -> str:
    """A Markdown section with the steps in ``$$\\begin{aligned}...\\end{aligned}$$``."""
    status = f" ({report.status})" if report is not None else ""
    head = f"### {derivation.title}{status}\n\n`{derivation.name}`"
    parts = [head]
    if derivation.description:
        parts.append(derivation.description)
    body = " \\\\\n".join(_latex_lines(derivation, report))
    parts.append("$$\n\\begin{aligned}\n" + body + "\n\\end{aligned}\n$$")
    return "\n\n".join(parts)


# ----- the whole document ------------------------------------------------------------------

_PREAMBLE = r"""\documentclass[11pt]{report}
\usepackage[T1]{fontenc}
\usepackage{lmodern}
\usepackage[margin=2.2cm]{geometry}
\usepackage{amsmath,amssymb}
\usepackage{longtable}
\usepackage{graphicx}
\usepackage[hidelinks]{hyperref}
\allowdisplaybreaks
\setlength{\parindent}{0pt}
\setlength{\parskip}{0.5em}
% A formula wider than the line is scaled down to fit; narrower ones keep their size.
\newcommand{\fitline}[1]{%
  \resizebox{\ifdim\width>\linewidth\linewidth\else\width\fi}{!}{$\displaystyle #1$}}
"""


def _summary_table(reports: Sequence[DerivationReport]) -> str:
    counts: dict[Status, int] = {}
    for r in reports:
        counts[r.status] = counts.get(r.status, 0) + 1
    items = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    return f"{len(reports)} derivations: {escape_tex(items)}."


def to_book_latex(derivation: Derivation, report: DerivationReport | None = None) -> str:
    """A derivation for the book: a step per line, the formula on the left (scaled
    down if wider than its column), its justification and status mark on the right."""
    quantity = sp.latex(derivation.quantity)
    parts = []
    for i, (step, verdict) in enumerate(
        zip(derivation.steps, _verdicts(report, len(derivation.steps)))
    ):
        left = quantity if i == 0 else r"\phantom{=}"
        sign = _rel_sign(derivation, step.relation, plain=False)
        mark = rf"\enspace${MARK_LATEX[verdict.status]}$" if verdict is not None else ""
        parts.append(
            r"\noindent\begin{minipage}[c]{0.64\linewidth}"
            rf"\fitline{{{left} {sign} {sp.latex(step.expr)}}}\end{{minipage}}\hfill"
            r"\begin{minipage}[c]{0.34\linewidth}\raggedleft\small "
            + prose_latex(step.why)
            + mark
            + r"\end{minipage}\par\medskip"
        )
    return "\n".join(parts)


def _book_intro(reports: Sequence[DerivationReport] | None) -> list[str]:
    out = [
        r"\chapter*{How to read this book}",
        r"\addcontentsline{toc}{chapter}{How to read this book}",
    ]
    if reports:
        out.append(_summary_table(list(reports)))
    out.append(
        r"Each line follows from the one before it for the reason given at its right; the mark"
        r" after the reason is the verifier's verdict: $\checkmark$ proved symbolically,"
        r" $\approx$ no proof within the time budget but equal at every random point tried at"
        r" 60 digits, $\boldsymbol{\times}$ refuted by a counterexample. Formulas wider than"
        r" the page are scaled to fit. The chapter on the numeric functions gives their"
        r" accuracy as measured when this document was made, and the last chapter lists the"
        r" errors found in the lecture notes the project started from."
    )
    return out


def _figures_latex(figures: Sequence[tuple[Any, str]]) -> list[str]:
    out = [r"\chapter{Figures}"]
    for path, caption in figures:
        out.append(
            r"\begin{figure}[htbp]\centering"
            rf"\includegraphics[width=\linewidth,height=0.6\textheight,keepaspectratio]{{{path}}}"
            rf"\caption{{{prose_latex(caption)}}}\end{{figure}}"
        )
    return out


def latex_document(
    derivations: Iterable[Derivation],
    reports: Sequence[DerivationReport] | None = None,
    *,
    title: str = "verigrad: the mathematics of machine learning, derived and verified",
    topics: Iterable[Any] | None = None,
    errata: Sequence[Any] | None = None,
    accuracy: Sequence[Any] | None = None,
    figures: Sequence[tuple[Any, str]] | None = None,
    date: str = r"\today",
) -> str:
    """The derivation book: a title page, the contents, one chapter per topic (a section
    per derivation), the accuracy of the numeric functions (``accuracy``: rows from
    :func:`derivations.accuracy.measure_all`), figures (``figures``: (PNG path, caption)
    pairs) and the errata of the notes check (``errata``: :class:`derivations.notes.ClaimCheck`).
    """
    from derivations.registry import TOPICS

    derivations = list(derivations)
    by_name = {r.derivation.name: r for r in reports or []}
    out = [
        _PREAMBLE,
        r"\title{%s}" % escape_tex(title),
        r"\author{verigrad}",
        r"\date{%s}" % date,
        r"\begin{document}",
        r"\maketitle",
        r"\tableofcontents",
        *_book_intro(reports),
    ]
    for topic in topics or TOPICS:
        members = [d for d in derivations if d.topic == topic.key]
        if not members:
            continue
        out.append(r"\chapter{%s}" % escape_tex(topic.title))
        out.append(r"From the notes: \emph{%s}." % escape_tex(topic.notes_section))
        for d in members:
            out.append(r"\section{%s}" % prose_latex(d.title))
            out.append(r"\texttt{%s}\par" % escape_tex(d.name))
            if d.description:
                out.append(prose_latex(d.description))
            out.append(to_book_latex(d, by_name.get(d.name)))
    if accuracy:
        from derivations.accuracy import rows_latex

        out.append(r"\chapter{The numeric functions: accuracy measured in this run}")
        out.append(
            "Error against the SymPy definition evaluated to 50 digits, in units in the last"
            " place of the true value, wherever it is a normal float64; for gradients, the"
            " largest relative difference between the implementation, the symbolic derivative"
            " and a complex-step finite difference."
        )
        out.append(rows_latex(accuracy))
    if figures:
        out.extend(_figures_latex(figures))
    if errata:
        out.append(errata_latex(errata, level="chapter"))
    out.append(r"\end{document}")
    return "\n\n".join(out) + "\n"


def markdown_document(
    derivations: Iterable[Derivation],
    reports: Sequence[DerivationReport] | None = None,
    *,
    title: str = "verigrad: the mathematics of machine learning, derived and verified",
    errata: Sequence[Any] | None = None,
    accuracy: Sequence[Any] | None = None,
) -> str:
    """Every derivation as GitHub-flavoured Markdown, one section per topic, then the
    accuracy of the numeric functions and the errata."""
    from derivations.registry import TOPICS

    derivations = list(derivations)
    by_name = {r.derivation.name: r for r in reports or []}
    out = [f"# {title}"]
    if reports:
        counts: dict[str, int] = {}
        for r in reports:
            counts[r.status] = counts.get(r.status, 0) + 1
        out.append(
            f"{len(reports)} derivations: "
            + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
            + "."
        )
    for topic in TOPICS:
        members = [d for d in derivations if d.topic == topic.key]
        if members:
            out.append(f"## {topic.title}\n\nFrom the notes: *{topic.notes_section}*.")
            out.extend(to_markdown(d, by_name.get(d.name)) for d in members)
    if accuracy:
        from derivations.accuracy import rows_markdown

        out.append(
            "## The numeric functions: accuracy measured in this run\n\n" + rows_markdown(accuracy)
        )
    if errata:
        out.append(notes_markdown(errata))
    return "\n\n".join(out) + "\n"


# ----- the notes check (errata) ------------------------------------------------------------


def _notes_counts(checks: Sequence[Any]) -> str:
    counts: dict[str, int] = {}
    for c in checks:
        counts[c.verdict.status] = counts.get(c.verdict.status, 0) + 1
    order = ["proved", "numerically-consistent", "refuted", "undecided"]
    parts = [f"{counts[k]} {k}" for k in order if k in counts]
    wrong = [c for c in checks if c.wrong]
    fixed = sum(1 for c in wrong if c.correction is not None and c.correction.proved)
    return f"{len(checks)} claims: {', '.join(parts)}; {fixed} of {len(wrong)} corrections proved"


def _counterexample_text(check: Any, *, latex: bool = False) -> str:
    """Where the two sides differ and their values; for LaTeX, the point as math."""
    point = check.verdict.counterexample or {}
    if latex:
        where = ", ".join(f"{sp.latex(k)} = {float_repr(v)}" for k, v in point.items())
        where = f"${where}$" if where else ""
    else:
        where = ", ".join(f"{_plain_math(str(k))} = {float_repr(v)}" for k, v in point.items())
    values = check.verdict.values
    sides = f"{values[0]} vs {values[1]}" if values else ""
    if latex:
        sides = escape_tex(sides)
    return f"at {where}: {sides}" if where else sides


def notes_text(checks: Sequence[Any]) -> str:
    """One line per claim (mark, section, id, the claim); the correction under a wrong one."""
    lines = []
    for c in checks:
        mark = MARK_TEXT[c.verdict.status].split()[0]
        claim = c.claim
        lines.append(f"{mark} {claim.id:<32} [{claim.section}] {_plain_math(claim.quote)}")
        if c.wrong:
            lines.append(f"      why: {claim.reason}")
            lines.append(f"      counterexample: {_counterexample_text(c)}")
            if claim.correction is not None and c.correction is not None:
                fix_mark = MARK_TEXT[c.correction.status].split()[0]
                lines.append(
                    f"      correction ({fix_mark} {c.correction.status}): "
                    f"{_plain_math(claim.correction.quote)}"
                )
    lines.append(_notes_counts(checks))
    return "\n".join(lines) + "\n"


def _md_math(tex: str) -> str:
    return "$" + tex.replace("|", r"\vert ") + "$"


def notes_markdown(checks: Sequence[Any]) -> str:
    """The notes check as Markdown: a table of every claim, then each erratum."""
    out = [
        "## Errata: the lecture notes checked",
        _notes_counts(checks) + ".",
        "| | claim | section | the notes say |\n|---|---|---|---|",
    ]
    rows = [
        f"| {MARK_TEXT[c.verdict.status].split()[0]} | `{c.claim.id}` | {c.claim.section}"
        f" | {_md_math(c.claim.quote)} |"
        for c in checks
    ]
    out[-1] += "\n" + "\n".join(rows)
    for c in checks:
        if not c.wrong or c.claim.correction is None:
            continue
        fix_status = c.correction.status if c.correction is not None else "unchecked"
        out.append(
            f"### `{c.claim.id}` ({c.claim.section})\n\n"
            f"The notes: $${c.claim.quote}$$\n\n"
            f"Wrong: {c.claim.reason}. Counterexample {_counterexample_text(c, latex=True)}.\n\n"
            f"Correct ({fix_status}): $${c.claim.correction.quote}$$"
        )
    return "\n\n".join(out) + "\n"


def errata_latex(checks: Sequence[Any], *, level: str = "section") -> str:
    """The errata of the notes check: a ``\\chapter`` in the book, a ``\\section`` alone."""
    sub = "section" if level == "chapter" else "subsection"
    out = [
        rf"\{level}{{Errata: the lecture notes checked}}",
        r"\label{errata}",
        r"Every formula claim of the lecture notes, in their order, checked by the verifier."
        r" " + escape_tex(_notes_counts(checks)) + ".",
    ]
    for c in checks:
        if not c.wrong or c.claim.correction is None:
            continue
        fix = c.correction
        fix_mark = MARK_LATEX[fix.status] if fix is not None else "?"
        out.append(
            r"\%s*{%s \normalfont(%s)}" % (sub, escape_tex(c.claim.id), escape_tex(c.claim.section))
            + "\n"
            + r"\begin{sloppypar}The notes say \[ %s \] %s Counterexample: %s.\end{sloppypar}"
            % (
                c.claim.quote,
                escape_tex(c.claim.reason[:1].upper() + c.claim.reason[1:] + "."),
                _counterexample_text(c, latex=True),
            )
            + "\n"
            + r"Correct: \[ %s \qquad %s \]" % (c.claim.correction.quote, fix_mark)
        )
    out.append(r"\%s*{All claims}" % sub)
    out.append(r"\begin{longtable}{@{}l l p{0.4\linewidth}@{}}")
    for c in checks:
        out.append(
            r"$%s$ & \texttt{%s} & %s \\"
            % (
                MARK_LATEX[c.verdict.status].split(r"\ ")[0],
                escape_tex(c.claim.id),
                escape_tex(c.claim.section),
            )
        )
    out.append(r"\end{longtable}")
    return "\n\n".join(out)


def run_pdflatex(tex: Path, *, timeout_s: float = 600) -> subprocess.CompletedProcess[str]:
    """One pdflatex pass over ``tex``, in its folder, stopping at the first error."""
    return subprocess.run(
        ["pdflatex", "-halt-on-error", "-interaction=nonstopmode", tex.name],
        cwd=tex.parent,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
