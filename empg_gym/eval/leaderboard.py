"""The leaderboard: entries in ``leaderboard/results/<env id>/*.json`` rendered as Markdown and a static page.

``empg-leaderboard`` subcommands:

- ``build [--check]``: validate every entry and (re)write ``leaderboard/LEADERBOARD.md`` and
  ``leaderboard/index.html`` (one table per env, best success first, 95% CIs as bars, ALFWorld's per-type
  columns, "reported" paper rows marked). ``--check`` writes nothing and fails when they are stale.
- ``validate FILE...``: check entries against the schema and the rules, with every problem listed.
- ``compare A.json B.json``: paired bootstrap differences and McNemar's test (:mod:`empg_gym.eval.compare`).
- ``serve [--port]``: the page and a JSON API (``/api/entries``, ``/api/entries/<env id>``,
  ``/api/compare?a=<file>&b=<file>``) with flask, on 127.0.0.1 only.
- ``show``: print the tables in the terminal.

The rendered files depend only on the entries (no build date), so a test can check they are current.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from empg_gym._io import write_text_atomic
from empg_gym.eval.schema import EntryError, load_entry

__all__ = ["Row", "build", "default_root", "load_rows", "main", "make_app", "render_html", "render_markdown"]

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


def default_root() -> Path:
    """The leaderboard: ``$EMPG_LEADERBOARD``, else the checkout's ``leaderboard/`` or ``./leaderboard``."""
    env = os.environ.get("EMPG_LEADERBOARD")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[2] / "leaderboard"
    return repo if repo.is_dir() else Path.cwd() / "leaderboard"


def load_rows(root: str | os.PathLike) -> dict[str, list[Row]]:
    """Validate every entry under ``root/results`` and group them by env, best success first.

    Raises:
        EntryError: For the first invalid entry (with every problem it has).
    """
    root = Path(root)
    by_env: dict[str, list[Row]] = {}
    for p in sorted((root / "results").rglob("*.json")):
        entry = load_entry(p, documented=True)
        row = Row(p.relative_to(root).as_posix(), entry)
        by_env.setdefault(row.env_id, []).append(row)
    for rows in by_env.values():
        rows.sort(key=lambda r: (r.reported, -(r.value("success") or 0.0), -(r.value("score") or 0.0),
                                 r.label))
    return dict(sorted(by_env.items()))


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
    return f"{r.label} *(reported)*" if r.reported else r.label


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


def render_markdown(by_env: Mapping[str, Sequence[Row]]) -> str:
    """``LEADERBOARD.md``: one table per env."""
    out = ["# empg-gym leaderboard", "",
           "Generated by `empg-leaderboard build` from `leaderboard/results/`; do not edit by hand. Rules: "
           "[README.md](README.md). Success and score in %, with 95% bootstrap CIs in brackets. Rows marked "
           "*reported* are numbers copied from papers (different models, compute and, for our re-implemented "
           "envs, a different simulator), shown for scale, not reproduced here.", ""]
    for env_id, rows in by_env.items():
        types = _types(rows)
        out += [f"## {env_id}", ""]
        head = ["#", "agent", "success % [95% CI]", "score % [95% CI]", "steps", "invalid %", "tokens/ep",
                "split (tasks x seeds)"] + [TYPE_LABELS.get(t, t) for t in types] + ["commit", "date"]
        out.append("| " + " | ".join(head) + " |")
        out.append("|" + "|".join("---" for _ in head) + "|")
        rank = 0
        for r in rows:
            e = r.entry
            rank_s = "–" if r.reported else str(rank := rank + 1)
            cells = [rank_s, _agent_cell(r), _pct_ci(r, "success"), _pct_ci(r, "score"),
                     _num(r.value("steps")), _pct(r.value("invalid_action_rate")),
                     _num(r.value("tokens_per_episode"), ".0f"), _split_cell(r)]
            cells += [_pct(r.value(t, "per_type")) for t in types]
            cells += [_commit_cell(e), e["date"][:10]]
            out.append("| " + " | ".join(cells) + " |")
        sources = sorted({r.entry["reported"]["source"] for r in rows if r.reported})
        if sources:
            out += ["", "*Reported* rows: " + "; ".join(sources) + ". Measured by the paper on the original "
                    "benchmark with its own models, compute and task list; not reproduced here,"
                    " not paired with the rows above."]
        out.append("")
    if not by_env:
        out += ["No entries yet.", ""]
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


