"""Pages decoded as a browser decodes them: configured encoding, BOM, HTTP and <meta> charsets, UTF-8, detection."""

import codecs

from refinery.io.charsets import decode_text
from refinery.io.decode import file_records

FRENCH = "<p>Le comité a visité l'église près du marché, où l'on vend des crêpes à 2 €.</p>"


def test_meta_charset_decodes_a_legacy_page():
    page = f'<html><head><meta charset="windows-1252"></head><body>{FRENCH}</body></html>'.encode("cp1252")
    decoded = decode_text(page)
    assert decoded.text and "église" in decoded.text and "€" in decoded.text
    assert (decoded.encoding, decoded.found_by) == ("cp1252", "meta")


def test_http_equiv_and_latin1_labels_decode_as_windows_1252():
    head = '<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-1">'
    page = f"<html><head>{head}</head><body>{FRENCH}</body></html>".encode("cp1252")  # € is 0x80: cp1252 only
    decoded = decode_text(page)
    assert decoded.found_by == "meta" and "2 €" in decoded.text


def test_header_charset_wins_over_meta_and_a_wrong_declaration_falls_through():
    page = '<meta charset="utf-8"><p>Grüße</p>'.encode("latin-1")  # declares UTF-8, is Latin-1
    decoded = decode_text(page, content_type="text/html; charset=iso-8859-1")
    assert decoded.found_by == "header" and "Grüße" in decoded.text
    wrong = decode_text(page)  # the meta charset fails; UTF-8 fails; detection decodes it
    assert wrong.found_by == "detected" and "Grüße" in wrong.text


def test_byte_order_marks():
    assert decode_text(codecs.BOM_UTF16_LE + "Grüße".encode("utf-16-le")).text == "Grüße"
    assert decode_text(codecs.BOM_UTF8 + "Grüße".encode()).found_by == "bom"


def test_undeclared_legacy_text_is_detected():
    text = ("Le comité a visité l'église près du marché. " * 20).encode("cp1252")
    decoded = decode_text(text)
    assert decoded.found_by == "detected" and decoded.text == text.decode("cp1252")


def test_a_configured_encoding_is_the_only_one_tried_and_its_failure_is_named():
    assert decode_text("Grüße".encode("latin-1"), encoding="latin-1").text == "Grüße"
    failed = decode_text("Grüße".encode("latin-1"), encoding="utf-8")
    assert failed.text is None and failed.failed == "not valid utf-8 at byte 2"


def test_text_files_keep_their_charset_in_meta_and_name_what_failed():
    page = f'<meta charset="windows-1252">{FRENCH}'.encode("cp1252")
    (record,) = file_records("page.html", page, "text")
    assert record.rule is None and '"charset": "cp1252 (meta)"' in record.value and "église" in record.value
    (utf8,) = file_records("page.html", FRENCH.encode(), "text")
    assert "meta" not in utf8.value  # plain UTF-8 says nothing
    (failed,) = file_records("page.html", page, "text", encoding="utf-8")
    assert (failed.rule, failed.detail) == ("invalid_encoding", "not valid utf-8 at byte 40")


def test_a_declared_utf16_without_a_byte_order_mark_reads_as_utf8():
    page = '<meta charset="utf-16"><p>Grüße</p>'.encode()
    assert decode_text(page).text == page.decode()  # not pairs of bytes read as UTF-16 characters
