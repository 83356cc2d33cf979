"""What a new user hit on a fresh install (issue 22), in Chromium, at desktop and phone width:
the demo apps download, Registry search takes phrases and exclusions, the devices are public
and drawn with their geometry and calibration, the IDE, bills and navigation fit a phone, the
Marketplace has listings (and an empty state that says what is empty), and the small things:
one "Most downloaded", plurals, qubit filters as you type, anonymous reads of public apps,
the IDE's file sizes follow its saves."""

import io
import json
import re
import urllib.request
import zipfile

import pytest
from playwright.sync_api import Page, expect

from portal.core.extensions import db
from portal.demo import load_demo_data
from portal.execution.catalogue import DEVICES
from portal.execution.svg import EDGE_SCALE, SCALE
from tests.e2e.conftest import sign_in
from tests.factories.accounts import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def _demo():
    load_demo_data()
    db.session.commit()


def _no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.evaluate("window.innerWidth")
    assert width <= viewport, f"the page is {width}px wide in a {viewport}px viewport"


def _box(page: Page, selector: str) -> dict:
    box = page.locator(selector).first.bounding_box()
    assert box, selector
    return box


def _overlap(a: dict, b: dict) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


def _us(value: float) -> str:
    return f"{value:,.1f} µs"


def _pct(value: float) -> str:
    return f"{value * 100:.2f} %"


def _rgb(colour: str) -> str:
    """#rrggbb as the browser's computed style writes it."""
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def _painted(page: Page, selector: str, prop: str) -> list[str]:
    """Each element's colour as painted (computed style), checked against its attribute."""
    pairs = page.locator(selector).evaluate_all(
        f"es => es.map(e => [getComputedStyle(e).{prop}, e.getAttribute('{prop}')])"
    )
    for painted, attribute in pairs:
        assert attribute and painted == _rgb(attribute), (painted, attribute)
    return [painted for painted, _ in pairs]


def _generic_target():
    """The Target the worker simulates generic-5-noisy with (catalogue: 5 qubits, seed 42)."""
    from qiskit.providers.fake_provider import GenericBackendV2

    generic = next(d for d in DEVICES if d["name"] == "generic-5-noisy")["generic"]
    return GenericBackendV2(generic["num_qubits"], seed=generic["seed"]).target


# 1. The seeded Registry apps download a real package.
def test_demo_registry_apps_download(live_server, page, console_errors, a11y):
    _demo()
    base = live_server.url
    page.goto(base + "/registry/")
    for name, qubits in (("Bell Pair", 2), ("GHZ State", 5), ("Parameterised Rotation", 2)):
        page.goto(base + "/registry/")
        page.get_by_role("link", name=name).first.click()
        expect(page.get_by_role("heading", level=1)).to_have_text(name)
        a11y.check(page, f"registry app {name}")
        with page.expect_download() as info:
            page.get_by_role("button", name="Download v1.0.0").click()
        with open(info.value.path(), "rb") as handle:
            archive = zipfile.ZipFile(io.BytesIO(handle.read()))
        manifest = json.loads(archive.read("manifest.json"))
        assert manifest["name"] == name and manifest["version"] == "1.0.0"
        assert manifest["number_of_qubits"] == qubits
        assert archive.read("programs/main.qasm").decode().startswith("OPENQASM 3.0;")
        page.reload()
        expect(page.get_by_test_id("download-count")).to_have_text("1")
        expect(page.locator("#app-stats")).to_contain_text("1 download ·")
    assert a11y.violations == []
    # Chromium reports a navigation that became a download as an aborted request.
    assert [e for e in console_errors if not e.endswith("/download")] == []


# 2. Registry search: quoted phrases and -exclusions, as the help text promises.
def test_registry_search_phrases_and_exclusions(live_server, page, console_errors, a11y):
    _demo()
    base = live_server.url
    page.goto(base + "/registry/")
    expect(page.locator("#search-help")).to_contain_text('"quoted phrases" and -exclusions')
    search = page.get_by_label("Search apps")
    results = page.locator("#registry-results")
    cards = results.get_by_test_id("app-card")

    search.fill('"bell pair"')
    expect(cards).to_have_count(1)
    expect(cards).to_contain_text("Bell Pair")
    expect(page).to_have_url(re.compile(r"q=%22bell"))  # pushed: the search can be shared
    a11y.check(page, "registry (a phrase)")

    search.fill('"any Aer simulator"')  # a phrase from every demo app's README
    expect(cards).to_have_count(3)
    search.fill('"any Aer simulator" -bell')
    expect(cards).to_have_count(2)
    expect(results.get_by_role("link", name="Bell Pair")).to_have_count(0)
    expect(results.get_by_role("link", name="GHZ State")).to_have_count(1)
    search.fill('"any Aer simulator" -bell -ghz')
    expect(cards).to_have_count(1)
    expect(cards).to_contain_text("Parameterised Rotation")

    # Reloading the shared address shows the same result.
    page.reload()
    expect(search).to_have_value('"any Aer simulator" -bell -ghz')
    expect(cards).to_have_count(1)
    assert a11y.violations == []
    assert console_errors == []


