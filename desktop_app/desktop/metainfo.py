"""The AppStream metainfo of the app (``<APP_ID>.metainfo.xml``): what software centres show about it.

Built here rather than kept as a file, so that the package, the bundle and ``desktop install`` of a pip install
write the same text with the identity of :mod:`desktop_app.appinfo` (docs/decisions/0022). ``appstreamcli validate
--no-net`` passes on it (tests/unit/test_desktop_files.py).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from desktop_app import appinfo
from desktop_app.desktop.entry import FILE_NAME as DESKTOP_FILE_NAME

FILE_NAME = f"{appinfo.APP_ID}.metainfo.xml"
#: Where the project lives. A placeholder, like the Client ID Metadata Document's host (packaging/README.md): a
#: publisher sets the real address. AppStream wants screenshots as https URLs of images on the web, not files.
HOMEPAGE = "https://mcp-connectors.example.org/"
SCREENSHOT_BASE_URL = f"{HOMEPAGE}screenshots/"
#: Matches the ``license`` of pyproject.toml (tests check it).
PROJECT_LICENSE = "MIT"
DEVELOPER_ID = "io.github.mcp_connectors"
DEVELOPER_NAME = "The MCP Connector Manager contributors"
SUMMARY = "Connect AI tools to remote MCP servers safely"
DESCRIPTION = (
    "MCP Connector Manager connects your AI tools to remote MCP servers that ask you to sign in. Before any browser "
    "opens it shows you plainly which server is asking which authorization server for which permissions; then you "
    "sign in through your own browser, and it keeps the tokens in your keyring, bound to the server they were "
    "issued for.",
    "Several accounts per server, sign-ins renewed ahead of expiry from the tray, real sign-out, and a bridge that "
    "lets Claude, VS Code, Cursor and other tools use a connector without ever seeing a token.",
)
FEATURES = (
    "A pairing card before every first sign-in: server, authorization server, permissions",
    "Tokens only in the system keyring, renewed in the background",
    "Several accounts on one server, each with the identity it signed in as",
    "Connectors for AI tools through a local bridge, and a command line for scripts",
)


@dataclass(frozen=True, slots=True)
class Screenshot:
    file: str
    caption: str


SCREENSHOTS = (
    Screenshot("main-window.png", "Servers with the accounts signed in to each, their state and history"),
    Screenshot("pairing-card.png", "The pairing card: who asks whom for which permissions, before the browser opens"),
    Screenshot("waiting.png", "Signing in through your own browser, with the sign-in link to copy"),
)
#: (version, date), newest first.
RELEASES = ((appinfo.VERSION, "2026-12-03"),)


def _text(parent: ET.Element, tag: str, text: str, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attributes)
    element.text = text
    return element


def metainfo() -> str:
    component = ET.Element("component", {"type": "desktop-application"})
    _text(component, "id", appinfo.APP_ID)
    _text(component, "metadata_license", "CC0-1.0")
    _text(component, "project_license", PROJECT_LICENSE)
    _text(component, "name", appinfo.APP_NAME)
    _text(component, "summary", SUMMARY)
    developer = ET.SubElement(component, "developer", {"id": DEVELOPER_ID})
    _text(developer, "name", DEVELOPER_NAME)
    description = ET.SubElement(component, "description")
    for paragraph in DESCRIPTION:
        _text(description, "p", paragraph)
    features = ET.SubElement(description, "ul")
    for feature in FEATURES:
        _text(features, "li", feature)
    _text(component, "launchable", DESKTOP_FILE_NAME, type="desktop-id")
    _text(component, "url", HOMEPAGE, type="homepage")
    screenshots = ET.SubElement(component, "screenshots")
    for index, shot in enumerate(SCREENSHOTS):
        screenshot = ET.SubElement(screenshots, "screenshot", {"type": "default"} if index == 0 else {})
        _text(screenshot, "caption", shot.caption)
        _text(screenshot, "image", SCREENSHOT_BASE_URL + shot.file)
    provides = ET.SubElement(component, "provides")
    _text(provides, "binary", appinfo.COMMAND)
    ET.SubElement(component, "content_rating", {"type": "oars-1.1"})
    releases = ET.SubElement(component, "releases")
    for version, date in RELEASES:
        ET.SubElement(releases, "release", {"version": version, "date": date})
    ET.indent(component, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(component, encoding="unicode") + "\n"
