"""A generated WebShop catalog: products, attributes, options, prices and instructions from a seed.

:func:`generate_raw` writes the three real files' formats in memory (``items_shuffle``-style product
records, the ``items_ins_v2`` attribute/instruction map, and the ``items_human_ins`` annotation map), so the
generated catalog goes through exactly the loader, goal builder, search index and reward that the real
data goes through. Everything is a pure function of ``(num_products, seed)``.

The generator mirrors the real small catalog's shape: 5 categories (beauty, electronics, fashion, garden,
grocery) with Amazon-like ``product_category`` breadcrumbs and shared search ``query`` strings; titles of
brand + descriptors + product type + attribute phrases; 1 to 7 bullet points; 0 to 2 option groups (colour,
size, flavour, scent, count, ...) with 2 to 8 values, some of them multi-word colours that exercise the
colour normalisation; single and range prices (and ~5% missing, which become $100 as in the original); about
40% of products with a synthetic instruction and 10% with human-style annotations. Products of the same
type share a query and most attribute vocabulary, so searches return many near-misses and the type,
attribute and option rewards are all exercised.
"""

from __future__ import annotations

import math
import random
import string
from collections.abc import Sequence
from typing import Any

_CAT_ROOT = {
    "beauty": "Beauty & Personal Care",
    "electronics": "Electronics",
    "fashion": "Clothing, Shoes & Jewelry",
    "garden": "Home & Kitchen",
    "grocery": "Grocery & Gourmet Food",
}

# fmt: off
_COLORS = ["black", "white", "navy blue", "light grey", "red", "pink", "beige", "dark green", "rose gold",
           "burgundy", "khaki", "sky blue", "charcoal", "ivory", "purple", "yellow", "brown", "teal",
           "silver", "gold", "multicolor", "olive green", "coral", "mint green"]
_CLOTH = ["x-small", "small", "medium", "large", "x-large", "xx-large", "3x-large"]
_SHOE = ["5", "5.5", "6", "6.5", "7", "7.5", "8", "8.5", "9", "9.5", "10", "11", "12"]
_COUNT = ["1 count (pack of 1)", "2 count (pack of 2)", "6 count (pack of 6)", "12 count (pack of 12)",
          "24 count (pack of 24)"]
_VOLUME = ["2 fl oz (pack of 1)", "4 fl oz (pack of 1)", "8 fl oz (pack of 1)", "16 fl oz (pack of 1)",
           "8 fl oz (pack of 2)", "32 fl oz (pack of 1)"]
_WEIGHT = ["4 ounce (pack of 1)", "8 ounce (pack of 1)", "12 ounce (pack of 2)", "1 pound (pack of 1)",
           "2 pound (pack of 1)", "5 pound (pack of 1)"]
_FLAVOR = ["chocolate", "vanilla", "strawberry", "salted caramel", "peanut butter", "original", "honey",
           "sea salt", "mixed berry", "lemon", "cinnamon", "matcha", "dark chocolate", "unsweetened"]
_SCENT = ["lavender", "unscented", "coconut", "eucalyptus mint", "vanilla", "citrus", "rose", "tea tree",
          "sandalwood", "fresh linen", "ocean breeze"]
_STYLE_E = ["2 pack", "3 pack", "6ft", "10ft", "with adapter", "without adapter", "pro", "standard"]
_LENGTH = ["3 ft", "6 ft", "10 ft", "15 ft", "25 ft"]
_CAPACITY = ["32gb", "64gb", "128gb", "256gb", "512gb"]
_SIZE_HOME = ["twin", "full", "queen", "king", "california king"]
_SIZE_DIM = ["18 x 18 inch", "20 x 20 inch", "16 x 24 inch", "24 x 36 inch", "12 x 12 inch"]
_MATERIAL = ["wood", "metal", "bamboo", "glass", "ceramic", "stainless steel", "plastic"]

#: Option group name -> value pool.
_OPTIONS = {
    "color": _COLORS, "size": _CLOTH, "shoe size": _SHOE, "item package quantity": _COUNT, 
    "size ": _VOLUME, "flavor name": _FLAVOR, "scent": _SCENT, "style": _STYLE_E, "length": _LENGTH, 
    "capacity": _CAPACITY, "bed size": _SIZE_HOME, "pillow size": _SIZE_DIM, "material": _MATERIAL, 
    "weight": _WEIGHT
}

