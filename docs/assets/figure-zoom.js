// A figure opens full size when clicked, tapped, or activated with Enter or Space.
//
// On a phone a figure is squeezed to the width of the text, and the labels of a many-panel figure shrink to a few
// pixels. Full size is the size the figure was drawn at, or larger if its smallest label would be under 10 px
// there: the dialog shows it at that size, scrolling if it is wider than the screen, and closes with its button,
// Escape or a click beside the figure. Links inside a figure (the architecture figure's boxes) still open their
// chapter.
(() => {
  const labels = {
    en: { open: "Open the figure full size", close: "Close" },
    zh: { open: "查看大图", close: "关闭" },
  };
  const text = labels[document.documentElement.lang] || labels.en;

  const dialog = document.createElement("dialog");
  dialog.className = "book-zoom";
  const close = document.createElement("button");
  close.className = "book-zoom__close";
  close.type = "button";
  close.textContent = "×";
  close.setAttribute("aria-label", text.close);
  close.addEventListener("click", () => dialog.close());
  // A click on the backdrop lands on the dialog itself, not on the figure inside it.
  dialog.addEventListener("click", (event) => {
    if (event.target === dialog) dialog.close();
  });
  dialog.addEventListener("close", () => dialog.replaceChildren());
  document.body.append(dialog);

  const LABEL_PX = 10;

  // The SVG behind a figure: inline, or the image's file (from the cache once the image has loaded). A figure
  // clicked before its lazy load has begun has no currentSrc yet, so the file is asked for by its src.
  const svgOf = async (figure) => {
    if (!(figure instanceof HTMLImageElement)) return figure;
    const text = await (await fetch(figure.src)).text();
    const root = new DOMParser().parseFromString(text, "image/svg+xml").documentElement;
    return root instanceof SVGSVGElement ? root : null;
  };

  // The width to show a figure at: as drawn (the SVG's own width, known before the image has loaded), or wider so
  // that its smallest label is LABEL_PX (matplotlib writes its labels as <text>, sized in the units of the
  // viewBox); the width on the page if the SVG cannot be read.
  const fullWidth = async (figure) => {
    const svg = await svgOf(figure);
    if (!svg) return figure.getBoundingClientRect().width;
    const drawn = svg.width.baseVal.value;
    const units = svg.viewBox.baseVal?.width;
    const sizes = [...svg.querySelectorAll("text")]
      .map((text) => parseFloat(text.style.fontSize || text.getAttribute("font-size") || getComputedStyle(text).fontSize))
      .filter((size) => size > 0);
    if (!units || !sizes.length) return drawn;
    return Math.max(drawn, (units * LABEL_PX) / Math.min(...sizes));
  };

  const open = async (figure) => {
    const copy = figure.cloneNode(true);
    copy.removeAttribute("tabindex");
    copy.removeAttribute("role");
    copy.removeAttribute("height");
    copy.removeAttribute("loading"); // shown at once, even if the page's copy has not loaded yet
    copy.style.width = `${await fullWidth(figure)}px`;
    const frame = document.createElement("div");
    frame.className = "book-zoom__frame";
    frame.append(copy);
    dialog.replaceChildren(close, frame);
    dialog.showModal();
  };

  for (const figure of document.querySelectorAll(".book-figure img, .book-figure svg")) {
    figure.classList.add("book-zoomable");
    figure.setAttribute("title", text.open);
    if (figure instanceof HTMLImageElement) {
      figure.tabIndex = 0;
      figure.setAttribute("role", "button");
    }
    figure.addEventListener("click", (event) => {
      if (!event.target.closest("a")) open(figure);
    });
    figure.addEventListener("keydown", (event) => {
      if ((event.key === "Enter" || event.key === " ") && event.target === figure) {
        event.preventDefault();
        open(figure);
      }
    });
  }
})();
