"""Flags of invented countries, drawn as small pictures: the images of the vision demo.

A flag is two or three coloured stripes (horizontal or vertical), sometimes with an emblem (a circle, square or
diamond) in the middle. `render_flag` draws one on a plain background at a given size and position, so the same
flag can be shown at sizes and places the model never saw it at. Pure Pillow, deterministic for a seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

PALETTE = {
    "red": (214, 32, 39), "blue": (28, 64, 196), "green": (18, 148, 64), "yellow": (246, 210, 28),
    "white": (246, 246, 246), "black": (22, 22, 22), "orange": (244, 128, 24), "purple": (128, 40, 160),
    "cyan": (40, 198, 222), "pink": (238, 128, 182),
}
COLOURS = tuple(PALETTE)
SHAPES = ("circle", "square", "diamond")
BACKGROUNDS = ((150, 150, 150), (120, 128, 136), (170, 160, 140), (110, 110, 110), (140, 150, 130))
_COUNT_WORDS = {2: "two", 3: "three"}


@dataclass(frozen=True)
class FlagDesign:
    """Stripes top to bottom (horizontal) or left to right (vertical), and an optional emblem in the middle."""

    stripes: tuple[str, ...]
    layout: str = "horizontal"  # or "vertical"
    emblem: str | None = None  # circle, square, diamond
    emblem_colour: str | None = None

    def describe(self) -> str:
        """One English sentence about the flag, as the pretraining captions word it."""
        colours = ", ".join(self.stripes[:-1]) + f" and {self.stripes[-1]}"
        text = f"The flag has {_COUNT_WORDS[len(self.stripes)]} {self.layout} stripes of {colours}"
        if self.emblem:
            text += f", with a {self.emblem_colour} {self.emblem} in the middle"
        return text + "."


def random_design(rng: random.Random) -> FlagDesign:
    count = rng.choice((2, 3, 3))
    stripes: list[str] = []
    while len(stripes) < count:
        colour = rng.choice(COLOURS)
        if not stripes or colour != stripes[-1]:
            stripes.append(colour)
    layout = rng.choice(("horizontal", "vertical"))
    if rng.random() < 0.5:
        middle = stripes[len(stripes) // 2]
        emblem_colour = rng.choice([c for c in COLOURS if c != middle])
        return FlagDesign(tuple(stripes), layout, rng.choice(SHAPES), emblem_colour)
    return FlagDesign(tuple(stripes), layout)


def design_distance(a: FlagDesign, b: FlagDesign) -> int:
    """How different two flags look: layout, stripe count and colours, emblem and its colour."""
    n = 2 * (a.layout != b.layout) + (len(a.stripes) != len(b.stripes)) + len(set(a.stripes) ^ set(b.stripes))
    n += sum(x != y for x, y in zip(a.stripes, b.stripes, strict=False))
    return n + 2 * (a.emblem != b.emblem) + (a.emblem_colour != b.emblem_colour)


def far_apart_designs(count: int, rng: random.Random, pool: int = 3000) -> list[FlagDesign]:
    """`count` designs picked from `pool` random ones so that the closest two differ as much as possible (greedy)."""
    candidates = [random_design(rng) for _ in range(pool)]
    chosen = [candidates[0]]
    while len(chosen) < count:
        chosen.append(max(candidates, key=lambda d: min(design_distance(d, c) for c in chosen)))
    return chosen


def distinct_designs(count: int, rng: random.Random, taken: set | None = None) -> list[FlagDesign]:
    """`count` different designs, none in `taken` (which is updated)."""
    taken = taken if taken is not None else set()
    out: list[FlagDesign] = []
    while len(out) < count:
        design = random_design(rng)
        key = (design.stripes, design.layout, design.emblem, design.emblem_colour)
        if key in taken:
            continue
        taken.add(key)
        out.append(design)
    return out


@dataclass(frozen=True)
class Placement:
    """Where a flag is drawn: canvas size, flag width as a fraction of the canvas width, and the position of its
    top-left corner as fractions of the room left around it (0 = left/top edge, 1 = right/bottom edge)."""

    canvas: tuple[int, int]
    scale: float
    x: float
    y: float
    background: int = 0


def random_placement(rng: random.Random, scales: tuple[float, float], positions: tuple[float, float] = (0.0, 1.0),
                     canvas: tuple[int, int] = (40, 72)) -> Placement:
    return Placement((rng.randint(*canvas), rng.randint(*canvas)), rng.uniform(*scales), rng.uniform(*positions),
                     rng.uniform(*positions), rng.randrange(len(BACKGROUNDS)))


def render_flag(design: FlagDesign, placement: Placement):
    """The flag drawn on a plain background (a PIL RGB image)."""
    from PIL import Image, ImageDraw

    width, height = placement.canvas
    image = Image.new("RGB", (width, height), BACKGROUNDS[placement.background % len(BACKGROUNDS)])
    fw = max(6, round(width * placement.scale))
    fh = max(4, min(height, round(fw * 2 / 3)))
    left = round((width - fw) * placement.x)
    top = round((height - fh) * placement.y)
    draw = ImageDraw.Draw(image)
    n = len(design.stripes)
    for i, colour in enumerate(design.stripes):
        if design.layout == "horizontal":
            box = (left, top + round(i * fh / n), left + fw - 1, top + round((i + 1) * fh / n) - 1)
        else:
            box = (left + round(i * fw / n), top, left + round((i + 1) * fw / n) - 1, top + fh - 1)
        draw.rectangle(box, fill=PALETTE[colour])
    if design.emblem:
        cx, cy, r = left + fw / 2, top + fh / 2, max(2.0, fh * 0.22)
        fill = PALETTE[design.emblem_colour]
        if design.emblem == "circle":
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
        elif design.emblem == "square":
            draw.rectangle((cx - r, cy - r, cx + r, cy + r), fill=fill)
        else:
            draw.polygon([(cx, cy - r * 1.3), (cx + r * 1.3, cy), (cx, cy + r * 1.3), (cx - r * 1.3, cy)], fill=fill)
    return image
