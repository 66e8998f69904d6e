// Render the formulas of pymdownx.arithmatex (generic mode: \( \) inline, \[ \] display) with the local KaTeX.
document$.subscribe(({ body }) => {
  renderMathInElement(body, {
    delimiters: [
      { left: "\\(", right: "\\)", display: false },
      { left: "\\[", right: "\\]", display: true },
    ],
    throwOnError: false,
  });
});
