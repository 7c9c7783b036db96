"""The leaderboard: entries in ``leaderboard/results/<env id>/*.json`` rendered as Markdown and a static page.

``empg-leaderboard`` subcommands:

- ``add ENTRY...``: publish entries (written by ``empg-eval``, anywhere): validate each against the schema
  and the leaderboard rules, copy it to ``results/<env id>/<agent>_<split>_<data>.json`` and rebuild the
  pages. Nothing is copied when an entry is invalid; an existing entry is only replaced with ``--replace``.
- ``build [--check]``: validate every entry and (re)write ``leaderboard/LEADERBOARD.md`` and
  ``leaderboard/index.html``. ``--check`` writes nothing and fails when they are stale.
- ``validate FILE...``: check entries against the schema and the rules, with every problem listed.
- ``compare A.json B.json``: paired bootstrap differences and McNemar's test (:mod:`empg_gym.eval.compare`);
  the files may be anywhere.
- ``migrate FILE...``: upgrade schema-1 entries (no data provenance), or entries with a fallback provenance,
  in place, recording the provenance of the env their recorded kwargs build in the current environment.
- ``rerun FILE...``: re-run the ``empg-eval`` command recorded in entries and replace them (then rebuild).
- ``serve [--port]``: the page and a JSON API (``/api/entries``, ``/api/entries/<env id>``,
  ``/api/compare?a=<file>&b=<file>``, ``/api/skipped``) with flask, on 127.0.0.1 only.
- ``show``: print the tables in the terminal.

Grouping: a table holds only entries measured on the same env, split and task list, which includes the
data (the task-list hash covers the env's data provenance): real and generated data never share a table,
and neither do two different catalogs. Tables are ordered by env, split, then real, generated and builtin
data. Numbers copied from papers ("reported") get a table of their own per env.

A torn or invalid entry file never takes the board down: ``build``, ``show`` and ``serve`` skip it, render the
rest and name the skipped file with its problem (on the pages, and on stderr; ``build`` then exits 1).

The rendered files depend only on the entries (no build date), so a test can check they are current.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from empg_gym._io import write_json_atomic, write_text_atomic
from empg_gym.eval.entry import default_root
from empg_gym.eval.schema import EntryError, load_entry, read_entry, validate_entry
from empg_gym.eval.tasks import DATA_KINDS, describe_data

__all__ = ["Board", "Group", "Row", "add_entry", "build", "default_root", "load_board", "main", "make_app",
           "render_html", "render_markdown"]

#: Short column labels of known task types (ALFWorld's six, in the paper's order).
TYPE_LABELS: dict[str, str] = {
    "pick_and_place_simple": "Pick",
    "look_at_obj_in_light": "Look",
    "pick_clean_then_place_in_recep": "Clean",
    "pick_heat_then_place_in_recep": "Heat",
    "pick_cool_then_place_in_recep": "Cool",
    "pick_two_obj_and_place": "Pick2",
}


@dataclass(frozen=True)
class Row:
    """One entry on the board.

    Attributes:
        path: The entry file, relative to the leaderboard root.
        entry: The validated entry.
    """

    path: str
    entry: Mapping[str, Any]

    @property
    def env_id(self) -> str:
        """The env ID."""
        return str(self.entry["env"]["id"])

    @property
    def reported(self) -> bool:
        """Numbers copied from a paper (not reproduced here)."""
        return self.entry["kind"] == "reported"

    @property
    def label(self) -> str:
        """Display name."""
        return str(self.entry["agent"]["name"])

    def value(self, key: str, block: str = "metrics") -> float | None:
        """A metric's mean, or None."""
        src = self.entry.get(block, {})
        m = src.get(key) if block == "metrics" else src.get(key, {}).get("success")
        return None if not m else m.get("mean")

    def ci(self, key: str, block: str = "metrics") -> list[float] | None:
        """A metric's CI, or None."""
        src = self.entry.get(block, {})
        m = src.get(key) if block == "metrics" else src.get(key, {}).get("success")
        return None if not m else m.get("ci")


