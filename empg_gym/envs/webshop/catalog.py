"""WebShop catalogs: the real data files or a generated catalog, processed like the original loader.

:func:`process_products` follows WebShop's ``engine.load_products``: it skips bad and duplicate ASINs,
sets ``Title``/``Description``/``BulletPoints``/``Price``/``options``/``Attributes``, parses prices into
``pricing`` (``[100.0]`` when empty), lower-cases option names and values (``/`` becomes ``' | '``), and
attaches the synthetic instruction (``items_ins_v2``) or the human annotations (``items_human_ins``).

Prices and goals (:mod:`empg_gym.envs.webshop.goals`) use one :class:`random.Random` seeded with the
catalog ``seed``, in the original's call order (a ``uniform`` per range-priced product in load order, then
a ``sample`` per goal), which fixes the original's unseeded draws; the goal shuffle uses
``random.Random(233)``
like the original (``goal_order="original"``) or the catalog seed (``goal_order="seeded"``, verl-agent's
choice).

Real data: ``data_dir`` (or the ``WEBSHOP_DATA`` environment variable) must hold ``items_shuffle_1000.json``
(or the reconstructed ``items_shuffle_1000.reconstructed.json``), ``items_ins_v2_1000.json`` and
``items_human_ins.json`` (or ``items_human_ins_1k_subset.json``); with ``size="full"`` the 1.18M-product
``items_shuffle.json`` and ``items_ins_v2.json``. Without ``items_ins_v2*``, product attributes are derived
from the human annotations (and synthetic goals are unavailable).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from empg_gym.envs.webshop.goals import build_goals, shuffle_goals

#: Environment variable naming the folder with the real WebShop data files.
DATA_ENV_VAR = "WEBSHOP_DATA"

_WHERE = (
    "The files come from WebShop's setup.sh (Google Drive; see https://github.com/princeton-nlp/WebShop); "
    "a copy of the 1000-product files is described in /work/shared/data/webshop/SOURCE.md."
)

#: size -> (product file candidates, attribute file candidates, human file candidates)
_FILES = {
    "1k": (
        ("items_shuffle_1000.json", "items_shuffle_1000.reconstructed.json"),
        ("items_ins_v2_1000.json",),
        ("items_human_ins.json", "items_human_ins_1k_subset.json"),
    ),
    "full": (("items_shuffle.json",), ("items_ins_v2.json",), ("items_human_ins.json",)),
}


@dataclass(frozen=True)
class Catalog:
    """Processed products, their (seeded) prices and the goals, in goal order.

    Attributes:
        products: Processed product dicts in load order.
        by_asin: ASIN -> product.
        prices: ASIN -> the price the reward uses.
        goals: Goal dicts in the (shuffled) goal order; splits index into this list.
        source: ``"generated"`` or ``"real"``.
        description: A one-line description (source, size, goal kind).
        notes: Facts about how the catalog was built (e.g. attributes derived from annotations).
    """

    products: list[dict[str, Any]]
    by_asin: dict[str, dict[str, Any]]
    prices: dict[str, float]
    goals: list[dict[str, Any]]
    source: str
    description: str
    notes: tuple[str, ...] = field(default=())


def _parse_prices(pricing: Any) -> tuple[list[float], str]:
    if not pricing:
        return [100.0], "$100.0"
    if isinstance(pricing, list):  # already processed (e.g. the recovered documents)
        vals = [float(x) for x in pricing]
    else:
        vals = []
        for piece in str(pricing).split("$")[1:]:
            digits = re.sub(r"[^\d.]", "", piece)
            try:
                vals.append(float(Decimal(digits)))
            except InvalidOperation:
                continue
        if not vals:
            return [100.0], "$100.0"
    if len(vals) == 1:
        return vals, f"${vals[0]}"
    return vals[:2], f"${vals[0]} to ${vals[1]}"


def process_products(
    raw: Iterable[dict[str, Any]],
    attributes: Mapping[str, Any] | None,
    human: Mapping[str, Any] | None,
    *,
    human_goals: bool,
    num_products: int | None = None,
) -> list[dict[str, Any]]:
    """Process raw product records as WebShop's ``load_products`` does.

    Args:
        raw: Records in the ``items_shuffle*.json`` format (any iterable; the full file is streamed).
        attributes: The ``items_ins_v2*.json`` map (ASIN -> attributes/instruction), or None.
        human: The ``items_human_ins*.json`` map (ASIN -> annotations), or None.
        human_goals: Attach human annotations (``instructions``) instead of synthetic instructions.
        num_products: Keep only the first ``num_products`` records.

    Returns:
        The processed products.
    """
    if num_products is not None:
        raw = itertools.islice(raw, num_products)
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    for rec in raw:
        asin = str(rec.get("asin", "nan"))
        if asin == "nan" or len(asin) > 10 or asin in seen:
            continue
        seen.add(asin)
        p = dict(rec)
        p["query"] = str(rec.get("query", "")).lower().strip()
        p["Title"] = rec.get("name", "") or ""
        p["Description"] = rec.get("full_description", "") or ""
        bullets = rec.get("small_description", [])
        p["BulletPoints"] = list(bullets) if isinstance(bullets, list) else [bullets]
        p["Reviews"] = []
        p["Rating"] = "N.A."
        p["pricing"], p["Price"] = _parse_prices(rec.get("pricing"))
        options: dict[str, list[str]] = {}
        custom = rec.get("customization_options")
        if isinstance(custom, Mapping):
            for name, contents in custom.items():
                if contents is None:
                    continue
                options[name.lower()] = [c["value"].strip().replace("/", " | ").lower() for c in contents]
        p["options"] = options
        entry = (attributes or {}).get(asin) or {}
        if "attributes" in entry:
            p["Attributes"] = list(entry["attributes"])
        elif attributes is None and human and asin in human:
            derived: list[str] = []
            for ann in human[asin]:
                derived += [a for a in ann.get("attributes", []) if a not in derived]
            p["Attributes"] = derived or ["DUMMY_ATTR"]
        else:
            p["Attributes"] = ["DUMMY_ATTR"]
        if human_goals:
            if human and asin in human:
                p["instructions"] = list(human[asin])
        else:
            p["instruction_text"] = entry.get("instruction")
            p["instruction_attributes"] = entry.get("instruction_attributes")
        out.append(p)
    return out


def generate_prices(products: list[dict[str, Any]], rnd: random.Random) -> dict[str, float]:
    """WebShop's ``generate_product_prices`` with a seeded RNG: a range price is ``uniform(lo, hi)``."""
    prices: dict[str, float] = {}
    for p in products:
        pr = p["pricing"]
        if not pr:
            prices[p["asin"]] = 100.0
        elif len(pr) == 1:
            prices[p["asin"]] = pr[0]
        else:
            prices[p["asin"]] = rnd.uniform(*pr[:2])
    return prices


