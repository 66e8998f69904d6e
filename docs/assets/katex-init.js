// Render the formulas of pymdownx.arithmatex (generic mode: \( \) inline, \[ \] display) with the local KaTeX.
//
// Headings write a formula in plain text (## Why divide by √d_k), since a heading is also the page's title, a
// table-of-contents entry and a search result, where TeX would show as source. On the page, the heading and its
// table-of-contents entry typeset it as the text around does: √d_k as \sqrt{d_k}, d_model as d_{model}.
const PLAIN_FORMULA = /(√?)\b([A-Za-z])_([A-Za-z0-9]+)\b/g;

function typesetPlainFormulas(root) {
  const headings = root.querySelectorAll(".md-typeset :is(h1, h2, h3, h4, h5, h6), .md-nav__link");
  for (const heading of headings) {
    const walker = document.createTreeWalker(heading, NodeFilter.SHOW_TEXT);
    const nodes = [];
    while (walker.nextNode()) {
      if (!walker.currentNode.parentElement.closest("code, .katex")) nodes.push(walker.currentNode);
    }
    for (const node of nodes) {
      const text = node.textContent;
      if (!text.match(PLAIN_FORMULA)) continue;
      const parts = [];
      let last = 0;
      for (const match of text.matchAll(PLAIN_FORMULA)) {
        const [whole, root, base, subscript] = match;
        parts.push(document.createTextNode(text.slice(last, match.index)));
        const tex = `${base}_{${subscript}}`;
        const math = document.createElement("span");
        katex.render(root ? `\\sqrt{${tex}}` : tex, math, { throwOnError: false });
        parts.push(math);
        last = match.index + whole.length;
      }
      parts.push(document.createTextNode(text.slice(last)));
      node.replaceWith(...parts);
    }
  }
}

document$.subscribe(({ body }) => {
  renderMathInElement(body, {
    delimiters: [
      { left: "\\(", right: "\\)", display: false },
      { left: "\\[", right: "\\]", display: true },
    ],
    throwOnError: false,
  });
  typesetPlainFormulas(body);
});