@dataclass
class Group:
    """One table: entries on the same env, split and task list (data included), or an env's reported rows.

    Attributes:
        env_id: The env ID.
        split: The split (None for reported rows).
        task_hash: The task-list hash (None for reported rows).
        data: The data provenance shared by the rows (None for reported rows).
        rows: Best success first.
    """

    env_id: str
    split: str | None
    task_hash: str | None
    data: Mapping[str, Any] | None
    rows: list[Row] = field(default_factory=list)

    @property
    def reported(self) -> bool:
        """Numbers copied from papers."""
        return self.task_hash is None

    @property
    def title(self) -> str:
        """The table's heading."""
        if self.reported:
            return ("reported by papers (original benchmarks; not reproduced here, not paired with the "
                    "tables above)")
        return f"{self.split} · {describe_data(self.data)} · task list {self.task_hash}"

    @property
    def anchor(self) -> str:
        """An id for the HTML table."""
        key = f"{self.env_id}-{self.split or 'reported'}-{self.task_hash or ''}"
        return "board-" + "".join(ch if ch.isalnum() else "-" for ch in key).strip("-")


@dataclass
class Board:
    """The valid entries in tables, and the files that were skipped with their problem."""

    groups: list[Group]
    skipped: list[tuple[str, str]]

    def by_env(self) -> dict[str, list[Group]]:
        """Groups per env, in board order."""
        out: dict[str, list[Group]] = {}
        for g in self.groups:
            out.setdefault(g.env_id, []).append(g)
        return out

    def rows(self) -> list[Row]:
        """Every row, in board order."""
        return [r for g in self.groups for r in g.rows]


def _group_key(r: Row) -> tuple[Any, ...]:
    e = r.entry
    if r.reported:
        return (r.env_id, 1, "", 0, "")
    kind = e["data"]["kind"]
    order = DATA_KINDS.index(kind) if kind in DATA_KINDS else len(DATA_KINDS)
    return (r.env_id, 0, e["split"], order, e["task_list"]["hash"])


def load_board(root: str | os.PathLike) -> Board:
    """Validate every entry under ``root/results`` and group them into tables (see the module docstring).

    Invalid entries (torn files, schema or consistency problems) are skipped and listed in ``skipped`` as
    ``(path relative to root, first problem and count)``; they never make the whole board fail.
    """
    root = Path(root)
    groups: dict[tuple[Any, ...], Group] = {}
    skipped: list[tuple[str, str]] = []
    for p in sorted((root / "results").rglob("*.json")):
        rel = p.relative_to(root).as_posix()
        try:
            entry = load_entry(p, documented=True, in_tree=True)
        except EntryError as e:
            more = f" (and {len(e.problems) - 1} more; run `empg-leaderboard validate {rel}`)" \
                if len(e.problems) > 1 else ""
            skipped.append((rel, e.problems[0] + more))
            continue
        row = Row(rel, entry)
        key = _group_key(row)
        if key not in groups:
            groups[key] = Group(row.env_id, None if row.reported else entry["split"],
                                None if row.reported else entry["task_list"]["hash"],
                                None if row.reported else entry["data"])
        groups[key].rows.append(row)
    for g in groups.values():
        g.rows.sort(key=lambda r: (-(r.value("success") or 0.0), -(r.value("score") or 0.0), r.label))
    return Board([groups[k] for k in sorted(groups)], skipped)


def _types(rows: Sequence[Row]) -> list[str]:
    names = {t for r in rows for t in r.entry.get("per_type", {})}
    order = list(TYPE_LABELS)
    return sorted(names, key=lambda t: (order.index(t) if t in order else len(order), t))


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}"


def _pct_ci(r: Row, key: str, block: str = "metrics") -> str:
    v, ci = r.value(key, block), r.ci(key, block)
    if v is None:
        return "–"
    return _pct(v) + (f" [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]" if ci else "")


def _num(x: float | None, fmt: str = ".1f") -> str:
    return "–" if x is None else format(x, fmt)


def _agent_cell(r: Row) -> str:
    name = f"{r.label} *(reported)*" if r.reported else r.label
    return name + (" ⚠ all actions invalid" if "all_actions_invalid" in r.entry.get("warnings", []) else "")


def _commit_cell(e: Mapping[str, Any]) -> str:
    c = e.get("git_commit") or ""
    if not c:
        return "–"
    return c[:10] + (" (dirty)" if c.endswith("-dirty") else "")


def _split_cell(r: Row) -> str:
    e = r.entry
    if r.reported:
        return f"{e['split']} (paper's)"
    return f"{e['split']} ({e['task_list']['n_tasks']} tasks x {len(e['seeds'])} seeds)"


