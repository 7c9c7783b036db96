"""WebShop pages in the original's ``text`` observation mode, and what can be clicked on each.

The text is the page's visible strings joined with ``' [SEP] '`` (WebShop's ``convert_html_to_text``; empty
strings are dropped except bullet points and attributes, whose template leaves a ``" "`` text node, so an
empty one keeps an empty field: ``... [SEP]  [SEP] ...``),
e.g. for an item page::

    Instruction: [SEP] <instruction> [SEP] Back to Search [SEP] < Prev [SEP] color [SEP] black [SEP]
    white | red [SEP] <Title> [SEP] Price: $19.99 [SEP] Rating: N.A. [SEP] Description [SEP] Features
    [SEP] Reviews [SEP] Buy Now

Clickables are the lower-cased texts of the page's buttons and product links plus the option values
(``get_available_actions()['clickables']``); when two option groups share a value, the later group wins,
as in the original's ``text_to_clickable`` dict.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SEP = " [SEP] "
PRODUCT_WINDOW = 10
SUB_PAGES = ("description", "features", "reviews", "attributes")


@dataclass
class PageState:
    """Where the browser is.

    Attributes:
        page: ``"search"``, ``"results"``, ``"item"``, ``"sub"`` or ``"done"``.
        keywords: The last search's keywords.
        results: ASINs of the last search (at most 50 for BM25 searches).
        page_num: Results page (1-based).
        asin: The open product.
        options: Selected options, option name -> value.
        sub: The open item sub-page (``description``, ``features``, ``reviews``, ``attributes``).
    """

    page: str = "search"
    keywords: str = ""
    results: list[str] = field(default_factory=list)
    page_num: int = 1
    asin: str = ""
    options: dict[str, str] = field(default_factory=dict)
    sub: str = ""


def _join(parts: list[str]) -> str:
    return SEP.join(p for p in (x.strip() for x in parts) if p)


def clickables(state: PageState, product: dict[str, Any] | None, show_attrs: bool = False) -> dict[str, Any]:
    """Clickable text (lower case, as on the page) -> what it does, in page order."""
    out: dict[str, Any] = {}
    if state.page == "search":
        out["search"] = ("search",)
    elif state.page == "results":
        out["back to search"] = ("back",)
        if state.page_num > 1:
            out["< prev"] = ("prev",)
        out["next >"] = ("next",)
        start = (state.page_num - 1) * PRODUCT_WINDOW
        for asin in state.results[start : start + PRODUCT_WINDOW]:
            out[asin.lower()] = ("item", asin)
    elif state.page == "item" and product is not None:
        out["back to search"] = ("back",)
        out["< prev"] = ("prev",)
        for sub in SUB_PAGES:
            if sub != "attributes" or show_attrs:
                out[sub] = ("sub", sub)
        out["buy now"] = ("buy",)
        for name, values in product["options"].items():
            for v in values:
                out[v.lower()] = ("option", name, v)
    elif state.page == "sub":
        out["back to search"] = ("back",)
        out["< prev"] = ("prev",)
    return out


def render(
    state: PageState, instruction: str, by_asin: dict[str, dict[str, Any]], show_attrs: bool = False
) -> str:
    """The page's text observation."""
    head = ["Instruction:", instruction]
    if state.page == "search":
        return _join(["WebShop", *head, "Search"])
    if state.page == "results":
        parts = [*head, "Back to Search", f"Page {state.page_num} (Total results: {len(state.results)})"]
        if state.page_num > 1:
            parts.append("< Prev")
        parts.append("Next >")
        start = (state.page_num - 1) * PRODUCT_WINDOW
        for asin in state.results[start : start + PRODUCT_WINDOW]:
            p = by_asin[asin]
            parts += [asin, p["Title"], p["Price"]]
        return _join(parts)
    p = by_asin[state.asin]
    if state.page == "item":
        parts = [*head, "Back to Search", "< Prev"]
        for name, values in p["options"].items():
            parts.append(name)
            parts += values
        parts += [
            p["Title"],
            f"Price: {p['Price']}",
            f"Rating: {p['Rating']}",
            "Description",
            "Features",
            "Reviews",
        ]
        if show_attrs:
            parts.append("Attributes")
        parts.append("Buy Now")
        return _join(parts)
    if state.page == "sub":
        parts = [*head, "Back to Search", "< Prev"]
        if state.sub == "description":
            parts.append(p["Description"])
        elif state.sub in ("features", "attributes"):
            # the templates render each item as "<p> {{item}}</p>": an empty item still leaves a text node
            # (" "), so the original keeps an empty [SEP] field for it
            items = p["BulletPoints"] if state.sub == "features" else p["Attributes"]
            return _join(parts) + "".join(SEP + str(x).strip() for x in items)
        elif state.sub == "reviews":
            for r in p.get("Reviews", []):
                parts += [str(r.get("title", "")), str(r.get("score", "")), str(r.get("body", ""))]
        return _join(parts)
    raise ValueError(f"unknown page {state.page!r}")


def render_done(asin: str, options: dict[str, str], reward: float) -> str:
    """The confirmation page after ``click[buy now]`` (its visible text; the debug block is summarised)."""
    return _join(
        [
            "Thank you for shopping with us!",
            "Your code:",
            "None",
            "(Paste it in your MTurk interface.)",
            "Purchased",
            "asin",
            asin,
            "options",
            str(dict(options)),
            "Your score (min 0.0, max 1.0)",
            f"{reward}",
            "Reward Details",
            "None",
        ]
    )
