"""The guarded path, check() then the parse in a capped worker, against what only parsing reveals: page
counts, a disguised encryption dictionary, streams and zips that inflate to gigabytes, endless parses."""

from __future__ import annotations

import pytest

from connectors.documents.guard import DocumentLimits, check, inspect_pdf
from connectors.documents.parser_pool import ParserPool, guarded
from connectors.errors import (
    AttachmentBomb,
    AttachmentDamaged,
    AttachmentEncrypted,
    AttachmentTimeout,
    AttachmentTooManyPages,
    UnreadableAttachment,
)
from tests.documents import hostile, tasks


def parse_refused(data: bytes, fn, expected: type[UnreadableAttachment], *, limits: DocumentLimits,
                  pool: ParserPool, filename: str = "form", **options) -> UnreadableAttachment:  # fmt: skip
    with pytest.raises(UnreadableAttachment) as caught:
        guarded(data, filename, fn, limits=limits, pool=pool, **options)
    assert type(caught.value) is expected
    assert caught.value.code == expected.code
    return caught.value


# --- the good cases ------------------------------------------------------------------------------------------
def test_a_pdf_form_is_parsed_in_a_worker(limits: DocumentLimits, pool: ParserPool) -> None:
    assert guarded(hostile.good_pdf(), "blue-badge.pdf", tasks.page_count, limits=limits, pool=pool) == 2


def test_a_word_form_is_parsed_in_a_worker(limits: DocumentLimits, pool: ParserPool) -> None:
    text = guarded(hostile.good_docx(seed=3), "blue-badge.docx", tasks.docx_text, limits=limits, pool=pool)
    assert "Application for a Blue Badge" in text and "postcode" in text


def test_the_parser_gets_the_data_its_kind_and_the_extra_arguments(limits: DocumentLimits, pool: ParserPool) -> None:
    data = hostile.good_pdf()
    assert guarded(data, "form.docx", tasks.echo, "blue_badge", limits=limits, pool=pool) == (data, "pdf", "blue_badge")


# --- pages ---------------------------------------------------------------------------------------------------
def test_a_pdf_of_thousands_of_pages_is_refused(limits: DocumentLimits, pool: ParserPool) -> None:
    error = parse_refused(hostile.pages_pdf(5000), tasks.page_count, AttachmentTooManyPages, limits=limits, pool=pool)
    assert "5000 pages" in error.reasons[0] and "50 pages" in error.reasons[0]


def test_a_page_count_kept_in_an_object_of_its_own_is_found_by_walking_the_tree(
    limits: DocumentLimits, pool: ParserPool
) -> None:
    data = hostile.pages_pdf(60, indirect_count=True)
    error = parse_refused(data, tasks.page_count, AttachmentTooManyPages, limits=limits, pool=pool)
    assert "60 pages" in error.reasons[0]
    assert guarded(hostile.pages_pdf(3, indirect_count=True), "form.pdf", tasks.page_count, limits=limits,
                   pool=pool) == 3  # fmt: skip


def test_the_page_limit_is_inclusive(limits: DocumentLimits, pool: ParserPool) -> None:
    assert guarded(hostile.pages_pdf(50), "form.pdf", tasks.page_count, limits=limits, pool=pool) == 50


def test_a_form_may_lower_the_page_limit_but_never_raise_it(limits: DocumentLimits, pool: ParserPool) -> None:
    parse_refused(hostile.good_pdf(), tasks.page_count, AttachmentTooManyPages, limits=limits, pool=pool, max_pages=1)
    parse_refused(hostile.pages_pdf(51), tasks.page_count, AttachmentTooManyPages, limits=limits, pool=pool,
                  max_pages=500)  # fmt: skip


# --- catalogues and page trees that are not what the specification says --------------------------------------
@pytest.mark.parametrize("kind", sorted(hostile.ODD_TRAILERS))
def test_a_broken_catalogue_or_page_tree_is_damaged_never_an_unexpected_error(kind: str) -> None:
    with pytest.raises(UnreadableAttachment) as caught:
        inspect_pdf(hostile.odd_trailer_pdf(kind), 50)
    assert type(caught.value) is AttachmentDamaged


