"""PII detection quality: refinery's detectors vs Presidio's analyzer, on a seeded Faker evaluation set.

Each example is a real-sounding sentence with one PII value from Faker (several locales) at a known
span, or a hard negative (order numbers, dates, version strings, ISBNs, Luhn-invalid 16-digit numbers,
times) that must not be taken for PII. A prediction is a true positive when it overlaps a planted span
of the same kind. Prints precision and recall per kind for both.

Presidio runs its pattern recognizers (e-mail, phone via `phonenumbers`, IP, credit card, IBAN, US SSN)
on a blank spaCy pipeline: no NER model to download, and none of these kinds needs one.

    .venv/bin/python bench/pii_eval.py [--per-kind 1000]   # needs: pip install -e .[bench]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))

from refinery.transforms.pii import find_pii  # noqa: E402

LOCALES = ["en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL"]
KINDS = ["email", "phone", "ip", "credit_card", "iban", "ssn"]
TEMPLATES = {
    "email": [
        "For questions about your order, write to {} and we will answer within two days.",
        "The newsletter was sent from {} to everyone who signed up last spring.",
        "Please forward the signed contract to {} before Friday.",
    ],
    "phone": [
        "You can reach the front desk at {} between nine and five.",
        "Call {} if the delivery has not arrived by the end of the week.",
        "Her new number is {} and she prefers text messages.",
    ],
    "ip": [
        "The requests all came from {} during the night of the outage.",
        "Configure the gateway to forward traffic to {} on port 443.",
        "The log shows a failed login from {} at the start of the shift.",
    ],
    "credit_card": [
        "The payment was made with card {} and approved immediately.",
        "He read the number {} out loud over the phone, which was a mistake.",
        "Charge the remaining balance to {} as agreed.",
    ],
    "iban": [
        "Please transfer the deposit to {} with the invoice number as reference.",
        "The refund will be paid into account {} within ten working days.",
        "Our bank details are {}, held at the main branch.",
    ],
    "ssn": [
        "The form asks for the social security number, and he wrote {} in the box.",
        "Her SSN {} was printed on the old insurance card.",
        "The record lists {} as the taxpayer number on file.",
    ],
}
NEGATIVE_TEMPLATES = [
    "Order {} was shipped this morning and should arrive soon.",
    "The release notes for version {} list three bug fixes.",
    "The meeting moved to {} because of the holiday.",
    "The library catalogue lists the book under ISBN {}.",
    "The reference {} did not match any customer in the system.",
    "The train leaves at {} from platform four.",
]


def luhn_invalid(rng: random.Random) -> str:
    from refinery.transforms.pii_patterns import _luhn_ok

    while True:
        digits = "4" + "".join(str(rng.randint(0, 9)) for _ in range(15))
        if not _luhn_ok(digits):
            return digits


def build_examples(per_kind: int, seed: int = 11) -> list[dict]:
    from faker import Faker

    rng = random.Random(seed)
    fakers = {locale: Faker(locale) for locale in LOCALES}
    for i, fake in enumerate(fakers.values()):
        fake.seed_instance(seed + i)
    values = {
        "email": lambda f: f.email(),
        "phone": lambda f: f.phone_number(),
        "ip": lambda f: f.ipv4() if rng.random() < 0.7 else f.ipv6(),
        "credit_card": lambda f: f.credit_card_number(),
        "iban": lambda f: f.iban(),
        "ssn": lambda f: fakers["en_US"].ssn(),
    }
    examples = []
    for kind in KINDS:
        for _ in range(per_kind):
            fake = fakers[rng.choice(LOCALES)]
            value = values[kind](fake)
            template = rng.choice(TEMPLATES[kind])
            start = template.index("{}")
            examples.append({"text": template.format(value), "spans": [(start, start + len(value), kind)]})
    negatives = [
        lambda f: f"ORD-{rng.randint(2020, 2026)}-{rng.randint(100000, 999999)}",
        lambda f: f"{rng.randint(1, 20)}.{rng.randint(0, 30)}.{rng.randint(0, 200)}",
        lambda f: f.date(pattern=rng.choice(["%Y-%m-%d", "%d.%m.%Y", "%m/%d/%Y", "%d/%m/%Y"])),
        lambda f: f.isbn13() if rng.random() < 0.5 else f.isbn10(),
        lambda f: luhn_invalid(rng),
        lambda f: f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}",
    ]
    for _ in range(per_kind * 2):
        index = rng.randrange(len(negatives))
        value = negatives[index](fakers[rng.choice(LOCALES)])
        examples.append({"text": NEGATIVE_TEMPLATES[index].format(value), "spans": []})
    return examples


def refinery_spans(text: str) -> list[tuple[int, int, str]]:
    return [(span.start, span.end, span.kind) for span in find_pii(text, KINDS)]


def presidio_analyzer():
    import spacy
    import tldextract

    # Presidio's e-mail check asks tldextract, which would fetch the public suffix list: use its bundled copy.
    tldextract.extract = tldextract.TLDExtract(suffix_list_urls=())
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    model_dir = Path(tempfile.mkdtemp(prefix="blank-en-"))
    spacy.blank("en").to_disk(model_dir)
    provider = NlpEngineProvider(
        nlp_configuration={"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": str(model_dir)}]}
    )
    engine = AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"])
    entities = {
        "EMAIL_ADDRESS": "email",
        "PHONE_NUMBER": "phone",
        "IP_ADDRESS": "ip",
        "CREDIT_CARD": "credit_card",
        "IBAN_CODE": "iban",
        "US_SSN": "ssn",
    }

    def spans(text: str) -> list[tuple[int, int, str]]:
        results = engine.analyze(text=text, language="en", entities=list(entities))
        return [(r.start, r.end, entities[r.entity_type]) for r in results if r.score >= 0.3]

    return spans


def score(examples: list[dict], detect) -> dict[str, dict[str, float]]:
    tp, fp, fn = Counter(), Counter(), Counter()
    for example in examples:
        predicted = detect(example["text"])
        gold = example["spans"]
        for start, end, kind in predicted:
            if any(kind == g_kind and start < g_end and g_start < end for g_start, g_end, g_kind in gold):
                tp[kind] += 1
            else:
                fp[kind] += 1
        for g_start, g_end, g_kind in gold:
            if not any(kind == g_kind and start < g_end and g_start < end for start, end, kind in predicted):
                fn[g_kind] += 1
    return {
        kind: {
            "precision": tp[kind] / (tp[kind] + fp[kind]) if tp[kind] + fp[kind] else 1.0,
            "recall": tp[kind] / (tp[kind] + fn[kind]) if tp[kind] + fn[kind] else 1.0,
        }
        for kind in KINDS
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-kind", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=23, help="the detectors were tuned on seed 11; report another")
    args = parser.parse_args()
    examples = build_examples(args.per_kind, seed=args.seed)
    results = {"refinery": score(examples, refinery_spans), "presidio": score(examples, presidio_analyzer())}
    print(f"{len(examples)} examples: {args.per_kind} per kind, {2 * args.per_kind} hard negatives\n")
    print(f"{'kind':<12} {'ours P':>8} {'ours R':>8} {'presidio P':>11} {'presidio R':>11}")
    for kind in KINDS:
        ours, theirs = results["refinery"][kind], results["presidio"][kind]
        print(
            f"{kind:<12} {ours['precision']:>8.2%} {ours['recall']:>8.2%} "
            f"{theirs['precision']:>11.2%} {theirs['recall']:>11.2%}"
        )
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "pii_eval.json").write_text(
        json.dumps({"per_kind": args.per_kind, "seed": args.seed, **results}, indent=2) + "\n"
    )


if __name__ == "__main__":
    main()
