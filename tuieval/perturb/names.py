"""Name swap: a person's name that is both in the input and in the target is replaced, in
the input and the target alike, by a name from another language or script.

Only names the target contains are swapped. A name in the input alone may be what the
question is about ("Who painted the Mona Lisa?"), and renaming it would change the correct
answer; a name in both is the answer itself, copied from the input (extraction, reading
comprehension), so renaming it everywhere keeps the case correct. A name is two or three
capitalised words (Chloe Sanders, Mehmet Öztürk); lone given or family names elsewhere in the
input ("… Sanders said") are renamed with it.

`severity` is the probability that a replacement comes from a non-Latin script (Cyrillic,
Greek, Arabic, Devanagari, CJK …) rather than from another Latin-script language.
"""

from __future__ import annotations

import random
import re
from typing import Any

from tuieval.perturb.base import Edit, Family, Item, Skip

# (full name, given name, family name): the given and family parts replace a lone given or
# family name of the original; CJK names are written family-first without a space.
LATIN_NAMES: tuple[tuple[str, str, str], ...] = (
    ("Oluwaseun Adeyemi", "Oluwaseun", "Adeyemi"), ("Bożena Wiśniewska", "Bożena", "Wiśniewska"),
    ("Jiří Dvořáček", "Jiří", "Dvořáček"), ("Çağla Yıldırım", "Çağla", "Yıldırım"),
    ("Þórunn Guðmundsdóttir", "Þórunn", "Guðmundsdóttir"), ("Nguyễn Thảo", "Thảo", "Nguyễn"),
    ("Søren Kjærgaard", "Søren", "Kjærgaard"), ("Zoë Lefèvre", "Zoë", "Lefèvre"),
    ("Íñigo Zubizarreta", "Íñigo", "Zubizarreta"), ("Ngozi Okonkwo", "Ngozi", "Okonkwo"),
    ("Tūhoe Ngata", "Tūhoe", "Ngata"), ("Mihály Szőke", "Mihály", "Szőke"),
    ("Ștefania Dumitrescu", "Ștefania", "Dumitrescu"), ("Kalani Kealoha", "Kalani", "Kealoha"),
    ("Aigerim Nurlanovna", "Aigerim", "Nurlanovna"), ("Thandiwe Dlamini", "Thandiwe", "Dlamini"),
    ("Joaquín Ibáñez", "Joaquín", "Ibáñez"), ("Gülşen Aydın", "Gülşen", "Aydın"),
    ("Māris Bērziņš", "Māris", "Bērziņš"), ("Xochitl Cuauhtli", "Xochitl", "Cuauhtli"),
    ("Eero Häkkinen", "Eero", "Häkkinen"), ("Wanjiru Kamau", "Wanjiru", "Kamau"),
    ("Dagný Jónsdóttir", "Dagný", "Jónsdóttir"), ("Vuong Đức", "Đức", "Vuong"),
)
OTHER_SCRIPT_NAMES: tuple[tuple[str, str, str], ...] = (
    ("Дмитрий Соколов", "Дмитрий", "Соколов"), ("Анна Кузнецова", "Анна", "Кузнецова"),
    ("Νίκος Παπαδόπουλος", "Νίκος", "Παπαδόπουλος"), ("Ελένη Γεωργίου", "Ελένη", "Γεωργίου"),
    ("ليلى حداد", "ليلى", "حداد"), ("يوسف العلي", "يوسف", "العلي"),
    ("נועה לוי", "נועה", "לוי"), ("अनिल शर्मा", "अनिल", "शर्मा"),
    ("সুমন দাস", "সুমন", "দাস"), ("கவிதா ராமன்", "கவிதா", "ராமன்"),
    ("สมชาย ใจดี", "สมชาย", "ใจดี"), ("ნინო ბერიძე", "ნინო", "ბერიძე"),
    ("Արամ Պետրոսյան", "Արամ", "Պետրոսյան"), ("王伟", "伟", "王"), ("李娜", "娜", "李"),
    ("佐藤健", "健", "佐藤"), ("高橋美咲", "美咲", "高橋"), ("김민준", "민준", "김"), ("이서연", "서연", "이"),
    ("Олена Шевченко", "Олена", "Шевченко"),
)

# Words that make a capitalised pair a place or an institution, not a person.
_NOT_PERSON = frozenset("""ocean sea river lake mountain mountains mount island islands bay gulf city county
state states kingdom republic university college school institute museum library street road
avenue park hall bridge tower church cathedral company corporation inc ltd bank hospital airport
station north south east west new saint san santa los las el united national international
war wars day days revolution empire ocean's""".split())
_CAPITALISED = re.compile(r"[^\W\d_][^\W\d_'\u2019\-]*(?:[-'\u2019][^\W\d_]+)*")


def looks_like_person(text: str) -> bool:
    """Two or three capitalised words with no place/institution word: "Chloe Sanders"."""
    words = text.split()
    if not 2 <= len(words) <= 3:
        return False
    for w in words:
        if not _CAPITALISED.fullmatch(w) or not w[0].isupper() or w.isupper() or w.lower() in _NOT_PERSON:
            return False
    return True


def _word(s: str) -> str:
    return r"(?<![\w])" + re.escape(s) + r"(?![\w])"


def _rewrite(value: Any, rx: re.Pattern, mapping: dict[str, str]) -> Any:
    if isinstance(value, str):
        return rx.sub(lambda m: mapping[m.group(0)], value)
    if isinstance(value, dict):
        return {k: _rewrite(v, rx, mapping) for k, v in value.items()}
    if isinstance(value, list):
        return [_rewrite(v, rx, mapping) for v in value]
    return value


def apply(item: Item, severity: float | None, rng: random.Random) -> Edit | Skip:
    share = float(severity if severity is not None else FAMILY.default_severity)
    joined = "\n".join(item.texts)
    originals = [p for p in item.protected if looks_like_person(p) and re.search(_word(p), joined)]
    if not originals:
        return Skip("no person's name that is in both the input and the target")
    everything = joined + "\n" + item.other_text + "\n" + "\n".join(item.protected)
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for name in originals:
        pool = OTHER_SCRIPT_NAMES if rng.random() < share else LATIN_NAMES
        choices = [n for n in pool if n[0] not in used and n[0] not in everything]
        full, given, family = choices[rng.randrange(len(choices))]
        used.add(full)
        words = name.split()
        mapping.setdefault(name, full)
        # a lone given or family name elsewhere refers to the same person
        mapping.setdefault(words[0], given)
        mapping.setdefault(words[-1], family)
    # one pass, longest first, so "Chloe Sanders" is replaced whole before "Chloe" alone, and
    # a replacement is never itself rewritten
    rx = re.compile("|".join(_word(k) for k in sorted(mapping, key=len, reverse=True)))
    texts = tuple(_rewrite(t, rx, mapping) for t in item.texts)
    targets = tuple(_rewrite(t, rx, mapping) for t in item.targets)
    edits = sum(len(rx.findall(t)) for t in item.texts)
    return Edit(texts=texts, targets=targets, edits=edits,
                detail={"names": {k: mapping[k] for k in originals}})


FAMILY = Family("names", "names in input and target swapped for names from other languages and scripts",
                apply, 0.5, "the share of replacements from non-Latin scripts")
