"""Per-code-point character classes, as Python's `str` methods and `re` see them, for the compiled kernels.

One uint16 of flags per code point (2.2 MB, built once per process in a few tens of milliseconds by numpy's
string functions, which use the same Unicode database as `str`): `str.isspace` (= `re`'s `\\s` and what
`str.split()` splits on), `str.isalnum` (= `re`'s `[^\\W_]`), `str.isalpha`, `str.isdecimal` (= `re`'s `\\d`),
the quality filters' punctuation sets, and the characters `str.splitlines` breaks at besides `\\n`.
"""

from __future__ import annotations

import functools

import numpy as np

from refinery.transforms.punctuation import PUNCTUATION_SET, TERMINAL_PUNCTUATION

SPACE, ALNUM, ALPHA, DECIMAL, PUNCT, TERMINAL = 1, 2, 4, 8, 16, 32
OTHER_BREAK = 64  # \r \v \f \x1c-\x1e \x85 \u2028 \u2029: line breaks for splitlines() but not split("\n")
WORD_PREFIX = 128  # the single characters a word's prefix may be (quality._PREFIX's set)
WORD_SUFFIX = 256  # the single characters a word's suffix may be (quality._SUFFIX's set)
CODE_POINTS = 0x110000

_OTHER_BREAKS = "\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"
_PREFIX_CHARACTERS = "\"'“‘([{<*`~#$£€§¿¡:_"
_SUFFIX_CHARACTERS = "\"'”’)]}>*`:;,!?%._"


@functools.cache
def flags() -> np.ndarray:
    """uint16 flags of every code point."""
    every = np.arange(CODE_POINTS, dtype=np.uint32).view("<U1")
    table = np.zeros(CODE_POINTS, dtype=np.uint16)
    for bit, test in (
        (SPACE, np.strings.isspace),
        (ALNUM, np.strings.isalnum),
        (ALPHA, np.strings.isalpha),
        (DECIMAL, np.strings.isdecimal),
    ):
        table[test(every)] |= bit
    for bit, characters in (
        (PUNCT, PUNCTUATION_SET),
        (TERMINAL, TERMINAL_PUNCTUATION),
        (OTHER_BREAK, _OTHER_BREAKS),
        (WORD_PREFIX, _PREFIX_CHARACTERS),
        (WORD_SUFFIX, _SUFFIX_CHARACTERS),
    ):
        table[[ord(c) for c in characters]] |= bit
    return table


@functools.cache
def ascii_lower() -> np.ndarray:
    """uint8: the ASCII letter `chr(c).lower()` is, for the code points whose lower case is one ASCII character
    (A-Z, a-z, the Kelvin sign ...), else 0; for matching ASCII phrases in `line.lower()`."""
    table = np.zeros(CODE_POINTS, dtype=np.uint8)
    for code in range(128):
        table[code] = ord(chr(code).lower())
    table[0x212A] = ord("k")  # KELVIN SIGN: the one non-ASCII code point that lowers to ASCII
    return table