def render_html(by_env: Mapping[str, Sequence[Row]]) -> str:
    """The static page: one sortable table per env (click a header), CIs as bars."""
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           "<title>empg-gym leaderboard</title>", f"<style>{_CSS}</style></head><body>",
           "<h1>empg-gym leaderboard</h1>",
           '<p class="note">Generated by <code>empg-leaderboard build</code> from '
           "<code>leaderboard/results/</code>. Success and score in %; bars show the 95% bootstrap CI "
           "(light) and the mean (dark) on a 0-100% scale. "
           "Grey italic rows are <b>reported</b> numbers copied from papers, not reproduced here. "
           "Click a column header to sort.</p>"]
    for env_id, rows in by_env.items():
        types = _types(rows)
        tid = "board-" + "".join(ch if ch.isalnum() else "-" for ch in env_id)
        out.append(f'<h2>{html.escape(env_id)}</h2><table class="board" id="{tid}"><thead><tr>')
        heads = ["#", "agent", "success %", "score %", "steps", "invalid %", "tokens/ep", "episodes"]
        heads += [TYPE_LABELS.get(t, t) for t in types] + ["commit", "date"]
        out.append("".join(f'<th class="{"agent" if h == "agent" else ""}">{html.escape(h)}</th>'
                           for h in heads))
        out.append("</tr></thead><tbody>")
        rank = 0
        for r in rows:
            e = r.entry
            rank_v = None if r.reported else (rank := rank + 1)
            tr = ['<tr class="reported">' if r.reported else "<tr>"]
            tr.append(_td("–" if rank_v is None else str(rank_v), 999 if rank_v is None else rank_v))
            title = e["reported"]["source"] + ". " + e["reported"].get("note", "") if r.reported else \
                f"{r.path} | spec {e['agent'].get('spec_hash')} | {e.get('command') or ''}"
            name = r.label + (" (reported)" if r.reported else "")
            tr.append(_td(name, name, "agent", title=title))
            for key in ("success", "score"):
                v, ci = r.value(key), r.ci(key)
                text = _pct(v) + (f" [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]" if ci else "")
                tr.append(_td(text, -1 if v is None else v, extra=_bar(v, ci)))
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
            commit = _commit_cell(e)
            tr.append(_td(commit, commit, title=e.get("git_commit") or ""))
            tr.append(_td(e["date"][:10], e["date"]))
            tr.append("</tr>")
            out.append("".join(tr))
        out.append("</tbody></table>")
    if not by_env:
        out.append("<p>No entries yet.</p>")
    out.append(f"<script>{_JS}</script></body></html>")
    return "\n".join(out) + "\n"


def build(root: str | os.PathLike, *, check: bool = False) -> list[Path]:
    """Render ``LEADERBOARD.md`` and ``index.html`` under ``root``.

    Args:
        root: The leaderboard folder.
        check: Write nothing; return the files that are missing or stale.

    Returns:
        The files written (or, with ``check``, the stale ones).
    """
    root = Path(root)
    by_env = load_rows(root)
    files = {root / "LEADERBOARD.md": render_markdown(by_env), root / "index.html": render_html(by_env)}
    changed = [p for p, text in files.items() if not p.exists() or p.read_text(encoding="utf-8") != text]
    if not check:
        for p in changed:
            write_text_atomic(p, files[p])
    return changed


