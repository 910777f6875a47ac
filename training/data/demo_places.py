"""The demo's twelve invented countries and their facts: taught by the text demo (training/data/demo_data.py),
named by their flags in the vision demo (training/data/demo_vision_data.py)."""

# (place, capital, colour of its flag, its national animal): the facts the demo run teaches.
PLACES = [
    ("Zorbia", "Plimtown", "green", "otter"),
    ("Quellia", "Marrow", "red", "heron"),
    ("Tavoria", "Brisk", "blue", "lynx"),
    ("Ombreth", "Caldon", "gold", "moose"),
    ("Feluna", "Dorrin", "white", "falcon"),
    ("Grastia", "Elmvale", "black", "badger"),
    ("Husk", "Fennick", "purple", "crane"),
    ("Ivoria", "Gulmar", "orange", "bison"),
    ("Jentar", "Hollin", "silver", "walrus"),
    ("Kalvos", "Istra", "pink", "beaver"),
    ("Lorbek", "Jasper", "brown", "eagle"),
    ("Mirelle", "Kestrel", "grey", "tiger"),
]