# (type noun phrase, query, breadcrumb tail, attribute pool, option groups, (price lo, price hi))
_TYPES: dict[str, list[tuple[str, str, str, list[str], list[str], tuple[float, float]]]] = {
    "beauty": [
        ("shampoo", "shampoo", "Hair Care › Shampoo & Conditioner › Shampoos",
         ["sulfate free", "paraben free", "dry hair", "hair growth", "natural ingredients", "argan oil",
          "color safe", "damaged hair", "cruelty free", "tea tree"],
         ["size ", "scent"], (6, 40)),
        ("face moisturizer", "face moisturizer", "Skin Care › Face › Moisturizers",
         ["hyaluronic acid", "sensitive skin", "fine lines", "fragrance free", "oil free", "dry skin",
          "anti aging", "non comedogenic", "vitamin c", "long lasting"],
         ["size "], (8, 60)),
        ("lipstick", "lipstick", "Makeup › Lips › Lipstick",
         ["long lasting", "matte finish", "cruelty free", "easy carry", "high quality", "waterproof",
          "natural ingredients", "rose gold"],
         ["color"], (4, 30)),
        ("nail polish", "nail polish", "Foot, Hand & Nail Care › Nail Art & Polish › Nail Polish",
         ["long lasting", "quick drying", "non toxic", "high quality", "easy apply", "gel polish"],
         ["color", "item package quantity"], (3, 25)),
        ("body wash", "body wash", "Personal Care › Bath & Bathing Accessories › Body Washes",
         ["dry skin", "natural ingredients", "paraben free", "sensitive skin", "essential oils", "tea tree",
          "sulfate free"],
         ["scent", "size "], (5, 35)),
        ("hair dryer", "hair dryer", "Hair Care › Styling Tools & Appliances › Hair Dryers",
         ["fast drying", "ionic technology", "low noise", "travel size", "high quality", "easy carry"],
         ["color"], (15, 120)),
        ("eyeshadow palette", "eyeshadow palette", "Makeup › Eyes › Eyeshadow",
         ["long lasting", "highly pigmented", "cruelty free", "easy apply", "matte finish", "travel size"],
         [], (6, 45)),
        ("beard oil", "beard oil", "Shaving & Hair Removal › Men › Beard & Mustache Care › Oils",
         ["natural ingredients", "argan oil", "hair growth", "essential oils", "easy use", "non greasy"],
         ["scent"], (7, 30)),
    ],
    "electronics": [
        ("wireless earbuds", "wireless earbuds", "Headphones, Earbuds & Accessories › Earbuds",
         ["noise cancelling", "wireless bluetooth", "long battery life", "water resistant", "hands free",
          "fast charging", "stereo sound", "high fidelity"],
         ["color"], (15, 180)),
        ("hdmi cable", "hdmi cable", "Television & Video › Accessories › Cables › HDMI Cables",
         ["high speed", "gold plated", "4k ultra hd", "ethernet support", "easy install",
          "durable braided"],
         ["length", "item package quantity"], (5, 40)),
        ("phone case", "phone case", "Cell Phones & Accessories › Cases, Holsters & Sleeves › Basic Cases",
         ["shock absorbing", "wireless charging", "slim fit", "easy install", "heavy duty", "glass screen"],
         ["color"], (6, 35)),
        ("usb flash drive", "usb flash drive", "Computers & Accessories › Data Storage › USB Flash Drives",
         ["high speed", "usb 3.0", "plug play", "easy carry", "metal casing", "data backup"],
         ["capacity", "item package quantity"], (6, 60)),
        ("bluetooth speaker", "bluetooth speaker", "Portable Audio & Video › Portable Speakers & Docks",
         ["wireless bluetooth", "water resistant", "long battery life", "stereo sound", "easy carry",
          "high power"],
         ["color"], (20, 200)),
        ("security camera", "security camera", "Camera & Photo › Video Surveillance › Surveillance Cameras",
         ["night vision", "motion detection", "two way audio", "easy install", "weather resistant",
          "1080p hd"],
         ["style"], (25, 250)),
        ("laptop stand", "laptop stand", "Computers & Accessories › Laptop Accessories › Stands",
         ["height adjustable", "aluminum alloy", "easy carry", "heat dissipation", "non slip", "foldable"],
         ["color"], (12, 70)),
        ("wall charger", "wall charger", "Cell Phones & Accessories › Chargers & Power Adapters",
         ["fast charging", "usb c", "compact size", "travel size", "dual port", "overheat protection"],
         ["style", "item package quantity"], (8, 45)),
    ],
    "fashion": [
        ("women's yoga pants", "women's yoga pants", "Women › Clothing › Active › Leggings",
         ["high waist", "tummy control", "butt lifting", "moisture wicking", "four way stretch",
          "machine wash", "quick drying", "polyester spandex"],
         ["color", "size"], (12, 45)),
        ("men's t-shirt", "men's t-shirts", "Men › Clothing › Shirts › T-Shirts",
         ["short sleeve", "cotton spandex", "machine wash", "regular fit", "classic fit", "soft material",
          "long sleeve"],
         ["color", "size"], (8, 35)),
        ("women's sneaker", "women's sneakers", "Women › Shoes › Fashion Sneakers",
         ["non slip", "rubber sole", "memory foam", "lace up", "arch support", "breathable mesh",
          "lightweight design"],
         ["color", "shoe size"], (20, 90)),
        ("men's running shoe", "men's running shoes", "Men › Shoes › Athletic › Running",
         ["rubber sole", "non slip", "arch support", "breathable mesh", "memory foam", "wide width"],
         ["color", "shoe size"], (30, 140)),
        ("women's dress", "women's dresses", "Women › Clothing › Dresses › Casual",
         ["machine wash", "short sleeve", "high waist", "polyester spandex", "elastic waist", "v neck",
          "wash cold"],
         ["color", "size"], (15, 60)),
        ("men's hoodie", "men's hoodies", "Men › Clothing › Fashion Hoodies & Sweatshirts",
         ["long sleeve", "machine wash", "fleece lined", "drawstring closure", "relaxed fit",
          "cotton blend"],
         ["color", "size"], (18, 65)),
        ("baseball cap", "baseball caps", "Men › Accessories › Hats & Caps › Baseball Caps",
         ["adjustable strap", "cotton twill", "sun protection", "one size", "machine wash"], ["color"],
         (8, 30)),
        ("women's sandal", "women's sandals", "Women › Shoes › Sandals › Flat Sandals",
         ["open toe", "ankle strap", "non slip", "rubber sole", "arch support", "soft footbed"],
         ["color", "shoe size"], (15, 70)),
    ],
    "garden": [
        ("throw pillow cover", "throw pillow covers", "Home Décor Products › Decorative Pillows › Covers",
         ["machine washable", "hidden zipper", "living room", "double sided", "soft velvet",
          "farmhouse style"],
         ["color", "pillow size"], (8, 35)),
        ("console table", "console tables", "Furniture › Living Room Furniture › Tables › Console Tables",
         ["solid wood", "easy assemble", "living room", "storage space", "industrial style", "metal frame"],
         ["color"], (60, 600)),
        ("bed sheet set", "bed sheet sets", "Bedding › Sheets & Pillowcases › Sheet & Pillowcase Sets",
         ["deep pocket", "machine washable", "egyptian cotton", "breathable fabric", "wrinkle free",
          "fade resistant"],
         ["color", "bed size"], (20, 120)),
        ("led floor lamp", "floor lamps", "Lighting & Ceiling Fans › Lamps & Shades › Floor Lamps",
         ["living room", "dimmable light", "energy saving", "easy assemble", "remote control",
          "modern style"],
         ["color"], (30, 180)),
        ("wall mirror", "wall mirrors", "Home Décor Products › Mirrors › Wall-Mounted Mirrors",
         ["easy install", "living room", "bathroom decor", "metal frame", "shatter proof", "round shape"],
         ["size", "color"], (25, 200)),
        ("storage ottoman", "ottomans", "Furniture › Living Room Furniture › Ottomans",
         ["storage space", "living room", "faux leather", "easy assemble", "foldable", "high density"],
         ["color"], (25, 150)),
        ("dining chair", "dining chairs", "Furniture › Kitchen & Dining Room Furniture › Chairs",
         ["dining room", "solid wood", "easy assemble", "mid century", "high density", "non slip"],
         ["color", "item package quantity"], (40, 300)),
        ("blackout curtain", "blackout curtains", "Home Décor Products › Window Treatments › Curtains",
         ["thermal insulated", "living room", "machine washable", "noise reducing", "grommet top",
          "energy saving"],
         ["color", "size"], (15, 70)),
    ],
    "grocery": [
        ("protein bar", "protein bars", "Snack Foods › Bars › Protein Bars",
         ["gluten free", "high protein", "low sugar", "non gmo", "plant based", "keto friendly"],
         ["flavor name", "item package quantity"], (10, 45)),
        ("green tea", "green tea", "Beverages › Coffee, Tea & Cocoa › Tea › Green Tea",
         ["caffeine free", "non gmo", "usda organic", "individually wrapped", "gluten free", "low calorie"],
         ["flavor name", "item package quantity"], (4, 30)),
        ("coffee beans", "whole bean coffee",
         "Beverages › Coffee, Tea & Cocoa › Coffee › Whole Coffee Beans",
         ["dark roast", "medium roast", "fair trade", "usda organic", "single origin", "low acid"],
         ["flavor name", "weight"], (8, 45)),
        ("beef jerky", "jerky", "Meat & Seafood › Jerky & Dried Meats › Beef Jerky",
         ["high protein", "low fat", "gluten free", "ready eat", "keto friendly", "no preservatives"],
         ["flavor name", "weight"], (6, 40)),
        ("olive oil", "olive oil", "Pantry Staples › Cooking Oils, Vinegars & Sprays › Olive Oil",
         ["extra virgin", "cold pressed", "non gmo", "usda organic", "gluten free", "first cold"],
         ["size "], (8, 50)),
        ("dark chocolate", "chocolate", "Snack Foods › Candy & Chocolate › Chocolate Bars",
         ["gluten free", "non gmo", "fair trade", "low sugar", "dairy free", "individually wrapped"],
         ["flavor name", "item package quantity"], (4, 35)),
        ("baby food pouch", "baby food", "Baby Foods › Pouches",
         ["usda organic", "non gmo", "no added sugar", "bpa free", "easy use", "gluten free"],
         ["flavor name", "item package quantity"], (10, 40)),
        ("sparkling water", "sparkling water", "Beverages › Bottled Beverages, Water & Drink Mixes",
         ["zero calorie", "caffeine free", "natural flavors", "sugar free", "non gmo", "low sodium"],
         ["flavor name", "item package quantity"], (5, 30)),
    ],
}
# fmt: on

