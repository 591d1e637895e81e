"""What each bit of the register's masks means, and how to say a mask in words.

Availability: bit (day * 6 + part), Monday = day 0, parts in PARTS order. The other masks: bit i is the
i-th item of its list. Appending to a list is safe; reordering or removing would change stored data.
"""

from collections.abc import Iterable

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# (key, label, plural for sentences)
PARTS = (
    ("early", "Early morning", "early mornings"),
    ("morning", "Morning", "mornings"),
    ("afternoon", "Afternoon", "afternoons"),
    ("evening", "Evening", "evenings"),
    ("night", "Night", "nights"),
    ("sleep_in", "Sleep-in", "sleep-ins"),
)
PART_HINTS = {
    "early": "6am to 9am",
    "morning": "9am to 12 noon",
    "afternoon": "12 noon to 5pm",
    "evening": "5pm to 10pm",
    "night": "10pm to 6am, awake",
    "sleep_in": "overnight, asleep on site",
}

SUPPORT = (
    ("personal_care", "Personal care"),
    ("medication", "Medication"),
    ("domestic", "Domestic help"),
    ("cooking", "Cooking"),
    ("shopping", "Shopping"),
    ("social", "Social and community"),
    ("work_education", "Accessing work or education"),
    ("driving", "Driving"),
    ("overnight", "Overnight"),
)

EXPERIENCE = (
    ("older_people", "Older people"),
    ("dementia", "Dementia"),
    ("learning_disability", "Learning disability"),
    ("autism", "Autism"),
    ("mental_health", "Mental health"),
    ("physical_disability", "Physical disability"),
    ("children_young_people", "Children and young people"),
    ("end_of_life", "End of life"),
)

LANGUAGES = (
    ("en", "English"),
    ("bsl", "British Sign Language"),
    ("ar", "Arabic"),
    ("bn", "Bengali"),
    ("yue", "Cantonese"),
    ("fa", "Farsi"),
    ("fr", "French"),
    ("gu", "Gujarati"),
    ("hi", "Hindi"),
    ("it", "Italian"),
    ("ku", "Kurdish"),
    ("lt", "Lithuanian"),
    ("cmn", "Mandarin"),
    ("pl", "Polish"),
    ("pt", "Portuguese"),
    ("pa", "Punjabi"),
    ("ro", "Romanian"),
    ("so", "Somali"),
    ("es", "Spanish"),
    ("ta", "Tamil"),
    ("ti", "Tigrinya"),
    ("tr", "Turkish"),
    ("uk", "Ukrainian"),
    ("ur", "Urdu"),
    ("cy", "Welsh"),
    ("yo", "Yoruba"),
)

CHECK_LABELS = {
    "dbs": "DBS check",
    "safeguarding": "Safeguarding training",
    "first_aid": "First aid",
    "moving_and_handling": "Moving and handling",
    "medication": "Medication training",
    "right_to_work": "Right to work",
    "reference": "Reference",
}
CHECK_SHORT = {
    "dbs": "DBS",
    "safeguarding": "safeguarding",
    "first_aid": "first aid",
    "moving_and_handling": "moving and handling",
    "medication": "medication training",
    "right_to_work": "right to work",
    "reference": "references",
}
CHECK_ORDER = tuple(CHECK_LABELS)


def slot_key(day: int, part: str) -> str:
    """A form value for one cell of the availability grid: 'tue-morning'."""
    return f"{DAYS[day][:3].lower()}-{part}"


SLOT_KEYS = tuple(slot_key(day, key) for day in range(7) for key, _, _ in PARTS)
_SLOT_BIT = {key: 1 << index for index, key in enumerate(SLOT_KEYS)}
_PART_INDEX = {key: index for index, (key, _, _) in enumerate(PARTS)}


def slots_mask(keys: Iterable[str]) -> int:
    """The availability mask for slot keys; unknown keys are ignored (they come from a form)."""
    mask = 0
    for key in keys:
        mask |= _SLOT_BIT.get(key, 0)
    return mask


def slot_keys(mask: int) -> list[str]:
    return [key for key in SLOT_KEYS if mask & _SLOT_BIT[key]]


def slot_bit(day: int, part: str) -> int:
    return 1 << (day * len(PARTS) + _PART_INDEX[part])


def mask_of(options: tuple[tuple[str, str], ...], keys: Iterable[str]) -> int:
    index = {key: i for i, (key, _) in enumerate(options)}
    mask = 0
    for key in keys:
        if key in index:
            mask |= 1 << index[key]
    return mask


def keys_of(options: tuple[tuple[str, str], ...], mask: int) -> list[str]:
    return [key for i, (key, _) in enumerate(options) if mask & (1 << i)]


def labels_of(options: tuple[tuple[str, str], ...], mask: int) -> list[str]:
    return [label for i, (_, label) in enumerate(options) if mask & (1 << i)]


def bits(mask: int) -> list[int]:
    """Each set bit of a mask as its own value (1, 4, 32...)."""
    out = []
    while mask:
        low = mask & -mask
        out.append(low)
        mask ^= low
    return out


def count_bits(mask: int) -> int:
    return bin(mask).count("1")


def join_words(words: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    if not words:
        return ""
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " and " + words[-1]


def describe_slots(mask: int) -> str:
    """Availability in words, grouped by part of the day: 'Tuesday and Thursday mornings'."""
    phrases = []
    for part_index, (key, _, plural) in enumerate(PARTS):
        days = [DAYS[day] for day in range(7) if mask & (1 << (day * len(PARTS) + part_index))]
        if not days:
            continue
        if len(days) == 7:
            phrases.append(f"{plural} every day")
        else:
            phrases.append(f"{join_words(days)} {plural}")
    return join_words(phrases)


def check_kind_bit(kind: str) -> int:
    return 1 << CHECK_ORDER.index(kind)
