import re

import pytest
from chispa import assert_df_equality

from refinery.transforms.pii import KINDS, lineage_safe, redact_pii, redact_text, scan
from tests.helpers import comparable

ALL = dict.fromkeys(KINDS, "redact")

# (text, redacted, kinds found)
POSITIVE = [
    ("Mail anna.schmidt@mail0.example.com today", "Mail <EMAIL> today", {"email": 1}),
    ("Call +1 415 555 0132 or (415) 555-0199.", "Call <PHONE> or <PHONE>.", {"phone": 2}),
    ("Ruf an: +49 30 1234567, +33 1 42 68 53 00", "Ruf an: <PHONE>, <PHONE>", {"phone": 2}),
    ("US style 212-555-0147 and +44 20 7946 0958", "US style <PHONE> and <PHONE>", {"phone": 2}),
    ("Office 321.623.7899x14330, home 0766368857.", "Office <PHONE>, home <PHONE>.", {"phone": 2}),
    ("Maestro 501850883080 accepted", "Maestro <CREDIT_CARD> accepted", {"credit_card": 1}),
    ("Host 192.168.10.42 and 2001:db8::8a2e:370:7334 seen", "Host <IP> and <IP> seen", {"ip": 2}),
    ("Card 4111 1111 1111 1111 on file", "Card <CREDIT_CARD> on file", {"credit_card": 1}),
    ("Pay to DE89 3704 0044 0532 0130 00 now", "Pay to <IBAN> now", {"iban": 1}),
    ("IBAN GB82WEST12345698765432.", "IBAN <IBAN>.", {"iban": 1}),
    ("SSN 078-05-1120 on the form", "SSN <SSN> on the form", {"ssn": 1}),
    ("key AKIAIOSFODNN7EXAMPLE leaked", "key <SECRET> leaked", {"secret": 1}),
    ("export API_KEY=abcd1234efgh5678 now", "export API_KEY=<SECRET> now", {"secret": 1}),
    (
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
        "<SECRET>",
        {"secret": 1},
    ),
]
NEGATIVE = [
    "Released on 2026-11-25 as version 4.2.0.",
    "Order 123456789 shipped in 3 boxes of 12.",
    "Scores were 10-12-14 over three rounds; call me maybe.",
    "The price is 1,299.00 EUR (incl. 19% VAT).",
    "Write to us at the front desk @ noon.",
    "Card 4111 1111 1111 1112 fails the Luhn check.",
    "ISBN 978-3-16-148410-0, meeting on 15.03.2024 at 12:30:45.",
    "Account GB82WEST12345698765433 has a bad checksum.",
    "Build 1.2.3.4567 of the tool, tracking number 1Z999AA10123456784.",
    "The old edition has ISBN 0-07-938480-3 on its cover.",
]


@pytest.mark.parametrize(("text", "redacted", "found"), POSITIVE)
def test_each_kind_is_found_validated_and_redacted(text, redacted, found):
    result = scan(text, ALL)
    assert result.text == redacted
    assert {kind: n for kind, n in result.counts.items() if n} == found


@pytest.mark.parametrize("text", NEGATIVE)
def test_look_alikes_are_left_alone(text):
    assert scan(text, ALL).text == text


def test_redacts_and_counts_in_spark(spark):
    df = spark.createDataFrame([("1", POSITIVE[0][0]), ("2", NEGATIVE[0])], "doc_id string, text string")
    actual = redact_pii(df, actions={"email": "redact", "phone": "redact"}).select("doc_id", "text", "pii")
    expected = spark.createDataFrame(
        [("1", "Mail <EMAIL> today", {"email": 1, "phone": 0}), ("2", NEGATIVE[0], {"email": 0, "phone": 0})],
        "doc_id string, text string, pii map<string,int>",
    )
    assert_df_equality(comparable(actual), comparable(expected), ignore_row_order=True, ignore_nullable=True)


def test_actions_keep_and_drop(spark):
    df = spark.createDataFrame(
        [("1", "a@b.example.org and 212-555-0147"), ("2", "clean")], "doc_id string, text string"
    )
    actual = redact_pii(df, actions={"email": "keep", "phone": "drop"}).select(
        "doc_id", "text", "_reject_rule", "_reject_detail"
    )
    expected = spark.createDataFrame(
        [("1", "a@b.example.org and 212-555-0147", "pii:phone", "1 phone match(es)"), ("2", "clean", None, None)],
        "doc_id string, text string, _reject_rule string, _reject_detail string",
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_url_source_and_meta_values_are_scanned_with_the_text(spark):
    df = spark.createDataFrame(
        [("1", "clean", "https://x.example/?to=a@b.example.org", "src", {"tel": "+44 20 7946 0958", "k": "v"})],
        "doc_id string, text string, url string, source string, meta map<string,string>",
    )
    actual = redact_pii(df, actions={"email": "redact", "phone": "drop"}, also=("url", "source", "meta")).first()
    assert (actual.text, actual.url, actual.source) == ("clean", "https://x.example/?to=<EMAIL>", "src")
    assert actual.meta == {"tel": "+44 20 7946 0958", "k": "v"}  # a dropped doc is not rewritten for that kind
    assert actual.pii == {"email": 1, "phone": 1}
    assert (actual._reject_rule, actual._reject_detail) == ("pii:phone", "1 phone match(es)")


def test_lineage_names_keep_their_shape_and_lose_their_pii():
    token = lineage_safe("ada@example.org")
    assert re.fullmatch(r"<EMAIL_[0-9a-f]{16}>", token)
    assert lineage_safe("dumps/ada@example.org/part-1.jsonl") == f"dumps/{token}/part-1.jsonl"
    assert lineage_safe(token) == token  # applied twice: nothing more changes
    assert lineage_safe("bob@example.org") != token  # names stay unique
    for name in ("part-00001.jsonl.gz", "doc-42", "2024-05-01/crawl.warc.gz", "a3f9c2e17b4d5e6f"):
        assert lineage_safe(name) == name


def test_unknown_kind_is_an_error(spark):
    df = spark.createDataFrame([("1", "x")], "doc_id string, text string")
    with pytest.raises(ValueError, match="unknown PII kind"):
        redact_pii(df, actions={"passport": "redact"})


def test_redact_text_redacts_every_kind():
    assert redact_text("write to j.doe@mail.example.com from 10.0.0.1") == "write to <EMAIL> from <IP>"
