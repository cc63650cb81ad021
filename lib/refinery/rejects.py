"""Every rule that can send a row to `rejects`, declared once: its name, the stages that emit it, what it means.

Code emits a rule through its declaration (`MALFORMED_JSON.name`, `WRONG_TYPE.of("text")`), never a literal, so
a rule cannot be spelled two ways. A family (`gopher_quality:<reason>`, `wrong_type:<field>`) is emitted as
`<name>:<part>`; where its parts are a fixed set they are listed (`*` matches a number, as in `top_2_gram`).
The rule table of docs/stages.md is `markdown_table()`, `schemas/rejects.yaml` lists the names per stage, and
tests/test_rejects.py keeps both in step and checks that every rule is emitted by some test and that no stage
emits one that is not declared here.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass


@dataclass(frozen=True)
class RejectRule:
    """One rule: `name` as emitted, or a family's prefix when `part` says what follows the colon."""

    name: str
    stages: tuple[str, ...]
    meaning: str
    part: str | None = None  # a family: what its part names (`field`, `reason`, `kind`, `name`)
    parts: tuple[str, ...] = ()  # a family's parts when they are a fixed set (patterns); empty: any

    def of(self, part: str) -> str:
        """The name a family's member is emitted as."""
        if self.part is None:
            raise ValueError(f"rule {self.name} is not a family")
        return f"{self.name}:{part}"

    @property
    def shown(self) -> str:
        """How docs/stages.md names it: `malformed_json`, `wrong_type:<field>`."""
        return f"{self.name}:<{self.part}>" if self.part else self.name

    def covers(self, emitted: str) -> bool:
        """Whether an emitted rule name is this rule (or a member of this family)."""
        if self.part is None:
            return emitted == self.name
        prefix, _, part = emitted.partition(":")
        return prefix == self.name and bool(part) and (not self.parts or _known_part(part, self.parts))


def _known_part(part: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(part, pattern.replace("*", "[0-9]*")) for pattern in patterns)


INGEST, CURATE, DEDUP, PUBLISH, FORGET = "ingest", "curate", "dedup", "publish", "forget"

