"""The Porter stemmer as Lucene's ``PorterStemFilter`` applies it (Porter's reference C version).

Written from the algorithm (M. F. Porter, "An algorithm for suffix stripping", 1980) with the two departures
of Porter's own C implementation that Lucene's ``PorterStemmer`` also makes: ``-bli`` -> ``-ble`` (instead of
``-abli`` -> ``-able``) and ``-logi`` -> ``-log`` in step 2; and words of one or two letters are not stemmed.
PyStemmer's ``"porter"`` follows the published algorithm instead (``technology`` -> ``technologi``,
``us`` -> ``u``), which is why WebShop's search uses this module.

>>> [stem(w) for w in ("caresses", "ponies", "running", "technology", "assembly", "us", "relational")]
['caress', 'poni', 'run', 'technolog', 'assembl', 'us', 'relat']
"""

from __future__ import annotations

import functools

_VOWELS = frozenset("aeiou")


class _Word:
    __slots__ = ("b", "j", "k")

    def __init__(self, word: str) -> None:
        self.b = list(word)
        self.k = len(word) - 1
        self.j = 0

    def cons(self, i: int) -> bool:
        c = self.b[i]
        if c in _VOWELS:
            return False
        if c == "y":
            return True if i == 0 else not self.cons(i - 1)
        return True

    def m(self) -> int:
        """Number of VC sequences in b[0..j]."""
        n, i, j = 0, 0, self.j
        while True:
            if i > j:
                return n
            if not self.cons(i):
                break
            i += 1
        i += 1
        while True:
            while True:
                if i > j:
                    return n
                if self.cons(i):
                    break
                i += 1
            i += 1
            n += 1
            while True:
                if i > j:
                    return n
                if not self.cons(i):
                    break
                i += 1
            i += 1

    def vowel_in_stem(self) -> bool:
        return any(not self.cons(i) for i in range(self.j + 1))

    def doublec(self, j: int) -> bool:
        return j >= 1 and self.b[j] == self.b[j - 1] and self.cons(j)

    def cvc(self, i: int) -> bool:
        if i < 2 or not self.cons(i) or self.cons(i - 1) or not self.cons(i - 2):
            return False
        return self.b[i] not in "wxy"

    def ends(self, s: str) -> bool:
        n = len(s)
        if n > self.k + 1 or "".join(self.b[self.k - n + 1 : self.k + 1]) != s:
            return False
        self.j = self.k - n
        return True

    def setto(self, s: str) -> None:
        self.b[self.j + 1 : self.k + 1] = list(s)
        self.k = self.j + len(s)

    def r(self, s: str) -> None:
        if self.m() > 0:
            self.setto(s)

    # ---------------------------------------------------------------- steps
    def step1ab(self) -> None:
        if self.b[self.k] == "s":
            if self.ends("sses"):
                self.k -= 2
            elif self.ends("ies"):
                self.setto("i")
            elif self.b[self.k - 1] != "s":
                self.k -= 1
        if self.ends("eed"):
            if self.m() > 0:
                self.k -= 1
        elif (self.ends("ed") or self.ends("ing")) and self.vowel_in_stem():
            self.k = self.j
            if self.ends("at"):
                self.setto("ate")
            elif self.ends("bl"):
                self.setto("ble")
            elif self.ends("iz"):
                self.setto("ize")
            elif self.doublec(self.k):
                self.k -= 1
                if self.b[self.k] in "lsz":
                    self.k += 1
            elif self.m() == 1 and self.cvc(self.k):
                self.setto("e")

    def step1c(self) -> None:
        if self.ends("y") and self.vowel_in_stem():
            self.b[self.k] = "i"

    _STEP2 = {
        "a": (("ational", "ate"), ("tional", "tion")),
        "c": (("enci", "ence"), ("anci", "ance")),
        "e": (("izer", "ize"),),
        "l": (("bli", "ble"), ("alli", "al"), ("entli", "ent"), ("eli", "e"), ("ousli", "ous")),
        "o": (("ization", "ize"), ("ation", "ate"), ("ator", "ate")),
        "s": (("alism", "al"), ("iveness", "ive"), ("fulness", "ful"), ("ousness", "ous")),
        "t": (("aliti", "al"), ("iviti", "ive"), ("biliti", "ble")),
        "g": (("logi", "log"),),
    }
    _STEP3 = {
        "e": (("icate", "ic"), ("ative", ""), ("alize", "al")),
        "i": (("iciti", "ic"),),
        "l": (("ical", "ic"), ("ful", "")),
        "s": (("ness", ""),),
    }
    _STEP4 = {
        "a": ("al",), "c": ("ance", "ence"), "e": ("er",), "i": ("ic",), "l": ("able", "ible"),
        "n": ("ant", "ement", "ment", "ent"), "s": ("ism",), "t": ("ate", "iti"), "u": ("ous",),
        "v": ("ive",), "z": ("ize",),
    }  # fmt: skip

    def _table(self, table: dict, key: str) -> None:
        for suffix, repl in table.get(key, ()):
            if self.ends(suffix):
                self.r(repl)
                return

    def step2(self) -> None:
        if self.k >= 1:
            self._table(self._STEP2, self.b[self.k - 1])

    def step3(self) -> None:
        self._table(self._STEP3, self.b[self.k])

    def step4(self) -> None:
        if self.k < 1:
            return
        key = self.b[self.k - 1]
        if key == "o":
            if self.ends("ion") and self.j >= 0 and self.b[self.j] in "st":
                pass
            elif self.ends("ou"):
                pass
            else:
                return
        else:
            for suffix in self._STEP4.get(key, ()):
                if self.ends(suffix):
                    break
            else:
                return
        if self.m() > 1:
            self.k = self.j

    def step5(self) -> None:
        self.j = self.k
        if self.b[self.k] == "e":
            a = self.m()
            if a > 1 or (a == 1 and not self.cvc(self.k - 1)):
                self.k -= 1
        if self.b[self.k] == "l" and self.doublec(self.k) and self.m() > 1:
            self.k -= 1


@functools.lru_cache(maxsize=1 << 18)
def stem(word: str) -> str:
    """Porter stem of a lower-case word (words of 1-2 characters are returned unchanged)."""
    if len(word) <= 2:
        return word
    w = _Word(word)
    w.step1ab()
    if w.k > 0:
        w.step1c()
        w.step2()
        w.step3()
        w.step4()
        w.step5()
    return "".join(w.b[: w.k + 1])