def _skipped_md(skipped: Sequence[tuple[str, str]]) -> list[str]:
    if not skipped:
        return []
    out = ["## Skipped entries", "", "These files are not valid entries and are left out of the tables:", ""]
    out += [f"- `{path}`: {problem}" for path, problem in skipped]
    return out + [""]


def render_markdown(board: Board) -> str:
    """``LEADERBOARD.md``: per env, one table per (split, task list + data), then the reported rows."""
    out = ["# empg-gym leaderboard", "",
           "Generated by `empg-leaderboard build` from `leaderboard/results/`; do not edit by hand. Rules: "
           "[README.md](README.md). Success and score in %, with 95% bootstrap CIs in brackets. A table "
           "holds only entries on the same task list and data (real and generated data never share one). "
           "Rows marked *reported* are numbers copied from papers (different models, compute and, for our "
           "re-implemented envs, a different simulator), shown for scale, not reproduced here.", ""]
    for env_id, groups in board.by_env().items():
        out += [f"## {env_id}", ""]
        for g in groups:
            rows = g.rows
            types = _types(rows)
            out += [f"### {g.title}", ""]
            if g.reported:  # papers give success/score (some per type), nothing else
                head = ["agent", "success %", "score %"] + [TYPE_LABELS.get(t, t) for t in types] + ["split"]
            else:
                head = ["#", "agent", "success % [95% CI]", "score % [95% CI]", "steps", "invalid %",
                        "tokens/ep", "split (tasks x seeds)"] + [TYPE_LABELS.get(t, t) for t in types]
                head += ["commit", "date"]
            out.append("| " + " | ".join(head) + " |")
            out.append("|" + "|".join("---" for _ in head) + "|")
            for rank, r in enumerate(rows, 1):
                e = r.entry
                per_type = [_pct(r.value(t, "per_type")) for t in types]
                if g.reported:
                    cells = [_agent_cell(r), _pct_ci(r, "success"), _pct_ci(r, "score"), *per_type,
                             _split_cell(r)]
                else:
                    cells = [str(rank), _agent_cell(r), _pct_ci(r, "success"), _pct_ci(r, "score"),
                             _num(r.value("steps")), _pct(r.value("invalid_action_rate")),
                             _num(r.value("tokens_per_episode"), ".0f"), _split_cell(r), *per_type,
                             _commit_cell(e), e["date"][:10]]
                out.append("| " + " | ".join(cells) + " |")
            if g.reported:
                sources = sorted({r.entry["reported"]["source"] for r in rows})
                out += ["", "Sources: " + "; ".join(sources) + ". Measured by the paper on the original "
                        "benchmark with its own models, compute and task list; not reproduced here, not "
                        "paired with the rows above."]
            out.append("")
    if not board.groups:
        out += ["No entries yet.", ""]
    out += _skipped_md(board.skipped)
    return "\n".join(out)


