"""mkdocs hook: what the i18n plugin (mkdocs-static-i18n) leaves in English or builds once for both languages.

The i18n plugin builds the site once per language on the same configuration: the English build first, then the
Chinese one into ``zh/``. This hook, run at the start of each build, gives the Chinese build the Chinese labels of the
API pages (mkdocstrings-python's ``zh`` translations: 参数, 返回, 源代码位于) and of the headings' permalinks, and
after each build keeps that language's ``404.html``: both builds write the file at the root of the site, so without
this the Chinese page would be served for every missing English address too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.plugins import event_priority

# The permalink (the ¶ after a heading) is titled by the toc extension, which has no translations of its own.
PERMALINK_TITLES = {"en": "Permanent link", "zh": "永久链接"}
# The default language's 404 page, kept between its build and the next language's, which overwrites it.
_default_404: dict[str, bytes] = {}


def current_language(config: Any) -> str:
    """The language being built: the i18n plugin's, set before each build's ``on_config`` but the first."""
    i18n = config.plugins["i18n"]
    return i18n.current_language or i18n.default_language


@event_priority(100)  # before mkdocstrings reads its locale and before markdown reads the toc options
def on_config(config: Any) -> Any:
    """Set the language of the labels that mkdocstrings and the toc extension write into the pages."""
    lang = current_language(config)
    config.plugins["mkdocstrings"].config.locale = lang
    config.mdx_configs["toc"]["permalink_title"] = PERMALINK_TITLES[lang]
    return config


def on_template_context(context: dict[str, Any], template_name: str, config: Any) -> dict[str, Any]:
    """The 404 page's language menu offers each language's home page (it is served at any address)."""
    if template_name == "404.html":
        languages = config.plugins["i18n"].config.languages
        alternate = [{"name": lang.name, "link": lang.link, "lang": lang.locale} for lang in languages if lang.build]
        # Both forms: the i18n plugin sets the attribute on each page, and templates read the attribute first.
        context["config"].extra["alternate"] = context["config"].extra.alternate = alternate
    return context


def on_post_build(config: Any) -> None:
    """Keep each language's 404 page: English at ``/404.html``, Chinese at ``/zh/404.html``.

    Runs before the i18n plugin's own ``on_post_build`` (which starts the next language's build), so after the English
    build the root ``404.html`` is the English one, and after the Chinese build it is the Chinese one, which moves.
    """
    lang = current_language(config)
    site = Path(config.site_dir)
    if lang == config.plugins["i18n"].default_language:
        _default_404["page"] = (site / "404.html").read_bytes()
        return
    target = site / lang / "404.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    (site / "404.html").replace(target)
    (site / "404.html").write_bytes(_default_404["page"])
