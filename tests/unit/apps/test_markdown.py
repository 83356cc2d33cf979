from portal.apps.markdown import render_markdown


def test_markdown_renders_headings_code_and_tables():
    html = str(render_markdown("# Title\n\n```\nh q[0];\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |"))
    assert "<h2>Title</h2>" in html and "<h1" not in html  # the page owns the only <h1>
    assert "<pre><code>h q[0];" in html
    assert "<table>" in html and "<td>1</td>" in html


def test_script_and_event_handlers_are_removed():
    evil = (
        "Hello <script>alert('x')</script>\n\n"
        '<img src="x" onerror="alert(1)">\n\n'
        "[click](javascript:alert(1))\n\n"
        '<a href="https://example.com" onclick="steal()">ok</a>\n\n'
        '<iframe src="https://evil.example"></iframe><style>body{display:none}</style>'
    )
    html = str(render_markdown(evil))
    lowered = html.lower()
    assert "<script" not in lowered and "alert('x')" not in lowered
    assert "onerror" not in lowered and "onclick" not in lowered
    assert "javascript:" not in lowered
    assert "<iframe" not in lowered and "<style" not in lowered
    assert 'href="https://example.com"' in html
    assert 'rel="noopener noreferrer nofollow"' in html


def test_empty_readme_renders_nothing():
    assert str(render_markdown(None)) == ""
    assert str(render_markdown("")) == ""


def test_headings_are_demoted_one_level_and_capped():
    html = str(render_markdown("## Two\n\n###### Six\n\n<H1>raw</H1>"))
    assert "<h3>Two</h3>" in html and "<h6>Six</h6>" in html and "<h2>raw</h2>" in html