# 2. Registry search also finds tag words and the developer's name.
def test_registry_search_finds_tags_and_developers(live_server, page, console_errors, a11y):
    _demo()
    page.goto(live_server.url + "/registry/")
    search = page.get_by_label("Search apps")
    cards = page.locator("#registry-results").get_by_test_id("app-card")
    search.fill("benchmark")  # only GHZ State's tag says so
    expect(cards).to_have_count(1)
    expect(cards).to_contain_text("GHZ State")
    search.fill("education -bell")  # a tag of Bell Pair only: nothing left
    expect(page.locator("#registry-results")).to_contain_text("No apps match")
    search.fill('"pat provider" -ghz')  # the demo provider's full name
    expect(cards).to_have_count(2)
    expect(cards.filter(has_text="Bell Pair")).to_have_count(1)
    a11y.check(page, "registry (a developer)")
    assert a11y.violations == []
    assert console_errors == []


# 3. Devices are public, drawn with their geometry and their calibration, beside no overlap.
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_devices_public_with_topology_and_calibration(
    live_server, page, console_errors, a11y, viewport
):
    _demo()
    page.set_viewport_size(viewport)
    base = live_server.url
    page.goto(base + "/devices")
    expect(page.get_by_role("heading", level=1)).to_have_text("Devices")
    a11y.check(page, "devices")
    page.get_by_role("link", name="falcon-27-noisy").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("falcon-27-noisy")
    drawing = page.locator("svg.connectivity")
    expect(drawing).to_have_attribute("data-layout", "heavy-hex")
    expect(drawing.locator("circle")).to_have_count(27)
    expect(drawing.locator("line")).to_have_count(28)
    # Heavy-hex, not a ring: qubits 0..26 sit on five rows (three long ones and bridges).
    rows = drawing.evaluate(
        "s => new Set([...s.querySelectorAll('circle')].map(c => c.getAttribute('cy'))).size"
    )
    assert rows == 5
    # Every coupling is a short, straight neighbour link (no chords across a ring).
    lengths = drawing.evaluate(
        "s => [...s.querySelectorAll('line')].map(l => Math.hypot(l.x1.baseVal.value - "
        "l.x2.baseVal.value, l.y1.baseVal.value - l.y2.baseVal.value))"
    )
    assert max(lengths) == pytest.approx(min(lengths))
    assert not _overlap(_box(page, "[data-testid=device-specs]"), _box(page, "svg.connectivity"))
    # The figures the worker's noise model is built from (catalogue "noise"), per qubit
    # (T1, T2, readout error, 1-qubit gate error) and per coupling (CX error).
    noise = next(d for d in DEVICES if d["name"] == "falcon-27-noisy")["noise"]
    qubit_rows = page.get_by_test_id("qubit-calibration").locator("tbody tr")
    expect(qubit_rows).to_have_count(27)
    expect(qubit_rows.nth(26).locator("th, td")).to_have_text(
        ["26", _us(noise["t1_us"]), _us(noise["t2_us"]), _pct(noise["readout_error"]),
         _pct(noise["error_1q"])]
    )  # fmt: skip
    edge_rows = page.get_by_test_id("edge-calibration").locator("tbody tr")
    expect(edge_rows).to_have_count(28)
    expect(edge_rows.first.locator("td")).to_have_text(_pct(noise["error_2q"]))
    # As colour on the map: every qubit filled, every coupling stroked, each with its figures.
    expect(drawing.locator("circle[fill]")).to_have_count(27)
    expect(drawing.locator("line[stroke]")).to_have_count(28)
    assert set(_painted(page, "svg.connectivity circle", "fill")) == {_rgb(SCALE[0])}
    assert set(_painted(page, "svg.connectivity line", "stroke")) == {_rgb(EDGE_SCALE[0])}
    expect(drawing.locator('circle[data-qubit="0"] title')).to_contain_text(
        f"T1 {_us(noise['t1_us'])}"
    )
    _no_sideways_scroll(page)
    a11y.check(page, f"falcon at {viewport['width']}")

    # Qiskit's GenericBackendV2: the per-qubit and per-coupling figures the simulator runs
    # with (its seeded Target) differ, and so do the colours of qubits and couplings.
    page.goto(base + "/devices/generic-5-noisy")
    target = _generic_target()
    qubit_rows = page.get_by_test_id("qubit-calibration").locator("tbody tr")
    expect(qubit_rows).to_have_count(5)
    for q in range(5):
        props = target.qubit_properties[q]
        expect(qubit_rows.nth(q).locator("th, td")).to_have_text(
            [str(q), _us(props.t1 * 1e6), _us(props.t2 * 1e6),
             _pct(target["measure"][(q,)].error), _pct(target["sx"][(q,)].error)]
        )  # fmt: skip
    edge_rows = page.get_by_test_id("edge-calibration").locator("tbody tr")
    expect(edge_rows).to_have_count(10)
    first_edge = edge_rows.first.locator("th").inner_text()
    a, b = (int(x) for x in first_edge.split("–"))
    worst = max(e.error for e in (target["cx"].get((a, b)), target["cx"].get((b, a))) if e)
    expect(edge_rows.first.locator("td")).to_have_text(_pct(worst))
    # The colours as drawn (computed style: a stylesheet rule would override the SVG's
    # presentation attributes) are the calibration's, and they differ.
    fills = _painted(page, "svg.connectivity circle", "fill")
    assert len(fills) == 5 and len(set(fills)) > 1, fills
    strokes = _painted(page, "svg.connectivity line", "stroke")
    assert len(strokes) == 10 and len(set(strokes)) > 1, strokes
    assert not _overlap(_box(page, "[data-testid=device-specs]"), _box(page, "svg.connectivity"))
    _no_sideways_scroll(page)
    a11y.check(page, f"generic-5 at {viewport['width']}")
    assert a11y.violations == []
    assert console_errors == []