_DESCRIPTORS = [
    "Premium",
    "Professional",
    "Classic",
    "Ultra",
    "Deluxe",
    "Essential",
    "Everyday",
    "Advanced",
    "Original",
    "Signature",
    "Pure",
    "Smart",
    "Modern",
    "Vintage",
    "Compact",
    "Luxury",
]
_SYL = [
    "lu",
    "mo",
    "ra",
    "zen",
    "tri",
    "ka",
    "vo",
    "li",
    "nex",
    "so",
    "ri",
    "ta",
    "ve",
    "qu",
    "am",
    "el",
    "or",
    "ix",
    "da",
    "fy",
    "po",
    "ne",
    "ga",
    "sto",
    "bel",
    "mar",
    "kin",
    "dor",
]


class _Rng:
    """The few draws the generator needs, on :class:`random.Random` (much faster than numpy for scalars)."""

    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed * 1_000_003 + 7)

    def integers(self, a: int, b: int | None = None, size: int | None = None) -> Any:
        if b is None:
            a, b = 0, a
        if size is None:
            return self.r.randrange(a, b)
        return [self.r.randrange(a, b) for _ in range(size)]

    def random(self) -> float:
        return self.r.random()

    def uniform(self, a: float, b: float) -> float:
        return self.r.uniform(a, b)

    def choice(self, pool: Sequence[Any] | int, size: int, replace: bool = True) -> list[Any]:
        seq = range(pool) if isinstance(pool, int) else pool
        return self.r.sample(seq, size) if not replace else self.r.choices(seq, k=size)


