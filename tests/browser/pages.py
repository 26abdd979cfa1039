"""Screenshots of portal pages at desktop and phone width, each one also a check: the page
answered the expected status, shows its heading, and is no wider than a 390 px phone.

A screenshot alone asserts nothing, so every `visit` and `here` checks the page first;
what overflows at phone width is collected (with the elements that stick out) so that a
run reports every such page at once instead of stopping at the first.
"""

from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, Page, expect

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

# The outermost elements whose box ends right of the viewport, leaving out those a
# scrolling or clipping ancestor contains: what makes a page scroll sideways, named well
# enough to find in the template.
STICKING_OUT = """(width) => {
    const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
        + [...el.classList].map((c) => "." + c).join("");
    const clipped = (el) => {
        for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
            if (getComputedStyle(up).overflowX !== "visible") return true;
        }
        return false;
    };
    const out = [];
    for (const el of document.body.querySelectorAll("*")) {
        const box = el.getBoundingClientRect();
        if (box.right > width + 0.5 && !clipped(el) && !out.some((o) => o.el.contains(el))) {
            out.push({el, text: `${name(el)} (${Math.round(box.right)} px)`});
        }
    }
    return out.slice(0, 5).map((o) => o.text);
}"""


def open_context(browser: Browser, base_url: str, viewport: dict) -> BrowserContext:
    context = browser.new_context(base_url=base_url, viewport=viewport)
    context.set_default_timeout(15_000)
    return context


def new_page(context: BrowserContext) -> Page:
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())  # the portal's confirm() prompts
    return page


@dataclass
class Gallery:
    """The same person in two browser contexts, a desktop and a phone, sharing cookies."""

    artifacts: Path
    desktop: Page
    phone: Page
    prefix: str = "journey"
    shot: list[str] = field(default_factory=list)
    overflow: dict[str, list[str]] = field(default_factory=dict)

    def share_session(self) -> None:
        """The phone gets the desktop's cookies (session and CSRF): one person, two screens."""
        self.phone.context.clear_cookies()
        self.phone.context.add_cookies(self.desktop.context.cookies())

    def visit(self, name: str, path: str, heading: str, status: int = 200) -> None:
        """GETs `path` in both contexts; checks status and heading; screenshots both."""
        for page, width in ((self.desktop, "desktop"), (self.phone, "phone")):
            response = page.goto(path)
            assert response is not None and response.status == status, (
                f"{name} ({path}) at {width}: {response and response.status}, not {status}"
            )
            self._capture(page, name, heading, width)

    def here(self, page: Page, name: str, heading: str) -> None:
        """The page as it is now (a POST's answer, which a GET cannot reach): desktop, then
        the same document narrowed to phone width, then back."""
        page.set_viewport_size(DESKTOP)
        self._capture(page, name, heading, "desktop")
        page.set_viewport_size(PHONE)
        self._capture(page, name, heading, "phone")
        page.set_viewport_size(DESKTOP)

    def _capture(self, page: Page, name: str, heading: str, width: str) -> None:
        expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
        page.screenshot(
            path=str(self.artifacts / f"{self.prefix}-{name}-{width}.png"), full_page=True
        )
        self.shot.append(f"{name}-{width}")
        if width == "phone":
            scroll = page.evaluate("document.documentElement.scrollWidth")
            if scroll > PHONE["width"]:
                found = page.evaluate(STICKING_OUT, PHONE["width"])
                self.overflow[name] = [f"{scroll} px wide", *found]