# 7. Phone width: the IDE, the bills and the navigation fit 390 px.
def test_phone_width_ide_bills_and_menu(live_server, page, console_errors, a11y):
    from portal.billing.services import current_bill
    from tests.factories.billing import completed_job
    from tests.factories.projects import ProjectFactory

    user = UserFactory(username="phoneuser")
    long_line = "// " + "a very long comment that does not wrap " * 8 + "\n"
    program = 'OPENQASM 2.0;\ninclude "qelib1.inc";\n' + long_line + "qreg q[1];\n"
    project = ProjectFactory(user=user, files={"main.qasm": program})
    completed_job(user, "0.50")
    current_bill(user)
    db.session.commit()
    base = live_server.url
    sign_in(page, base, "phoneuser")
    page.set_viewport_size(PHONE)

    page.goto(f"{base}/projects/{project.id}")
    expect(page.locator(".cm-editor")).to_be_visible()
    _no_sideways_scroll(page)
    scroller = page.locator(".cm-scroller")
    assert scroller.evaluate("s => s.scrollWidth > s.clientWidth")  # it scrolls inside itself
    assert _box(page, ".editor-host")["width"] <= PHONE["width"]
    a11y.check(page, "ide at 390")

    page.goto(base + "/billing")
    pdf = page.get_by_test_id("bill-table").get_by_role("link", name="PDF")
    expect(pdf).to_be_visible()
    box = pdf.bounding_box()
    assert box["x"] + box["width"] <= PHONE["width"]
    _no_sideways_scroll(page)
    a11y.check(page, "billing at 390")

    # The navigation: brand and a menu button on one line; the button opens the links.
    nav = page.get_by_role("navigation", name="Main")
    toggle = page.get_by_role("button", name="Menu")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(nav.get_by_role("link", name="Registry")).to_be_hidden()
    assert _box(page, ".site-header")["height"] < 80
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(nav.get_by_role("link", name="Registry")).to_be_visible()
    a11y.check(page, "menu open at 390")
    page.keyboard.press("Escape")
    expect(nav.get_by_role("link", name="Registry")).to_be_hidden()
    # At desktop width there is no button and every link shows.
    page.set_viewport_size(DESKTOP)
    expect(toggle).to_be_hidden()
    expect(nav.get_by_role("link", name="Registry")).to_be_visible()
    assert a11y.violations == []
    assert console_errors == []


