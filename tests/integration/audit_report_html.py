"""Reads the HTML page `veil audit report` writes, for the tests that check it structurally."""

import html.parser


class AuditReportTables(html.parser.HTMLParser):
    """Each table's caption and its row headers (cookie names), whether the page carries inline
    CSS, and every src/href it refers to."""

    def __init__(self):
        super().__init__()
        self.tables = []  # [caption, [row header texts]]
        self.in_caption = self.in_row_header = False
        self.has_inline_css = False
        self.external = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self.tables.append(["", []])
        elif tag == "caption":
            self.in_caption = True
        elif tag == "th" and attrs.get("scope") == "row":
            self.in_row_header = True
            self.tables[-1][1].append("")
        elif tag == "style":
            self.has_inline_css = True
        for name in ("src", "href"):
            if name in attrs:
                self.external.append(attrs[name])

    def handle_endtag(self, tag):
        if tag == "caption":
            self.in_caption = False
        elif tag == "th":
            self.in_row_header = False

    def handle_data(self, data):
        if self.in_caption:
            self.tables[-1][0] += data
        elif self.in_row_header:
            self.tables[-1][1][-1] += data