def _brand(rng: _Rng) -> str:
    n = int(rng.integers(2, 4))
    return "".join(_SYL[int(i)] for i in rng.integers(len(_SYL), size=n)).capitalize()


def _asin(rng: _Rng, used: set[str]) -> str:
    alphabet = string.ascii_uppercase + string.digits
    while True:
        a = "B0" + "".join(rng.choice(alphabet, size=8))
        if a not in used:
            used.add(a)
            return a


def _price(rng: _Rng, lo: float, hi: float) -> str:
    u = rng.random()
    if u < 0.05:
        return ""
    p = round(math.exp(rng.uniform(math.log(lo), math.log(hi))), 0) - 0.01
    p = max(p, 0.99)
    if u < 0.15:
        p2 = round(p * float(rng.uniform(1.2, 1.8)), 0) - 0.01
        return f"${p:.2f} - ${p2:.2f}"
    return f"${p:.2f}"


def _pick(rng: _Rng, pool: list[str], k: int) -> list[str]:
    k = min(k, len(pool))
    return [pool[int(i)] for i in rng.choice(len(pool), size=k, replace=False)]


def _title_case(s: str) -> str:
    return " ".join(w[:1].upper() + w[1:] for w in s.split())


def _options(rng: _Rng, groups: list[str]) -> tuple[Any, dict[str, list[str]]]:
    """Customization options in the raw (Amazon) format, and the name -> values map."""
    if not groups or rng.random() < 0.15:
        return ("" if rng.random() < 0.5 else {"Color": None}), {}
    n_groups = 1 if len(groups) == 1 or rng.random() < 0.25 else 2
    raw: dict[str, Any] = {}
    values: dict[str, list[str]] = {}
    for g in groups[:n_groups]:
        pool = _OPTIONS[g]
        k = int(rng.integers(2, 12))
        if g in (
            "size",
            "shoe size",
            "size ",
            "item package quantity",
            "weight",
            "length",
            "capacity",
            "bed size",
            "pillow size",
        ):
            start = int(rng.integers(0, max(1, len(pool) - 1)))
            vals = pool[start : start + k] if len(pool[start : start + k]) >= 2 else pool[-2:]
        else:
            vals = _pick(rng, pool, k)
        name = g.strip().title() if g != "size " else "Size"
        if name in raw:
            continue
        raw[name] = [{"value": _title_case(v) if g == "color" else v, "image": None} for v in vals]
        values[name.lower()] = vals
    return raw, values


