"""The hashed n-gram measures equal Gopher's definitions computed on strings, the slow and obvious way."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from refinery.transforms.repetition import NGrams


def top_gram_chars_by_strings(words: list[str], n: int) -> int:
    grams = Counter(" ".join(words[i : i + n]) for i in range(len(words) - n + 1))
    gram, count = grams.most_common(1)[0]  # ties: the n-gram seen first
    return len(gram) * count


def repeated_gram_chars_by_strings(words: list[str], n: int) -> int:
    seen: set[str] = set()
    repeated = index = 0
    while index < len(words) - n + 1:
        gram = "".join(words[index : index + n])
        if gram in seen:
            repeated += len(gram)
            index += n  # jump past the repeat; what it covers is not remembered
        else:
            seen.add(gram)
            index += 1
    return repeated


def random_words(rng: random.Random) -> list[str]:
    # A tiny vocabulary whose words also concatenate into each other ("a" + "bc" == "ab" + "c"): repeats are
    # frequent, and n-grams of different words can still be the same string.
    return [rng.choice(["a", "bc", "ab", "c", "the", "cat"]) for _ in range(rng.randint(1, 60))]


MEASURES = {  # the hashed measure, its string definition, the n it is used with
    "duplicated n-grams": (NGrams.repeated_gram_chars, repeated_gram_chars_by_strings, range(1, 11)),
    "top n-gram": (NGrams.top_gram_chars, top_gram_chars_by_strings, range(1, 5)),
}


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("measure", MEASURES)
def test_hashed_measures_equal_the_string_definitions(measure, seed):
    hashed, by_strings, sizes = MEASURES[measure]
    rng = random.Random(seed)
    for _ in range(400):
        words = random_words(rng)
        for n in sizes:
            if n <= len(words):
                assert hashed(NGrams(words), n) == by_strings(words, n), (words, n)


def test_joined_strings_not_word_lists_decide():
    # "a bc" and "ab c" are different word pairs but the same string once joined with nothing (Gopher's
    # duplicated n-grams), and different strings when joined with a space (its top n-grams).
    words = ["a", "bc", "x", "ab", "c"]
    assert NGrams(words).repeated_gram_chars(2) == 3
    assert NGrams(words).top_gram_chars(2) == len("a bc")
    # Ties in the top n-gram go to the one seen first, whatever its length.
    assert NGrams(["long", "word", "a", "b", "long", "word", "a", "b"]).top_gram_chars(2) == len("long word") * 2
