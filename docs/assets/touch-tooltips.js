// Glossary tooltips for touch: an English term with a Chinese name (<abbr title="词嵌入">embedding</abbr>,
// includes/abbreviations.md) shows it on hover, and now also when tapped or reached with Tab: a focusable <abbr>
// shows its title in a bubble (book.css, abbr:focus::after) until the focus moves on.
for (const abbr of document.querySelectorAll(".md-typeset abbr[title]")) {
  abbr.tabIndex = 0;
}
