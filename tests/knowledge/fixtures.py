"""Small documents built in the test, in every format: no binary fixtures in the repository."""

from __future__ import annotations

import io


def pdf(pages: list[str | None]) -> bytes:
    """A valid PDF with one page per item: its lines drawn in Helvetica, or no content (None),
    like a scanned page. Objects and the xref table are laid out by hand."""
    objects: dict[int, bytes] = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % (4 + 2 * i) for i in range(len(pages)))
           + b"] /Count %d >>" % len(pages),
        3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    }
    for i, text in enumerate(pages):
        page, content = 4 + 2 * i, 5 + 2 * i
        stream = b""
        if text is not None:
            lines = (line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") for line in text.split("\n"))
            stream = b"BT /F1 12 Tf 72 720 Td 14 TL " + b" ".join(b"(%s) Tj T*" % line.encode("latin-1") for line in lines) + b" ET"
        objects[page] = (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >>"
                         b" /Contents %d 0 R >>" % content)
        objects[content] = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream)
    out = b"%PDF-1.4\n"
    offsets = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (number, objects[number])
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offsets[n] for n in sorted(objects))
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return out


def encrypted_pdf(user_password: str) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf(["Secret plans"]))))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def docx() -> bytes:
    import docx as python_docx

    document = python_docx.Document()
    document.core_properties.title = "Field guide"
    document.add_paragraph("Before any heading.")
    document.add_heading("Birds", level=1)
    document.add_paragraph("Birds have feathers.")
    document.add_heading("Owls", level=2)
    document.add_paragraph("Owls hunt at night.")
    table = document.add_table(rows=2, cols=3)
    for r, row in enumerate((("name", "size", "call"), ("barn owl", "34 cm", "screech"))):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.add_heading("Fish", level=1)
    document.add_paragraph("Fish have gills.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


SPHINX_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>5. Data Structures &#8212; Python 3.12 documentation</title>
<script>var SIDEBAR_SCRIPT = 1;</script><style>.body { color: red }</style></head>
<body>
<div class="related" role="navigation"><h3>Navigation</h3><ul><li><a href="x">RELATED-BAR</a></li></ul></div>
<div class="document"><div class="documentwrapper"><div class="bodywrapper">
<div class="body" role="main">
  <section id="data-structures">
  <h1>5. Data Structures<a class="headerlink" href="#data-structures" title="Permalink">¶</a></h1>
  <p>This chapter describes some things you've learned about already in more detail.</p>
  <section id="more-on-lists">
  <h2>5.1. More on Lists<a class="headerlink" href="#more-on-lists">¶</a></h2>
  <p>The list data type has some more methods.</p>
  <dl><dt>list.append(x)</dt><dd><p>Add an item to the end of the list.</p></dd></dl>
  <div class="highlight"><pre><span>&gt;&gt;&gt; </span>fruits = ['orange',
<span>... </span>          'apple']

<span>&gt;&gt;&gt; </span>fruits.count('apple')
1</pre></div>
  <section id="using-lists-as-stacks">
  <h3>5.1.1. Using Lists as Stacks<a class="headerlink" href="#using-lists-as-stacks">¶</a></h3>
  <p>The list methods make it very easy to use a list as a stack.</p>
  </section></section></section>
</div></div></div>
<div class="sphinxsidebar" role="navigation"><div class="sphinxsidebarwrapper">
  <h3>Table of Contents</h3><ul><li>SIDEBAR-TOC</li></ul>
  <div role="search"><form><input type="text" name="q"/><input type="submit" value="SEARCH-GO"/></form></div>
</div></div></div>
<div class="footer">&copy; FOOTER-COPYRIGHT</div>
</body></html>
"""
