"""Identity helpers: examples from real records, and Hypothesis properties."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from litwatch.dedupe import normalize_doi, normalize_pmcid, normalize_title, title_fingerprint

# --- normalize_doi ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("10.1097/PAF.0000000000000695", "10.1097/paf.0000000000000695"),
        ("  https://doi.org/10.1097/PAF.0000000000000695. ", "10.1097/paf.0000000000000695"),
        ("http://dx.doi.org/10.1097/paf.0000000000000695", "10.1097/paf.0000000000000695"),
        ("https://dx.doi.org/10.1166/jnn.2021.18642", "10.1166/jnn.2021.18642"),
        ("doi:10.1166/jnn.2021.18642;", "10.1166/jnn.2021.18642"),
        ("DOI: 10.1166/JNN.2021.18642,", "10.1166/jnn.2021.18642"),
        ("doi.org/10.1166/jnn.2021.18642", "10.1166/jnn.2021.18642"),
        ("doi:https://doi.org/10.1166/jnn.2021.18642", "10.1166/jnn.2021.18642"),
        # real DOIs with brackets: a balanced one is part of the DOI, an unbalanced one is not
        ("10.1016/S0960-9822(00)00336-5", "10.1016/s0960-9822(00)00336-5"),
        ("(10.1016/S0960-9822(00)00336-5)", None),  # a leading bracket is not a DOI
        ("10.1016/0002-9149(79)90226-4)", "10.1016/0002-9149(79)90226-4"),
        ("10.1002/(SICI)1097-0258(19980815/30)17", "10.1002/(sici)1097-0258(19980815/30)17"),
        ("10.12688/wellcomeopenres.14677.4", "10.12688/wellcomeopenres.14677.4"),
        ("10.1000.10/abc", "10.1000.10/abc"),
        (None, None),
        ("", None),
        ("   ", None),
        ("doi:", None),
        ("https://doi.org/", None),
        ("11.1000/abc", None),
        ("10.1000", None),
        ("10.1000/", None),
        ("10.abc/def", None),
        ("10.1000/has space", None),
        ("S0304-3835(14)00349-8", None),  # a pii, not a DOI
    ],
)
def test_normalize_doi(raw: str | None, expected: str | None) -> None:
    assert normalize_doi(raw) == expected


def test_doi_case_folds_ascii_only() -> None:
    # DOIs are case-insensitive for ASCII letters; other letters are kept as written.
    assert normalize_doi("10.1000/ÄBC") == "10.1000/Äbc"


_DOI_SUFFIX_CHARS = string.ascii_letters + string.digits + "-._;()/:<>"
dois = st.builds(
    lambda registrant, suffix: f"10.{registrant}/{suffix}",
    st.from_regex(r"[0-9]{4,5}(\.[0-9]{1,3})?", fullmatch=True),
    st.text(_DOI_SUFFIX_CHARS, min_size=1, max_size=30).filter(lambda s: s[0].isalnum()),
)
prefixes = st.sampled_from(
    ["", "doi:", "DOI: ", "https://doi.org/", "http://dx.doi.org/", "HTTPS://DOI.ORG/", " "]
)
suffix_junk = st.sampled_from(["", ".", ",", ";", " ", ".\n", ":"])


@given(st.text(max_size=40))
def test_normalize_doi_twice_equals_once_on_any_text(value: str) -> None:
    once = normalize_doi(value)
    assert normalize_doi(once) == once


@given(dois)
def test_normalize_doi_twice_equals_once_on_dois(doi: str) -> None:
    once = normalize_doi(doi)
    assert normalize_doi(once) == once


@given(dois, prefixes, suffix_junk, st.booleans())
def test_prefix_case_and_trailing_punctuation_do_not_matter(
    doi: str, prefix: str, junk: str, upper: bool
) -> None:
    decorated = prefix + (doi.upper() if upper else doi) + junk
    assert normalize_doi(decorated) == normalize_doi(doi)


@given(dois)
def test_a_normalised_doi_is_lower_case_and_starts_with_10(doi: str) -> None:
    result = normalize_doi(doi)
    if result is not None:
        assert result.startswith("10.") and result == result.lower()


# --- normalize_pmcid ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("PMC8174101", "PMC8174101"),
        ("pmc8174101", "PMC8174101"),
        ("8174101", "PMC8174101"),
        (" PMC6134338.4 ", "PMC6134338"),  # PubMed's versioned form
        ("PMCID: PMC6134338", "PMC6134338"),
        ("PMC0006134338", "PMC6134338"),
        ("PMC", None),
        ("PMC0", None),
        ("", None),
        (None, None),
        ("NBK441902", None),
        ("PMC12a", None),
    ],
)
def test_normalize_pmcid(raw: str | None, expected: str | None) -> None:
    assert normalize_pmcid(raw) == expected


@given(st.text(max_size=20))
def test_normalize_pmcid_twice_equals_once(value: str) -> None:
    once = normalize_pmcid(value)
    assert normalize_pmcid(once) == once


@given(st.integers(min_value=1, max_value=10**9), st.sampled_from(["PMC", "pmc", "Pmc", ""]))
def test_pmcid_prefix_and_case_do_not_matter(number: int, prefix: str) -> None:
    assert normalize_pmcid(f"{prefix}{number}") == f"PMC{number}"


# --- normalize_title and title_fingerprint ---------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            "Kratom-Associated Fatalities in Northern Nevada-What Mitragynine Level Is Fatal?",
            "kratom associated fatalities in northern nevada what mitragynine level is fatal",
        ),
        ("NF-<i><sub>κ</sub></i>B and P65.", "nf κb and p65"),
        ("NF-κB and P65.", "nf κb and p65"),
        ("Influence of LOS &gt; 2 days", "influence of los 2 days"),
        ("IC50 <10 nM and >5 nM in <i>vitro</i>", "ic50 10 nm and 5 nm in vitro"),
        (
            "Retraction:\xa0Identifying   developmental\ttrajectories",
            "retraction identifying developmental trajectories",
        ),
        ("Briefsammlung Wittelshöfer.", "briefsammlung wittelshofer"),
        ("STRASSE", "strasse"),
        ("Straße", "strasse"),
        ("", ""),
        (None, ""),
    ],
)
def test_normalize_title(raw: str | None, expected: str) -> None:
    assert normalize_title(raw) == expected


@given(st.text(max_size=60))
def test_normalize_title_twice_equals_once(value: str) -> None:
    once = normalize_title(value)
    assert normalize_title(once) == once


@given(st.text(string.ascii_letters + " ", max_size=40))
def test_title_case_markup_and_punctuation_do_not_matter(title: str) -> None:
    decorated = f"<i>{title.upper()}</i>.  ?!"
    assert normalize_title(decorated) == normalize_title(title)


def test_title_fingerprint() -> None:
    title = "Kratom-Associated Fatalities in Northern Nevada-What Mitragynine Level Is Fatal?"
    expected = (
        "2021:kratom associated fatalities in northern nevada what mitragynine level is fatal"
    )
    assert title_fingerprint(title, 2021) == expected
    assert title_fingerprint(title.upper().replace("-", " "), 2021) == expected
    assert title_fingerprint(title, 2020) != expected
    assert title_fingerprint(title, None) is None


@pytest.mark.parametrize(
    "title",
    [
        "",
        None,
        "   ",
        "Correction.",
        "Erratum",
        "Corrigendum.",
        "Retraction.",
        "Expression of Concern.",
        "Editorial Expression of Concern",
        "Retraction Notice",
        "[Not Available].",
        "Department of Error.",
        "Case for diagnosis.",
        "Authors' response.",
        "Letter to the Editor.",
        "Kratom.",  # too short to identify
        "Opioid use",
    ],
)
def test_titles_that_cannot_identify(title: str | None) -> None:
    assert title_fingerprint(title, 2021) is None


def test_notice_titles_that_name_their_paper_do_identify() -> None:
    # "Correction: <title>" names the corrected paper, so it is not a generic title.
    assert title_fingerprint("Correction: Kratom use in the United States", 2021) == (
        "2021:correction kratom use in the united states"
    )
