// The language menu keeps the section the reader is on: /attention/#causal-mask switches to /zh/attention/#causal-mask.
//
// The i18n plugin links each page to its twin; the twins give every heading the same id, so the fragment of the
// current address is carried over. Updating the links themselves (not intercepting the click) keeps "open in a new
// tab" and the keyboard working too.
(() => {
  const carryFragment = () => {
    for (const link of document.querySelectorAll(".md-select__link[hreflang]")) {
      const target = new URL(link.href);
      target.hash = location.hash;
      link.href = target.href;
    }
  };
  carryFragment();
  window.addEventListener("hashchange", carryFragment);
})();
