"""The table output of the pages: HTML in the web book, the pipe table as plain text in the PDF."""

import pytest
from IPython.core.formatters import DisplayFormatter

from allornone.plotting import html_table


def test_table_has_html_and_readable_text_forms():
    bundle, _ = DisplayFormatter().format(html_table("| kind | **verdict** |\n|---|---|\n| probe | all |\n"))
    assert bundle["text/html"] == ("<table><thead><tr><th>kind</th><th>verdict</th></tr></thead>"
                                   "<tbody><tr><td>probe</td><td>all</td></tr></tbody></table>")
    assert bundle["text/plain"] == "| kind | verdict |\n|---|---|\n| probe | all |"   # what the PDF shows
    assert "IPython" not in bundle["text/plain"]


def test_table_needs_header_and_separator():
    with pytest.raises(ValueError, match="header line and a separator"):
        html_table("| only a header |")