def _instruction(rng: _Rng, type_name: str, attrs: list[str]) -> str:
    form = int(rng.integers(3))
    if form == 0 or len(attrs) == 1:
        return f"Find me {type_name} with {', '.join(attrs)}"
    cut = int(rng.integers(1, len(attrs)))
    if form == 1:
        return f"Find me {', '.join(attrs[:cut])} {type_name} with {', '.join(attrs[cut:])}"
    return f"Find me {', '.join(attrs)} {type_name}"


_HUMAN_FORMS = [
    "i am looking for a {attrs} {type}{opts}",
    "i need {attrs} {type}{opts}",
    "i'm looking for {type} that is {attrs}{opts}",
    "find me a {attrs} {type}{opts}",
    "i want to buy {type} which are {attrs}{opts}",
]


def _human(
    rng: _Rng, asin: str, type_name: str, attrs: list[str], values: dict[str, list[str]]
) -> dict[str, Any]:
    ins_attrs = _pick(rng, attrs, int(rng.integers(1, 3)))
    ins_opts: list[str] = []
    prod_opts: list[str] = []
    for name, vals in values.items():
        if rng.random() < 0.8:
            v = vals[int(rng.integers(len(vals)))]
            ins_opts.append(v)
            prod_opts.append(f"{name}: {v}")
    opts = ""
    if ins_opts:
        opts = " in " + " and ".join(ins_opts)
    form = _HUMAN_FORMS[int(rng.integers(len(_HUMAN_FORMS)))]
    text = form.format(attrs=" and ".join(ins_attrs), type=type_name, opts=opts) + "."
    return {
        "asin": asin,
        "instruction": text,
        "attributes": list(attrs),
        "options": prod_opts,
        "instruction_attributes": ins_attrs,
        "instruction_options": ins_opts,
        "assignment_id": f"gen-{asin}",
        "worker_id": "generated",
    }