def search_document(p: Mapping[str, Any]) -> str:
    """The text the original indexes (``convert_product_file_format.py``), lower-cased."""
    option_text = ", and ".join(f"{name}: {', '.join(values)}" for name, values in p["options"].items())
    first_bullet = p["BulletPoints"][0] if p["BulletPoints"] else ""
    return " ".join([p["Title"], p["Description"], first_bullet, option_text]).lower()


# ---------------------------------------------------------------------------------- files
def resolve_data_dir(data_dir: str | os.PathLike | None) -> Path | None:
    """``data_dir``, else ``$WEBSHOP_DATA``, else None (generated catalog)."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    env = os.environ.get(DATA_ENV_VAR)
    return Path(env).expanduser() if env else None


def _find(folder: Path, names: tuple[str, ...], *, required: bool, what: str) -> Path | None:
    for n in names:
        if (folder / n).is_file():
            return folder / n
    if required:
        raise FileNotFoundError(
            f"WebShop data file {names[0]!r} ({what}) not found in {folder} "
            f"(also tried: {', '.join(names[1:]) or 'nothing else'}). Set data_dir= or the {DATA_ENV_VAR} "
            f"environment variable to the folder holding it. {_WHERE}"
        )
    return None


def _read_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"WebShop data file {path} is corrupt ({e}). Fetch it again. {_WHERE}") from e


def iter_json_list(path: Path, chunk_chars: int = 1 << 20) -> Iterator[Any]:
    """Stream the elements of a JSON list file without reading the whole text at once.

    For the 1.18M-product ``items_shuffle.json`` (several GB): only one chunk of text and the parsed
    records live in memory.
    """
    decoder = json.JSONDecoder()
    with open(path, encoding="utf-8") as f:
        buf = f.read(chunk_chars).lstrip()
        if not buf.startswith("["):
            raise ValueError(f"WebShop data file {path} is corrupt: expected a JSON list. {_WHERE}")
        buf = buf[1:]
        eof = False
        while True:
            buf = buf.lstrip().lstrip(",").lstrip()
            if buf.startswith("]"):
                return
            try:
                obj, end = decoder.raw_decode(buf)
            except json.JSONDecodeError as e:
                if eof:
                    raise ValueError(f"WebShop data file {path} is corrupt ({e}). {_WHERE}") from e
                more = f.read(chunk_chars)
                eof = not more
                buf += more
                continue
            yield obj
            buf = buf[end:]
            if len(buf) < chunk_chars // 2 and not eof:
                more = f.read(chunk_chars)
                eof = not more
                buf += more


def real_data_files(folder: str | os.PathLike, size: str = "1k") -> dict[str, Path]:
    """The real data files :func:`load_real_raw` reads from ``folder``: name -> path (found ones only)."""
    out: dict[str, Path] = {}
    for names in _FILES[size]:
        path = _find(Path(folder), names, required=False, what="")
        if path is not None:
            out[path.name] = path
    return out


def load_real_raw(
    folder: Path, size: str = "1k", *, human_goals: bool = False
) -> tuple[Iterable[dict], dict | None, dict | None, list[str]]:
    """Read the real files from ``folder``: ``(products, attributes or None, human or None, notes)``.

    With ``size="full"`` the products come as a stream (:func:`iter_json_list`).
    """
    if size not in _FILES:
        raise ValueError(f"size must be one of {sorted(_FILES)} for real data, got {size!r}")
    if not folder.is_dir():
        raise FileNotFoundError(
            f"WebShop data folder {folder} does not exist. Set data_dir= or {DATA_ENV_VAR} to the folder "
            f"holding {_FILES[size][0][0]}. {_WHERE}"
        )
    prod_names, attr_names, human_names = _FILES[size]
    notes: list[str] = []
    prod_path = _find(folder, prod_names, required=True, what="the product catalog")
    assert prod_path is not None
    if prod_path.name != prod_names[0]:
        notes.append(f"products from {prod_path.name} (reconstructed; see SOURCE.md)")
    attr_path = _find(
        folder, attr_names, required=not human_goals, what="product attributes and synthetic goals"
    )
    human_path = _find(folder, human_names, required=human_goals, what="human goal annotations")
    raw = iter_json_list(prod_path) if size == "full" else _read_json(prod_path)
    if not isinstance(raw, (list, Iterator)):
        raise ValueError(
            f"WebShop data file {prod_path} is corrupt: expected a JSON list of products. {_WHERE}"
        )
    attrs = _read_json(attr_path) if attr_path else None
    human = _read_json(human_path) if human_path else None
    if attrs is None:
        notes.append(f"{attr_names[0]} absent: product Attributes derived from the human annotations")
        warnings.warn(
            f"{attr_names[0]} not found in {folder}: product Attributes are derived from the human "
            "annotations (DUMMY_ATTR elsewhere), so attribute rewards differ from the original.",
            stacklevel=3,
        )
    if human_path and human_path.name != human_names[0]:
        notes.append(f"human annotations from {human_path.name}")
    return raw, attrs, human, notes


def build_catalog(
    *,
    data_dir: str | os.PathLike | None = None,
    source: str | None = None,
    num_products: int | None = None,
    size: str = "1k",
    human_goals: bool = False,
    seed: int = 0,
    goal_order: str = "original",
) -> Catalog:
    """Build a catalog from the real files or the generator.

    Args:
        data_dir: Folder with the real files (default ``$WEBSHOP_DATA``).
        source: ``"real"``, ``"generated"`` or None (real when a data folder is set, else generated).
        num_products: Generated: catalog size (default 1000). Real: keep the first N products.
        size: Real data: ``"1k"`` (the small setting) or ``"full"``.
        human_goals: Human-annotated goals instead of synthetic ones.
        seed: Seeds the prices of range-priced products and the price caps (and the generator).
        goal_order: ``"original"`` (seed-233 shuffle, as WebShop) or ``"seeded"`` (shuffle with ``seed``).

    Returns:
        The catalog.
    """
    if goal_order not in ("original", "seeded"):
        raise ValueError(f"goal_order must be 'original' or 'seeded', got {goal_order!r}")
    folder = resolve_data_dir(data_dir)
    if source is None:
        source = "real" if folder is not None else "generated"
    notes: list[str] = []
    if source == "real":
        if folder is None:
            raise FileNotFoundError(
                f"source='real' needs the WebShop data folder: set data_dir= or {DATA_ENV_VAR}. {_WHERE}"
            )
        raw, attrs, human, notes = load_real_raw(folder, size, human_goals=human_goals)
        if attrs is None and not human_goals:
            raise FileNotFoundError("synthetic goals need items_ins_v2_1000.json; use human_goals=True")
        desc = f"real WebShop ({size}) from {folder}"
    elif source == "generated":
        from empg_gym.envs.webshop.generate import generate_raw

        n = 1000 if num_products is None else int(num_products)
        raw, attrs, human = generate_raw(n, seed)
        num_products = None
        desc = f"generated ({n} products, seed {seed})"
    else:
        raise ValueError(f"source must be 'real', 'generated' or None, got {source!r}")
    products = process_products(raw, attrs, human, human_goals=human_goals, num_products=num_products)
    rnd = random.Random(seed)
    prices = generate_prices(products, rnd)
    goals = build_goals(products, prices, rnd, human_goals=human_goals)
    if not goals:
        raise ValueError(f"the {desc} catalog has no {'human' if human_goals else 'synthetic'} goals")
    shuffle_goals(goals, 233 if goal_order == "original" else seed)
    desc += f", {'human' if human_goals else 'synthetic'} goals ({len(goals)})"
    return Catalog(products, {p["asin"]: p for p in products}, prices, goals, source, desc, tuple(notes))