UNREADABLE_FILE = RejectRule(
    "unreadable_file",
    (INGEST,),
    "a file cannot be opened, decompressed or read to its end, or inflates too far: one row for the rest",
)
INVALID_UTF8 = RejectRule("invalid_utf8", (INGEST,), "a record's bytes are not UTF-8 (the detail gives the byte)")
EMPTY_LINE = RejectRule("empty_line", (INGEST,), "a blank line or CSV row")
EMPTY_RECORD = RejectRule(
    "empty_record", (INGEST,), "a WARC/ARC document record (response, resource, conversion) with no text"
)
TRUNCATED_RECORD = RejectRule(
    "truncated_record",
    (INGEST,),
    "a WARC/ARC record shorter than its length: the next record or the file's end comes first",
)
MALFORMED_RECORD = RejectRule(
    "malformed_record", (INGEST,), "WARC/ARC bytes that are no record: no header, or a length that does not end it"
)
CORRUPT_RECORD = RejectRule(
    "corrupt_record", (INGEST,), "a WARC/ARC record in a gzip member that does not inflate (or past the inflation cap)"
)
DIGEST_MISMATCH = RejectRule(
    "digest_mismatch", (INGEST,), "a WARC record whose block or payload digest does not match (with `check_digests`)"
)
INVALID_ENCODING = RejectRule(
    "invalid_encoding", (INGEST,), "text no encoding decodes: the configured one, or every charset tried (named)"
)
EMPTY_MESSAGE = RejectRule("empty_message", (INGEST,), "a Kafka message without a value")
RAGGED_ROW = RejectRule("ragged_row", (INGEST,), "a CSV row whose field count differs from the header's")
MALFORMED_CSV = RejectRule("malformed_csv", (INGEST,), "the CSV cannot be parsed from this row on")
RECORD_TOO_LARGE = RejectRule("record_too_large", (INGEST,), "a record longer than `ingest.max_record_chars`")
MALFORMED_JSON = RejectRule("malformed_json", (INGEST,), "not valid JSON (or duplicate keys), or text after the value")
TOO_DEEP = RejectRule("too_deep", (INGEST,), "a JSON record nested more than 500 levels deep")
NOT_AN_OBJECT = RejectRule("not_an_object", (INGEST,), "the JSON value is not an object (of scalars, for record data)")
TOO_MANY_FIELDS = RejectRule("too_many_fields", (INGEST,), "more top-level fields than `ingest.max_fields`")
MISSING_FIELD = RejectRule("missing_field", (INGEST,), "a field the record needs is missing or null", part="field")
WRONG_TYPE = RejectRule("wrong_type", (INGEST,), "a field holds a value of another type", part="field")
DUPLICATE_ID = RejectRule(
    "duplicate_id", (INGEST,), "a later record with an id bronze has: the detail names the record that stayed"
)
UNKNOWN_OPERATION = RejectRule("unknown_operation", (INGEST,), "record data: an operation not insert, update, delete")
UNKNOWN_FIELD = RejectRule("unknown_field", (INGEST,), "record data: a field the schema does not declare")
FORGOTTEN = RejectRule(
    "forgotten", (INGEST, CURATE, PUBLISH, FORGET), "matches a deletion request; neither id nor record is kept"
)
HTML_NO_TEXT = RejectRule("html:no_text", (CURATE,), "an HTML page with no main text")
LANGUAGE_NOT_KEPT = RejectRule("language:not_kept", (CURATE,), "a language outside `curate.language.keep`")
LANGUAGE_LOW_SCORE = RejectRule("language:low_score", (CURATE,), "language ID below `curate.language.min_score`")
QUALITY_EMPTY = RejectRule("quality:empty", (CURATE,), "no text left to judge")
GOPHER_REPETITION = RejectRule(
    "gopher_repetition",
    (CURATE,),
    "repeated lines, paragraphs or n-grams (Gopher; DataTrove's reason names)",
    part="reason",
    parts=(
        "dup_para_frac",
        "dup_para_char_frac",
        "dup_line_frac",
        "dup_line_char_frac",
        "top_*_gram",
        "duplicated_*_n_grams",
    ),
)
GOPHER_QUALITY = RejectRule(
    "gopher_quality",
    (CURATE,),
    "word counts and lengths, symbols, bullets, ellipses, alphabetic words, stop words (Gopher)",
    part="reason",
    parts=(
        "gopher_short_doc",
        "gopher_long_doc",
        "gopher_below_avg_threshold",
        "gopher_above_avg_threshold",
        "gopher_too_many_hashes",
        "gopher_too_many_ellipsis",
        "gopher_too_many_bullets",
        "gopher_too_many_end_ellipsis",
        "gopher_below_alpha_threshold",
        "gopher_enough_stop_words",
    ),
)
C4 = RejectRule(
    "c4",
    (CURATE,),
    "lorem ipsum, a curly bracket, or too few sentences left after C4's line removal",
    part="reason",
    parts=("lorem_ipsum", "curly_bracket", "too_few_sentences"),
)
FINEWEB = RejectRule(
    "fineweb",
    (CURATE,),
    "line punctuation, short lines, duplicated characters, list-like text (FineWeb)",
    part="reason",
    parts=("empty", "line_punct_ratio", "short_line_ratio", "char_dup_ratio", "list_ratio"),
)
PII = RejectRule(
    "pii",
    (CURATE,),
    "PII of a kind whose action is `drop`",
    part="kind",
    parts=("email", "phone", "ip", "credit_card", "iban", "ssn", "secret"),
)
MISSING_KEY = RejectRule("missing_key", (CURATE,), "record data: a change without its key")
EXPECT = RejectRule("expect", (CURATE,), "record data: a `drop` expectation the row breaks", part="name")
SUPERSEDED = RejectRule("superseded", (CURATE,), "record data: a newer change of the key (or the same one) wins")
EXACT = RejectRule("exact", (DEDUP,), "the same normalized text as the kept document the detail names")
MINHASH = RejectRule(
    "minhash", (DEDUP,), "a near duplicate of the kept document the detail names, and its cluster size"
)
DECONTAMINATION = RejectRule("decontamination", (PUBLISH,), "shares an n-gram with the evaluation set the detail names")
MIXTURE_DOWNSAMPLED = RejectRule("mixture_downsampled", (PUBLISH,), "sampled away by a mixture weight below 1")
MISSING_LABEL = RejectRule("missing_label", (PUBLISH,), "record data: a row without its label")
K_ANONYMITY = RejectRule("k_anonymity", (PUBLISH,), "record data: in a quasi-identifier class smaller than k")

RULES: tuple[RejectRule, ...] = tuple(value for value in globals().values() if isinstance(value, RejectRule))


def declaration(emitted: str) -> RejectRule | None:
    """The rule an emitted name belongs to (None: not declared)."""
    return next((rule for rule in RULES if rule.covers(emitted)), None)


def markdown_table() -> str:
    """docs/stages.md's table of rules: one row per rule, in declaration order."""
    rows = ["| rule | stages | meaning |", "| --- | --- | --- |"]
    rows += [f"| `{rule.shown}` | {', '.join(rule.stages)} | {rule.meaning} |" for rule in RULES]
    return "\n".join(rows)