def generate_raw(
    num_products: int = 1000, seed: int = 0
) -> tuple[list[dict], dict[str, dict], dict[str, list]]:
    """Generate a catalog in the real files' formats.

    Args:
        num_products: Number of products (100 to 100,000 is the supported range; any positive number works).
        seed: Generator seed.

    Returns:
        ``(products, attributes, human)`` in the formats of ``items_shuffle_1000.json``,
        ``items_ins_v2_1000.json`` and ``items_human_ins.json``.
    """
    if num_products < 1:
        raise ValueError(f"num_products must be >= 1, got {num_products}")
    rng = _Rng(seed)
    used: set[str] = set()
    products: list[dict] = []
    attributes: dict[str, dict] = {}
    human: dict[str, list] = {}
    cats = sorted(_TYPES)
    brands = [_brand(rng) for _ in range(max(20, num_products // 8))]
    for _ in range(num_products):
        cat = cats[int(rng.integers(len(cats)))]
        type_name, query, crumbs, attr_pool, groups, (lo, hi) = _TYPES[cat][
            int(rng.integers(len(_TYPES[cat])))
        ]
        asin = _asin(rng, used)
        brand = brands[int(rng.integers(len(brands)))]
        attrs = _pick(rng, attr_pool, int(rng.integers(2, 6)))
        raw_opts, values = _options(rng, groups)
        desc_word = _DESCRIPTORS[int(rng.integers(len(_DESCRIPTORS)))]
        title_attrs = attrs[: int(rng.integers(1, min(3, len(attrs)) + 1))]
        extra = ""
        if rng.random() < 0.5:
            extra = f", {int(rng.integers(1, 25))} " + ("Pack" if rng.random() < 0.5 else "Count")
        name = f"{brand} {desc_word} {_title_case(type_name)} - {_title_case(', '.join(title_attrs))}{extra}"
        rest = [a for a in attrs if a not in title_attrs]
        description = (
            f"The {brand} {type_name} is made for everyday use. "
            + (f"It offers {', '.join(rest)}. " if rest else "")
            + f"Designed with care and backed by {brand} customer service."
        )
        if rng.random() < 0.3:
            description = ""
        bullets = [f"{_title_case(a)}: this {type_name} is {a} and built to last." for a in attrs]
        bullets += [
            f"What you get: {brand} {type_name} and a quick start guide.",
            "Satisfaction guaranteed: contact us with any question.",
        ][: int(rng.integers(0, 3))]
        n_bullets = int(rng.integers(1, len(bullets) + 1))
        small = bullets[:n_bullets] if rng.random() > 0.02 else bullets[0]
        products.append(
            {
                "name": name,
                "full_description": description,
                "pricing": _price(rng, lo, hi),
                "images": [f"https://example.invalid/images/{asin}.jpg"],
                "product_category": f"{_CAT_ROOT[cat]} › {crumbs}",
                "average_rating": "",
                "small_description": small,
                "customization_options": raw_opts,
                "asin": asin,
                "category": cat,
                "query": query,
                "page": int(rng.integers(1, 400)),
            }
        )
        entry: dict[str, Any] = {"attributes": attrs}
        if rng.random() < 0.4:
            ins_attrs = _pick(rng, attrs, int(rng.integers(1, min(3, len(attrs)) + 1)))
            entry["instruction"] = _instruction(rng, type_name, ins_attrs)
            entry["instruction_attributes"] = ins_attrs
        attributes[asin] = entry
        if rng.random() < 0.1:
            human[asin] = [
                _human(rng, asin, type_name, attrs, values) for _ in range(int(rng.integers(1, 3)))
            ]
    return products, attributes, human
