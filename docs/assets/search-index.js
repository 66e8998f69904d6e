// The search index of the page's language, fetched when the reader opens the search, and ranked for a textbook.
//
// material's bundle requests search/search_index.json with XMLHttpRequest as soon as a page loads. The build writes
// one index per language (book/search_index.py); the page names its own in this script's data-index
// (overrides/main.html). This script runs before the bundle: it sends that request to the page's language's index,
// and holds it back until the search is opened (the search field takes the focus, or the search toggle is checked),
// so a reader who never searches never downloads an index. It also starts material's search worker through
// javascripts/workers/search-ranking.js, which puts the chapter about the query first.
//
// Opened from the file system (the offline copy, book/offline.py), material loads the index another way: as a
// script, search/search_index.js at the site's root, which sets a variable. There the page's language's script is
// loaded instead (the offline build writes one beside each index).
(() => {
  const index = new URL(document.currentScript.dataset.index, location.href);
  const open = XMLHttpRequest.prototype.open;
  const send = XMLHttpRequest.prototype.send;
  const held = [];
  let searching = false;

  XMLHttpRequest.prototype.open = function (method, url, ...rest) {
    this.isSearchIndex = new URL(url, location.href).pathname.endsWith("/search/search_index.json");
    return open.call(this, method, this.isSearchIndex ? index.href : url, ...rest);
  };
  XMLHttpRequest.prototype.send = function (...body) {
    if (this.isSearchIndex && !searching) {
      held.push(() => send.apply(this, body));
      return;
    }
    send.apply(this, body);
  };

  if (location.protocol === "file:") {
    const setAttribute = Element.prototype.setAttribute;
    Element.prototype.setAttribute = function (name, value) {
      const isSearchIndex = this instanceof HTMLScriptElement && name === "src" && /\/search\/search_index\.js$/.test(value);
      return setAttribute.call(this, name, isSearchIndex ? index.href.replace(/\.json$/, ".js") : value);
    };
  }

  const NativeWorker = window.Worker;
  window.Worker = class extends NativeWorker {
    constructor(url, options) {
      const script = new URL(url, location.href);
      const material = /\/workers\/search\.[\w]+\.min\.js$/.test(script.pathname);
      const ranking = new URL(`search-ranking.js?worker=${encodeURIComponent(script.href)}`, script);
      super(material ? ranking : url, options);
    }
  };

  const startSearching = () => {
    searching = true;
    for (const request of held.splice(0)) request();
  };
  document.addEventListener("focusin", (event) => {
    if (event.target.matches?.(".md-search__input")) startSearching();
  });
  document.addEventListener("change", (event) => {
    if (event.target.id === "__search" && event.target.checked) startSearching();
  });
})();