# 9. The IDE's sidebar shows a file's size as saved, not as the page loaded it.
def test_ide_sidebar_size_follows_saves(live_server, page, console_errors, a11y):
    from tests.factories.projects import ProjectFactory

    user = UserFactory(username="sizeuser")
    program = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\n'
    project = ProjectFactory(user=user, files={"main.qasm": program, "notes.txt": "hi\n"})
    db.session.commit()
    base = live_server.url
    sign_in(page, base, "sizeuser")
    page.goto(f"{base}/projects/{project.id}?file=main.qasm")
    tree = page.get_by_test_id("file-tree")
    main_size = tree.locator("li", has_text="main.qasm").get_by_test_id("file-size")
    notes_size = tree.locator("li", has_text="notes.txt").get_by_test_id("file-size")
    expect(main_size).to_have_text(f"{len(program)} B")
    expect(notes_size).to_have_text("3 B")

    page.locator(".cm-line", has_text="qreg q[1];").click()
    page.keyboard.press("End")
    page.keyboard.type("\nh q[0];")  # 8 bytes more
    expect(page.get_by_test_id("save-state")).to_have_text("Saved")
    expect(main_size).to_have_text(f"{len(program) + 8} B")
    expect(notes_size).to_have_text("3 B")  # only the file that was saved changes
    a11y.check(page, "IDE after a save")
    # What the server stored: the same figure after a reload.
    page.reload()
    expect(main_size).to_have_text(f"{len(program) + 8} B")
    assert a11y.violations == []
    assert console_errors == []


# 8. The Marketplace: empty says so (with and without a search); the demo data fills it.
def test_marketplace_empty_states_and_demo_listings(live_server, page, console_errors, a11y):
    base = live_server.url
    page.goto(base + "/marketplace/")
    empty = page.get_by_test_id("marketplace-empty")
    expect(empty).to_contain_text("No apps on sale yet")
    expect(empty).not_to_contain_text("clear the search")
    a11y.check(page, "empty marketplace")
    page.goto(base + "/marketplace/?q=teleport")
    expect(empty).to_contain_text("No apps match “teleport”")
    expect(empty.get_by_role("link", name="Clear the search and filters")).to_be_visible()

    _demo()
    page.goto(base + "/marketplace/?q=fresh")  # a new search: the cache keys differ
    page.goto(base + "/marketplace/?sort=newest")
    cards = page.get_by_test_id("listing-card")
    expect(cards).to_have_count(2)
    expect(cards.filter(has_text="Grover Search")).to_contain_text("0 subscribers")
    cards.filter(has_text="QAOA Max-Cut").get_by_role("link", name="QAOA Max-Cut").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("QAOA Max-Cut")
    expect(page.locator("main")).to_contain_text("0 active subscriptions")
    a11y.check(page, "demo listing")
    assert a11y.violations == []
    assert console_errors == []


# 9. Small things: one "Most downloaded", plurals, qubit filters as you type, public API.
def test_sort_plurals_qubit_filter_and_anonymous_api(live_server, page, console_errors, a11y):
    _demo()
    base = live_server.url
    page.goto(base + "/registry/")
    options = page.locator("#sort option").all_inner_texts()
    assert options.count("Most downloaded") == 1, options
    expect(page.get_by_text("0 downloads").first).to_be_visible()
    a11y.check(page, "registry")

    cards = page.locator("#registry-results").get_by_role("link", name="GHZ State")
    expect(cards).to_have_count(1)
    page.get_by_label("Min qubits").press_sequentially("3")  # no blur, no Enter
    expect(page.locator("#registry-results").get_by_role("link", name="Bell Pair")).to_have_count(0)
    expect(cards).to_have_count(1)
    expect(page).to_have_url(re.compile(r"min_qubits=3"))

    with urllib.request.urlopen(base + "/api/v1/quantum-apps/") as response:
        assert response.status == 200
        body = json.load(response)
    assert {a["name"] for a in body["items"]} >= {"Bell Pair", "GHZ State", "Grover Search"}

    # A listed app has one subscriber: singular.
    sign_in(page, base, "consumer", "Consumer-demo-2026")
    page.goto(base + "/marketplace/")
    page.get_by_role("link", name="Grover Search").click()
    page.get_by_role("button", name="Start free trial").click()
    page.goto(base + "/marketplace/")
    page.get_by_role("link", name="Grover Search").click()
    expect(page.locator("main")).to_contain_text(re.compile(r"\b1 active subscription(?!s)"))
    assert a11y.violations == []
    assert console_errors == []