_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse;margin-bottom:2rem;font-size:14px}
th,td{border-bottom:1px solid #ddd;padding:4px 8px;text-align:right;white-space:nowrap}
th{cursor:pointer;background:#f4f4f4;user-select:none}
th.sorted-asc::after{content:" \\25B2"} th.sorted-desc::after{content:" \\25BC"}
td.agent,th.agent{text-align:left}
tr.reported td{color:#777;font-style:italic}
.bar{display:inline-block;position:relative;width:100px;height:10px;background:#eee;vertical-align:middle;margin-left:6px}
.bar .ci{position:absolute;top:0;height:10px;background:#8ab4f8}
.bar .mean{position:absolute;top:-2px;width:2px;height:14px;background:#1a4fa0}
.note{color:#555;max-width:60rem}
"""

_JS = """
document.querySelectorAll('table.board').forEach(function(table){
  table.querySelectorAll('th').forEach(function(th, col){
    th.addEventListener('click', function(){
      var asc = !th.classList.contains('sorted-asc');
      table.querySelectorAll('th').forEach(function(h){h.classList.remove('sorted-asc','sorted-desc');});
      th.classList.add(asc ? 'sorted-asc' : 'sorted-desc');
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function(a, b){
        var x = a.cells[col].dataset.sort, y = b.cells[col].dataset.sort;
        var nx = parseFloat(x), ny = parseFloat(y);
        var c = (isNaN(nx) || isNaN(ny)) ? String(x).localeCompare(String(y)) : nx - ny;
        return asc ? c : -c;
      });
      rows.forEach(function(r){body.appendChild(r);});
    });
  });
});
"""


def _bar(v: float | None, ci: list[float] | None) -> str:
    if v is None:
        return ""
    parts = ['<span class="bar">']
    if ci:
        lo, hi = max(0.0, ci[0]), min(1.0, ci[1])
        parts.append(f'<span class="ci" style="left:{100 * lo:.1f}%;width:{100 * (hi - lo):.1f}%"></span>')
    parts.append(f'<span class="mean" style="left:{100 * min(max(v, 0.0), 1.0):.1f}%"></span></span>')
    return "".join(parts)


def _td(text: str, sort: Any, cls: str = "", extra: str = "", title: str = "") -> str:
    s = "" if sort is None else sort
    c = f' class="{cls}"' if cls else ""
    t = f' title="{html.escape(title)}"' if title else ""
    return f'<td{c} data-sort="{html.escape(str(s))}"{t}>{html.escape(text)}{extra}</td>'


def render_html(board: Board) -> str:
    """The static page: per env, one sortable table per (split, task list + data) (click a header)."""
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           "<title>empg-gym leaderboard</title>", f"<style>{_CSS}</style></head><body>",
           "<h1>empg-gym leaderboard</h1>",
           '<p class="note">Generated by <code>empg-leaderboard build</code> from '
           "<code>leaderboard/results/</code>. Success and score in %; bars show the 95% bootstrap CI "
           "(light) and the mean (dark) on a 0-100% scale. A table holds only entries on the same task list "
           "and data (real and generated data never share one). "
           "Grey italic rows are <b>reported</b> numbers copied from papers, not reproduced here. "
           "Click a column header to sort.</p>"]
    for env_id, groups in board.by_env().items():
        out.append(f"<h2>{html.escape(env_id)}</h2>")
        for g in groups:
            out.append(_html_table(g))
    if not board.groups:
        out.append("<p>No entries yet.</p>")
    if board.skipped:
        out.append('<h2>Skipped entries</h2><p class="note">These files are not valid entries and are left '
                   "out of the tables:</p><ul>")
        out += [f"<li><code>{html.escape(path)}</code>: {html.escape(problem)}</li>"
                for path, problem in board.skipped]
        out.append("</ul>")
    out.append(f"<script>{_JS}</script></body></html>")
    return "\n".join(out) + "\n"


def _html_table(g: Group) -> str:
    rows = g.rows
    types = _types(rows)
    out = [f"<h3>{html.escape(g.title)}</h3>", f'<table class="board" id="{g.anchor}"><thead><tr>']
    if g.reported:  # papers give success/score (some per type), nothing else
        heads = ["agent", "success %", "score %"] + [TYPE_LABELS.get(t, t) for t in types]
    else:
        heads = ["#", "agent", "success %", "score %", "steps", "invalid %", "tokens/ep", "episodes"]
        heads += [TYPE_LABELS.get(t, t) for t in types] + ["commit", "date"]
    out.append("".join(f'<th class="{"agent" if h == "agent" else ""}">{html.escape(h)}</th>' for h in heads))
    out.append("</tr></thead><tbody>")
    for rank, r in enumerate(rows, 1):
        e = r.entry
        tr = ['<tr class="reported">' if r.reported else "<tr>"]
        if not r.reported:
            tr.append(_td(str(rank), rank))
        title = e["reported"]["source"] + ". " + e["reported"].get("note", "") if r.reported else \
            f"{r.path} | spec {e['agent'].get('spec_hash')} | {e.get('command') or ''}"
        name = r.label + (" (reported)" if r.reported else "")
        warn = " ⚠ all actions invalid" if "all_actions_invalid" in e.get("warnings", []) else ""
        tr.append(_td(name + warn, name, "agent", title=title))
        for key in ("success", "score"):
            v, ci = r.value(key), r.ci(key)
            text = _pct(v) + (f" [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]" if ci else "")
            tr.append(_td(text, -1 if v is None else v, extra=_bar(v, ci)))
        if not r.reported:
            tr.append(_td(_num(r.value("steps")), r.value("steps") if r.value("steps") is not None else -1))
            inv = r.value("invalid_action_rate")
            tr.append(_td(_pct(inv), -1 if inv is None else inv))
            tok = r.value("tokens_per_episode")
            tr.append(_td(_num(tok, ".0f"), -1 if tok is None else tok))
            n = e.get("episodes")
            tr.append(_td("–" if n is None else str(n), -1 if n is None else n))
        for t in types:
            v, ci = r.value(t, "per_type"), r.ci(t, "per_type")
            tr.append(_td(_pct(v), -1 if v is None else v, extra=_bar(v, ci)))
        if not r.reported:
            commit = _commit_cell(e)
            tr.append(_td(commit, commit, title=e.get("git_commit") or ""))
            tr.append(_td(e["date"][:10], e["date"]))
        tr.append("</tr>")
        out.append("".join(tr))
    out.append("</tbody></table>")
    return "\n".join(out)


def build(root: str | os.PathLike, *, check: bool = False) -> tuple[list[Path], list[tuple[str, str]]]:
    """Render ``LEADERBOARD.md`` and ``index.html`` under ``root``.

    Args:
        root: The leaderboard folder.
        check: Write nothing; return the files that are missing or stale.

    Returns:
        The files written (or, with ``check``, the stale ones), and the skipped invalid entries
        ``(path, problem)``.
    """
    root = Path(root)
    board = load_board(root)
    files = {root / "LEADERBOARD.md": render_markdown(board), root / "index.html": render_html(board)}
    changed = [p for p, text in files.items() if not p.exists() or p.read_text(encoding="utf-8") != text]
    if not check:
        for p in changed:
            write_text_atomic(p, files[p])
    return changed, board.skipped


def entry_filename(entry: Mapping[str, Any]) -> str:
    """``<agent>_<split>_<data kind>.json`` (reported: ``paper_<agent>.json``).

    The data part keeps entries of one agent on real and on generated data apart.
    """
    def slug(x: str) -> str:
        return "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in x.lower()).strip("-") or "entry"

    name = slug(str(entry["agent"]["name"]))
    if entry.get("kind") == "reported":
        return f"paper_{name}.json"
    return f"{name}_{slug(entry['split'])}_{entry['data']['kind']}.json"


def add_entry(root: str | os.PathLike, path: str | os.PathLike, *, name: str | None = None,
              replace: bool = False) -> Path:
    """Publish one entry file: validate it (leaderboard rules) and copy it into ``root/results/<env id>/``.

    Args:
        root: The leaderboard folder.
        path: The entry file (e.g. what ``empg-eval`` wrote under ``runs/``).
        name: File name in the leaderboard (default :func:`entry_filename`).
        replace: Overwrite an existing, different entry of that name.

    Returns:
        The published file.

    Raises:
        EntryError: The entry is invalid (nothing is copied).
        FileExistsError: A different entry of that name exists and ``replace`` is false.
    """
    entry = load_entry(path, documented=True)
    fname = name or entry_filename(entry)
    if not fname.endswith(".json") or "/" in fname or fname.startswith("."):
        raise ValueError(f"--as {fname!r}: give a plain file name ending in .json")
    dest = Path(root) / "results" / Path(*entry["env"]["id"].split("/")) / fname
    validate_entry(entry, path=dest, documented=True, in_tree=True)
    if dest.exists() and not replace:
        try:
            same = read_entry(dest) == entry
        except EntryError:
            same = False
        if not same:
            raise FileExistsError(f"{dest} exists and holds another entry; pass --replace to overwrite it, "
                                  "or --as NAME.json to publish under another name")
    dest.parent.mkdir(parents=True, exist_ok=True)
    if Path(path).resolve() != dest.resolve():
        write_json_atomic(dest, entry)
    return dest


def make_app(root: str | os.PathLike):
    """The flask app of ``empg-leaderboard serve``.

    Routes: ``/`` (the page, rendered from the entries on each request), ``/api/entries``,
    ``/api/entries/<env id>``, ``/api/compare?a=<path>&b=<path>`` (paths relative to the root),
    ``/api/skipped`` (invalid entry files left out, with their problem). An invalid entry never makes a page
    fail: it is skipped and listed.
    """
    from empg_gym._optional import require

    flask = require("flask", "serve", "empg-leaderboard serve")
    from empg_gym.eval.compare import ComparisonError, compare_entries

    root = Path(root).resolve()
    app = flask.Flask("empg_leaderboard")

    def board() -> Board:
        return load_board(root)

    @app.get("/")
    def index():  # noqa: ANN202
        return flask.Response(render_html(board()), mimetype="text/html")

    @app.get("/api/entries")
    def entries():  # noqa: ANN202
        return flask.jsonify([{"path": r.path, **r.entry} for r in board().rows()])

    @app.get("/api/skipped")
    def skipped():  # noqa: ANN202
        return flask.jsonify([{"path": p, "problem": why} for p, why in board().skipped])

    @app.get("/api/entries/<path:env_id>")
    def env_entries(env_id: str):  # noqa: ANN202
        by_env = board().by_env()
        if env_id not in by_env:
            return flask.jsonify({"error": f"no entries for {env_id}", "envs": list(by_env)}), 404
        return flask.jsonify([{"path": r.path, **r.entry} for g in by_env[env_id] for r in g.rows])

    @app.get("/api/compare")
    def compare():  # noqa: ANN202
        args = flask.request.args
        try:
            a, b = (_resolve_inside(root, args.get(k, "")) for k in ("a", "b"))
            return flask.jsonify(compare_entries(load_entry(a), load_entry(b)))
        except (ComparisonError, EntryError, FileNotFoundError, ValueError) as e:
            return flask.jsonify({"error": str(e)}), 400

    return app


def _resolve_inside(root: Path, rel: str) -> Path:
    """``root / rel``, refusing paths that leave ``root``."""
    if not rel:
        raise ValueError("give both ?a=<entry path> and &b=<entry path> (relative to the leaderboard root)")
    p = (root / rel).resolve()
    if root not in p.parents:
        raise ValueError(f"{rel!r} is not inside the leaderboard")
    if not p.is_file():
        raise FileNotFoundError(f"no entry {rel!r}")
    return p


def show(root: str | os.PathLike, env_id: str | None = None) -> list[tuple[str, str]]:
    """Print the leaderboard tables in the terminal (rich); only ``env_id``'s when given.

    Returns:
        The skipped invalid entries ``(path, problem)`` (also printed, on stderr).
    """
    from rich.console import Console
    from rich.table import Table

    class _Console(Console):
        def on_broken_pipe(self) -> None:  # rich would exit 1 by itself; let main() handle it like print
            raise BrokenPipeError

    console = _Console()
    if not console.is_terminal:  # piped or in CI: do not squeeze the tables into 80 columns
        console = _Console(width=200)
    board = load_board(root)
    for g in board.groups:
        if env_id is not None and g.env_id != env_id:
            continue
        types = _types(g.rows)
        t = Table(title=f"{g.env_id}: {g.title}", title_justify="left")
        for col in ["agent", "success % [95% CI]", "score %", "steps", "invalid %", "episodes"]:
            t.add_column(col, justify="left" if col == "agent" else "right")
        for ty in types:
            t.add_column(TYPE_LABELS.get(ty, ty), justify="right")
        for r in g.rows:
            t.add_row(_agent_cell(r).replace("*", ""), _pct_ci(r, "success"),
                      _pct(r.value("score")), _num(r.value("steps")), _pct(r.value("invalid_action_rate")),
                      str(r.entry.get("episodes", "–")), *[_pct(r.value(ty, "per_type")) for ty in types],
                      style="dim italic" if r.reported else None)
        console.print(t)
    _report_skipped(board.skipped)
    return board.skipped


def _report_skipped(skipped: Sequence[tuple[str, str]]) -> None:
    for path, why in skipped:
        print(f"empg-leaderboard: skipped invalid entry {path}: {why}", file=sys.stderr)


def migrate_file(path: str | os.PathLike) -> dict[str, Any]:
    """Upgrade an entry file in place (see :func:`empg_gym.eval.entry.migrate_entry`).

    A schema-1 measured entry, or one with a fallback data provenance, gets the data provenance of the env
    built from its recorded env id and kwargs in the current environment (so set the data environment
    variables, e.g. ``WEBSHOP_DATA``, as when it was measured); a schema-1 reported entry only gets its
    version bumped.

    Returns:
        The migrated entry (validated).

    Raises:
        EntryError: The file is not an entry, or the migrated entry does not validate.
        ValueError: Nothing to migrate, or the env's data is not of the kind the entry was measured on.
    """
    import gymnasium as gym

    import empg_gym  # noqa: F401  (registers the envs)
    from empg_gym.eval.entry import SCHEMA_VERSION, migrate_entry
    from empg_gym.eval.tasks import data_provenance

    entry = read_entry(path)
    if not isinstance(entry, dict):
        raise ValueError(f"{path}: not an entry (a JSON {type(entry).__name__})")
    if entry.get("kind") == "reported":
        if entry.get("schema_version") != 1:
            raise ValueError(f"{path}: nothing to migrate (schema_version {entry.get('schema_version')!r})")
        new = {**entry, "schema_version": SCHEMA_VERSION}
    else:
        try:
            env = gym.make(entry["env"]["id"], **entry["env"].get("kwargs", {}))
        except Exception as e:  # the env's own message: a missing data folder, an unknown kwarg
            raise ValueError(f"{path}: cannot build {entry['env']['id']} with its recorded kwargs: "
                             f"{e}") from e
        try:
            prov = data_provenance(env, entry["env"]["id"])
        finally:
            env.close()
        try:
            new = migrate_entry(entry, prov)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None
    validate_entry(new, path=path)
    write_json_atomic(path, new)
    return new


def rerun_file(path: str | os.PathLike) -> Path:
    """Re-run the ``empg-eval`` command recorded in a leaderboard entry and replace the entry with the result.

    The command runs in this process with ``--out`` pointing to a temporary file (``--fresh``, no progress
    bar), in the current environment; the new entry must be valid, measured on the same kind of data
    (real, generated, builtin) as the old one, and is written as :func:`entry_filename` next to the old file
    (which is removed when the name changed). For baseline entries that take seconds; an LLM entry re-runs
    its model.

    Returns:
        The new entry's path.

    Raises:
        EntryError: The file is not a valid entry, or the re-run's entry is invalid.
        ValueError: No recorded ``empg-eval`` command, the re-run failed, or it ran on another kind of data.
    """
    import contextlib
    import io
    import shlex
    import tempfile

    from empg_gym.eval.harness import main as eval_main

    path = Path(path)
    old = read_entry(path)
    command = old.get("command") if isinstance(old, dict) else None
    argv = shlex.split(command) if isinstance(command, str) else []
    if old.get("kind") != "measured" or not argv or argv[0] != "empg-eval":
        raise ValueError(f"{path}: no recorded empg-eval command to re-run")
    args: list[str] = []
    skip = False
    for a in argv[1:]:  # drop --out (the result goes to a temporary file first) and --fresh
        if skip:
            skip = False
        elif a == "--out":
            skip = True
        elif not a.startswith("--out=") and a not in ("--fresh", "--no-progress"):
            args.append(a)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "entry.json"
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):  # the summary, without the temporary path and its hints
            rc = eval_main([*args, "--no-progress", "--fresh", "--out", str(out)])
        print("".join(line for line in buf.getvalue().splitlines(keepends=True)
                      if not line.startswith(("entry: ", "publish it: "))), end="")
        if rc != 0 or not out.is_file():
            raise ValueError(f"{path}: re-running {command!r} failed (exit status {rc})")
        new = load_entry(out, documented=True)
    old_kind = (old.get("data") or {}).get("kind")
    if old_kind is not None and new["data"]["kind"] != old_kind:
        raise ValueError(f"{path}: the re-run used {new['data']['kind']} data but the entry was measured on "
                         f"{old_kind} data; set the data options (e.g. WEBSHOP_DATA) as when it was measured")
    new["command"] = command  # the command as the leaderboard documents it, without the temporary --out
    dest = path.with_name(entry_filename(new))
    validate_entry(new, path=dest, documented=True, in_tree=True)
    write_json_atomic(dest, new)
    if dest.resolve() != path.resolve():
        path.unlink()
    return dest


def main(argv: Sequence[str] | None = None) -> int:
    """``empg-leaderboard add|build|validate|compare|migrate|rerun|serve|show``."""
    from empg_gym.eval._cli import pipe_closed

    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="empg-leaderboard", description=__doc__.split("\n\n")[0])
    p.add_argument("--root", default=None, help="leaderboard folder (default: ./leaderboard of the checkout, "
                   "or $EMPG_LEADERBOARD)")
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("add", help="validate entries and publish them into results/, then rebuild the pages")
    a.add_argument("files", nargs="+", metavar="ENTRY")
    a.add_argument("--as", dest="name", default=None, metavar="NAME.json",
                   help="file name in results/<env id>/ (one entry only; default "
                   "<agent>_<split>_<data kind>.json)")
    a.add_argument("--replace", action="store_true", help="overwrite an existing, different entry")
    a.add_argument("--no-build", action="store_true", help="do not rebuild LEADERBOARD.md and index.html")
    b = sub.add_parser("build", help="render LEADERBOARD.md and index.html from the entries")
    b.add_argument("--check", action="store_true", help="fail if they are stale instead of writing")
    v = sub.add_parser("validate", help="validate entry files (leaderboard rules)")
    v.add_argument("files", nargs="+")
    c = sub.add_parser("compare", help="paired comparison of two entries (A - B), from anywhere")
    c.add_argument("a")
    c.add_argument("b")
    c.add_argument("--json", action="store_true", help="print JSON")
    m = sub.add_parser("migrate", help="upgrade schema-1 entry files (or a fallback data provenance) in "
                       "place, recording the data provenance of the env their kwargs build now")
    m.add_argument("files", nargs="+")
    r = sub.add_parser("rerun", help="re-run the empg-eval command recorded in entries and replace them")
    r.add_argument("files", nargs="+")
    r.add_argument("--no-build", action="store_true", help="do not rebuild LEADERBOARD.md and index.html")
    s = sub.add_parser("serve", help="serve the page and the JSON API on 127.0.0.1")
    s.add_argument("--port", type=int, default=8765)
    sh = sub.add_parser("show", help="print the tables")
    sh.add_argument("--env", default=None, help="only this env id")
    args = p.parse_args(argv)
    root = Path(args.root) if args.root else default_root()
    try:
        return _run(args, root)
    except BrokenPipeError:  # `empg-leaderboard show | head`: the reader went away, nothing failed
        pipe_closed()
        return 0


def _run(args: argparse.Namespace, root: Path) -> int:
    """The subcommand's work; the exit status."""
    if args.cmd == "add":
        if args.name and len(args.files) > 1:
            print("empg-leaderboard add: --as names one entry; give one file", file=sys.stderr)
            return 2
        bad = 0
        for f in args.files:
            try:
                dest = add_entry(root, f, name=args.name, replace=args.replace)
                print(f"added {f} -> {dest}")
            except EntryError as e:
                bad += 1
                print(f"empg-leaderboard add: not added, {e}", file=sys.stderr)
            except (FileExistsError, ValueError) as e:
                bad += 1
                print(f"empg-leaderboard add: not added: {e}", file=sys.stderr)
        if not args.no_build and bad < len(args.files):
            changed, skipped = build(root)
            print("wrote " + (", ".join(map(str, changed)) if changed else "nothing (up to date)"))
            _report_skipped(skipped)
        return 1 if bad else 0
    if args.cmd == "build":
        changed, skipped = build(root, check=args.check)
        _report_skipped(skipped)
        if args.check:
            if changed:
                print("stale (run `empg-leaderboard build`): " + ", ".join(map(str, changed)),
                      file=sys.stderr)
                return 1
            note = f" ({len(skipped)} invalid entries skipped)" if skipped else ""
            print("leaderboard is up to date" + note)
        else:
            print("wrote " + (", ".join(map(str, changed)) if changed else "nothing (up to date)"))
        return 1 if skipped else 0
    if args.cmd in ("validate", "migrate", "rerun"):
        bad = 0
        for f in args.files:
            try:
                if args.cmd == "validate":
                    load_entry(f, documented=True)
                    print(f"ok: {f}")
                elif args.cmd == "migrate":
                    migrate_file(f)
                    print(f"migrated: {f}")
                else:
                    print(f"re-ran {f} -> {rerun_file(f)}")
            except EntryError as e:
                bad += 1
                print(str(e), file=sys.stderr)
            except ValueError as e:
                bad += 1
                print(f"empg-leaderboard {args.cmd}: {e}", file=sys.stderr)
        if args.cmd == "rerun" and not args.no_build and bad < len(args.files):
            changed, skipped = build(root)
            print("wrote " + (", ".join(map(str, changed)) if changed else "nothing (up to date)"))
            _report_skipped(skipped)
        return 1 if bad else 0
    if args.cmd == "compare":
        from empg_gym.eval.compare import ComparisonError, compare_entries, format_comparison

        try:
            res = compare_entries(load_entry(args.a), load_entry(args.b))
        except (ComparisonError, EntryError) as e:
            print(f"empg-leaderboard compare: {e}", file=sys.stderr)
            return 2
        print(json.dumps(res, indent=2) if args.json else format_comparison(res))
        return 0
    if args.cmd == "serve":
        app = make_app(root)
        print(f"serving {root} on http://127.0.0.1:{args.port}/ (API: /api/entries)")
        app.run(host="127.0.0.1", port=args.port)
        return 0
    show(root, env_id=args.env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
