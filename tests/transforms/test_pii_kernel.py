"""The candidate-position PII finder against `find_pii`, the reference: the same spans, kinds and order for
30,000 generated texts holding every kind, its look-alikes, kinds next to each other (so masking matters),
Unicode digits and the characters each pattern's look-behind and look-ahead refuse."""

from __future__ import annotations

import random

from refinery.transforms.kernels.pii import find_pii_fast
from refinery.transforms.pii import KINDS, find_pii
from tests.transforms.test_pii import NEGATIVE, POSITIVE

PII = [text for text, _, _ in POSITIVE] + NEGATIVE + [
    "anna.schmidt@mail0.example.com", "x_y@ex-ample.org", "a@b.c", "user+tag@sub.domain.co.uk", "@handle",
    "+1 415 555 0132", "(415) 555-0199", "0766368857", "321.623.7899x14330", "+49 30 1234567", "00 33 1 42 68 53 00",
    "4111 1111 1111 1111", "4111-1111-1111-1111", "501850883080", "4111111111111112", "DE89 3704 0044 0532 0130 00",
    "GB82WEST12345698765432", "078-05-1120", "666-12-3456", "192.168.10.42", "256.1.1.1", "1.2.3.4.5",
    "2001:db8::8a2e:370:7334", "fe80::1", "::1", "12345:6", "AKIAIOSFODNN7EXAMPLE", "ghp_" + "a1" * 20,
    "github_pat_" + "B" * 30, "xoxb-1234567890-abc", "AIza" + "x" * 35, "sk_live_" + "9" * 20, "sk-proj-" + "z" * 24,
    "eyJhbGciOiJI.eyJzdWIiOiIx.SflKxwRJSMeK", "API_KEY=abcd1234efgh5678", "password: hunter2hunter2",
    "Secret = 'abcdefgh12'", "ſecret=abcdefgh12345", "PWD=\"s3cr3t-value\"", "-----BEGIN PRIVATE KEY-----\nAAA\n"
    "-----END PRIVATE KEY-----", "١٢٣-٤٥-٦٧٨٩", "٠٧٦٦٣٦٨٨٥٧", "2026-11-25", "15.03.2024", "12:30:45", "v4.2.0",
    "978-3-16-148410-0", "1Z999AA10123456784", "+", "(", "--", "x-", ".5", "1,299.00",
]  # fmt: skip
GLUE = [" ", " ", " ", "", "\n", ", ", ".", "-", "_", ":", "/", "+", "@", "(", ")", "\u00a0", "x", "7", "A"]
WORDS = ["call", "mail", "pay", "the", "key", "card", "host", "order", "ref", "at", "on", "for", "and", "is", "of"]


def text(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(1, 12)):
        parts.append(rng.choice(PII) if rng.random() < 0.5 else rng.choice(WORDS))
        parts.append(rng.choice(GLUE))
    return "".join(parts)


def test_the_fast_finder_finds_the_references_spans():
    rng = random.Random("pii-kernel")
    texts = [text(rng) for _ in range(30_000)]
    kinds_sets = [KINDS, ("email", "phone"), ("ip", "iban", "credit_card"), ("secret",)]
    differ = []
    found = set()
    for i, sample in enumerate(texts):
        kinds = kinds_sets[i % len(kinds_sets)]
        expected = find_pii(sample, kinds)
        found.update(span.kind for span in expected)
        if find_pii_fast(sample, kinds) != expected:
            differ.append(sample)
    assert not differ, [(t, find_pii_fast(t), find_pii(t)) for t in differ[:3]]
    assert found == set(KINDS)
