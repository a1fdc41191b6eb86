"""The console's committed libraries are what `make ui` builds from ui/package-lock.json: each
file is listed with its checksum in ui/vendor.sha256, and carries its locked version."""

from __future__ import annotations

import hashlib
import json
import re

from app.settings import PROJECT_ROOT

VENDOR = PROJECT_ROOT / "app" / "console" / "vendor"
#: Each vendored file: its npm package, and how its banner names its version.
BANNERS = {
    "chart.umd.min.js": ("chart.js", r"Chart\.js v(\S+)"),
    "marked.umd.js": ("marked", r"marked v(\S+)"),
    "purify.min.js": ("dompurify", r"DOMPurify (\S+)"),
}


def test_every_vendored_file_is_the_one_make_ui_recorded():
    recorded = dict(
        reversed(line.split())
        for line in (PROJECT_ROOT / "ui" / "vendor.sha256").read_text().splitlines()
    )
    assert set(recorded) == {path.name for path in VENDOR.iterdir()} == set(BANNERS)
    for name, digest in recorded.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, (
            f"app/console/vendor/{name} differs from what `make ui` built"
        )


def test_every_vendored_file_has_the_version_the_lockfile_pins():
    lock = json.loads((PROJECT_ROOT / "ui" / "package-lock.json").read_text())
    wanted = json.loads((PROJECT_ROOT / "ui" / "package.json").read_text())["dependencies"]
    for name, (package, banner) in BANNERS.items():
        locked = lock["packages"][f"node_modules/{package}"]["version"]
        assert wanted[package] == locked, f"run `make ui`: {package} is not at its locked version"
        found = re.search(banner, (VENDOR / name).read_text()[:500])
        assert found and found.group(1) == locked, f"{name} is not {package} {locked}"
