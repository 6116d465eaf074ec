"""Pure tests for the report renderer and source extraction."""

from agents.markdown import markdown_sources, markdown_to_html

REPORT = """## Findings

1. ACE inhibitors with NSAIDs raise the risk of kidney injury [KDIGO 2024](https://kdigo.org/guidelines/ckd).
2. See also [the AHA statement](https://www.ahajournals.org/doi/10.1161/X "AHA").
3. Bare link: https://pubmed.ncbi.nlm.nih.gov/12345/.

<script>alert(1)</script>
<img src=x onerror=alert(1)>
[click](javascript:alert(1))

[ref]: https://example.org/ref
"""


def test_sources_are_the_http_links_in_order_without_duplicates():
    sources = markdown_sources(REPORT + "\nAgain [KDIGO](https://kdigo.org/guidelines/ckd)")
    assert sources == [
        {"title": "KDIGO 2024", "url": "https://kdigo.org/guidelines/ckd"},
        {"title": "the AHA statement", "url": "https://www.ahajournals.org/doi/10.1161/X"},
        {"title": "ref", "url": "https://example.org/ref"},
        {"title": "pubmed.ncbi.nlm.nih.gov", "url": "https://pubmed.ncbi.nlm.nih.gov/12345/"},
    ]


def test_rendering_is_sanitised_and_links_are_safe():
    html = markdown_to_html(REPORT)
    assert "<h2>Findings</h2>" in html
    assert "<script" not in html and "onerror" not in html and "<img" not in html
    assert "javascript:" not in html
    assert 'href="https://kdigo.org/guidelines/ckd"' in html
    assert 'rel="noopener noreferrer"' in html
    assert html.count("<a ") == html.count('rel="noopener noreferrer"')


def test_empty_report_renders_empty():
    assert markdown_to_html("") == ""
    assert markdown_sources("") == []


def test_a_list_right_under_a_sentence_still_renders_as_a_list():
    html = markdown_to_html("Here is the brief:\n- one\n- two\n\n1. first\n2. second")
    assert "<ul>" in html and "<li>one</li>" in html and "<ol>" in html
    # Continuation lines inside an item are left alone.
    assert "<li>one</li>" in markdown_to_html("- one\n- two")