@pytest.mark.parametrize("kind", sorted(hostile.ODD_COUNTS))
def test_a_count_that_is_no_count_is_replaced_by_counting_the_pages(kind: str) -> None:
    assert inspect_pdf(hostile.odd_count_pdf(kind, pages=3), 50) == 3
    with pytest.raises(AttachmentTooManyPages) as caught:
        inspect_pdf(hostile.odd_count_pdf(kind, pages=60), 50)
    assert "60 pages" in caught.value.reasons[0]


def test_odd_trailers_through_the_guarded_path(limits: DocumentLimits, pool: ParserPool) -> None:
    parse_refused(hostile.odd_trailer_pdf("page tree is a name"), tasks.page_count, AttachmentDamaged,
                  limits=limits, pool=pool)  # fmt: skip
    assert guarded(hostile.odd_count_pdf("a real", pages=2), "form.pdf", tasks.page_count, limits=limits,
                   pool=pool) == 2  # fmt: skip


# --- what the byte checks cannot see -------------------------------------------------------------------------
def test_an_encryption_dictionary_under_an_escaped_name_is_refused_in_the_worker(
    limits: DocumentLimits, pool: ParserPool
) -> None:
    data = hostile.encrypted_pdf_escaped_name()
    assert check(data, "form.pdf", limits) == "pdf"  # the byte search misses /Encr#79pt...
    parse_refused(data, tasks.page_count, AttachmentEncrypted, limits=limits, pool=pool)  # ...pypdf does not


def test_a_nested_flate_bomb_stops_at_the_pdf_readers_limit(limits: DocumentLimits, pool: ParserPool) -> None:
    data = hostile.flate_bomb_pdf()  # a few kB that inflate, in three layers, to 4 GiB
    assert check(data, "form.pdf", limits) == "pdf"
    parse_refused(data, tasks.pdf_contents, AttachmentBomb, limits=limits, pool=pool)


def test_a_nested_flate_bomb_hits_the_memory_cap_in_a_naive_reader(limits: DocumentLimits, pool: ParserPool) -> None:
    parse_refused(hostile.flate_bomb_pdf(), tasks.inflate_everything, AttachmentBomb, limits=limits, pool=pool)


def test_a_zip_that_lies_about_its_sizes_hits_the_memory_cap(limits: DocumentLimits, pool: ParserPool) -> None:
    # Python's zipfile inflates a whole read before trimming it to the declared size, so python-docx is
    # fooled too: only the worker's cap stops it.
    data = hostile.lying_docx()
    assert check(data, "form.docx", limits) == "docx"
    parse_refused(data, tasks.docx_text, AttachmentBomb, limits=limits, pool=pool)
    parse_refused(data, tasks.inflate_everything, AttachmentBomb, limits=limits, pool=pool)


def test_the_guard_itself_stays_within_the_cap_on_a_lying_index_part(limits: DocumentLimits, pool: ParserPool) -> None:
    # check() runs in Clerk's process; run it here under the worker's cap to prove it reads a bounded amount.
    with pytest.raises(AttachmentDamaged):
        pool.call(check, hostile.lying_index_part(), "form.docx", limits)


def test_an_endless_parse_is_stopped_at_the_time_limit(pool: ParserPool) -> None:
    quick = DocumentLimits(parser_time_s=0.5)
    with pytest.raises(AttachmentTimeout) as caught:
        guarded(hostile.good_docx(), "form.docx", tasks.loop_forever, limits=quick, pool=pool)
    assert caught.value.reasons[0].startswith("form.docx: ")


def test_a_reader_error_is_damaged_and_names_the_attachment(limits: DocumentLimits, pool: ParserPool) -> None:
    error = parse_refused(hostile.good_pdf(), tasks.raise_with_personal_data, AttachmentDamaged, limits=limits,
                          pool=pool, filename="jane's form.pdf")  # fmt: skip
    assert error.reasons[0].startswith("jane's form.pdf: Clerk could not read the attachment")
    assert "Holroyd" not in str(error.__cause__)


def test_a_file_refused_by_the_checks_never_reaches_a_worker(limits: DocumentLimits, pool: ParserPool) -> None:
    # loop_forever would end in a timeout if it ran: the refusal must come from check()
    quick = limits.model_copy(update={"parser_time_s": 0.5})
    with pytest.raises(UnreadableAttachment) as caught:
        guarded(hostile.docm_renamed(), "form.docx", tasks.loop_forever, limits=quick, pool=pool)
    assert caught.value.code == "ATTACHMENT_ACTIVE_CONTENT"