def make_app(root: str | os.PathLike):
    """The flask app of ``empg-leaderboard serve``.

    Routes: ``/`` (the page, rendered from the entries on each request), ``/api/entries``,
    ``/api/entries/<env id>``, ``/api/compare?a=<path>&b=<path>`` (paths relative to the root).
    """
    from empg_gym._optional import require

    flask = require("flask", "serve", "empg-leaderboard serve")
    from empg_gym.eval.compare import ComparisonError, compare_entries

    root = Path(root).resolve()
    app = flask.Flask("empg_leaderboard")

    def rows() -> dict[str, list[Row]]:
        return load_rows(root)

    @app.get("/")
    def index():  # noqa: ANN202
        return flask.Response(render_html(rows()), mimetype="text/html")

    @app.get("/api/entries")
    def entries():  # noqa: ANN202
        return flask.jsonify([{"path": r.path, **r.entry} for rs in rows().values() for r in rs])

    @app.get("/api/entries/<path:env_id>")
    def env_entries(env_id: str):  # noqa: ANN202
        by_env = rows()
        if env_id not in by_env:
            return flask.jsonify({"error": f"no entries for {env_id}", "envs": list(by_env)}), 404
        return flask.jsonify([{"path": r.path, **r.entry} for r in by_env[env_id]])

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


def show(root: str | os.PathLike, env_id: str | None = None) -> None:
    """Print the leaderboard tables in the terminal (rich); only ``env_id``'s when given."""
    from empg_gym._table import print_table

    for env, rows in load_rows(root).items():
        if env_id is not None and env != env_id:
            continue
        types = _types(rows)
        cols = ["agent", "success % [95% CI]", "score %", "steps", "invalid %", "episodes",
                *[TYPE_LABELS.get(ty, ty) for ty in types]]
        cells = [(r.label + (" (reported)" if r.reported else ""), _pct_ci(r, "success"), _pct(r.value("score")),
                  _num(r.value("steps")), _pct(r.value("invalid_action_rate")), r.entry.get("episodes", "–"),
                  *[_pct(r.value(ty, "per_type")) for ty in types]) for r in rows]
        print_table(f"leaderboard: {env}", cols, cells, right=cols[1:],
                    styles=["dim italic" if r.reported else None for r in rows])


def main(argv: Sequence[str] | None = None) -> int:
    """``empg-leaderboard build|validate|compare|serve|show``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="empg-leaderboard", description=__doc__.split("\n\n")[0])
    p.add_argument("--root", default=None, help="leaderboard folder (default: ./leaderboard of the checkout, "
                   "or $EMPG_LEADERBOARD)")
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="render LEADERBOARD.md and index.html from the entries")
    b.add_argument("--check", action="store_true", help="fail if they are stale instead of writing")
    v = sub.add_parser("validate", help="validate entry files")
    v.add_argument("files", nargs="+")
    c = sub.add_parser("compare", help="paired comparison of two entries (A - B)")
    c.add_argument("a")
    c.add_argument("b")
    c.add_argument("--json", action="store_true", help="print JSON")
    s = sub.add_parser("serve", help="serve the page and the JSON API on 127.0.0.1")
    s.add_argument("--port", type=int, default=8765)
    sh = sub.add_parser("show", help="print the tables")
    sh.add_argument("--env", default=None, help="only this env id")
    args = p.parse_args(argv)
    root = Path(args.root) if args.root else default_root()
    try:
        if args.cmd == "build":
            changed = build(root, check=args.check)
            if args.check:
                if changed:
                    print("stale (run `empg-leaderboard build`): " + ", ".join(map(str, changed)),
                          file=sys.stderr)
                    return 1
                print("leaderboard is up to date")
            else:
                print("wrote " + (", ".join(map(str, changed)) if changed else "nothing (up to date)"))
        elif args.cmd == "validate":
            bad = 0
            for f in args.files:
                try:
                    load_entry(f, documented=True)
                    print(f"ok: {f}")
                except EntryError as e:
                    bad += 1
                    print(str(e), file=sys.stderr)
            return 1 if bad else 0
        elif args.cmd == "compare":
            from empg_gym.eval.compare import ComparisonError, compare_entries, format_comparison

            try:
                res = compare_entries(load_entry(args.a), load_entry(args.b))
            except ComparisonError as e:
                print(f"empg-leaderboard compare: {e}", file=sys.stderr)
                return 2
            print(json.dumps(res, indent=2) if args.json else format_comparison(res))
        elif args.cmd == "serve":
            app = make_app(root)
            print(f"serving {root} on http://127.0.0.1:{args.port}/ (API: /api/entries)")
            app.run(host="127.0.0.1", port=args.port)
        elif args.cmd == "show":
            show(root, env_id=args.env)
    except EntryError as e:
        print(str(e), file=sys.stderr)
        return 1
    return 0
