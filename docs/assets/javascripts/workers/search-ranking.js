// material's search worker, with the results put in the order a reader of a textbook expects.
//
// lunr ranks by term statistics: a rare word that merely starts with the query (encoder_data_flow for "encoder",
// "Attention:" for "attention") or a Chinese query cut into pieces by material's segmenter (标签平滑 searched as
// 标* ...) can outrank the chapter about the query. This worker runs material's (its address is in ?worker=, set by
// assets/search-index.js, which starts this one instead) and sorts the pages it returns by tiers, keeping lunr's
// order inside each tier:
//   1. a chapter (a page whose title starts with its number, "5. Attention") whose title contains the query;
//   2. a chapter with a section whose heading contains it;
//   3. another page whose title contains it;
//   4. another page with a section whose heading contains it;
//   5. everything else.
// "Contains" means every word of the query starts a word of the title (tensor finds "Tensors"); a Chinese query
// is looked for as it is (编码器 in "编码器：模型的记忆"). This file sits beside material's worker so that material's
// relative paths (../lunr/) still resolve.
const QUERY = 2;
const RESULT = 3;
const queries = [];

addEventListener("message", (event) => {
  if (event.data.type === QUERY) queries.push(event.data.data);
});

const plain = (html) =>
  html
    .replace(/<[^>]*>/g, "")
    .replace(/\u200b/g, "")
    .toLowerCase();
const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

function contains(title, words) {
  return words.every((word) =>
    /\p{sc=Han}/u.test(word) ? title.includes(word) : new RegExp(`(^|[^\\p{L}\\p{N}_])${escape(word)}`, "u").test(title),
  );
}

function tier(group, words) {
  const page = group.find((doc) => !doc.location.includes("#")) || group[0];
  const title = plain(page.title);
  const chapter = /^\d+\.\s/.test(title);
  const sections = group.filter((doc) => doc !== page).map((doc) => plain(doc.title));
  if (contains(title, words)) return chapter ? 1 : 3;
  if (sections.some((heading) => contains(heading, words))) return chapter ? 2 : 4;
  return 5;
}

function rerank(result, query) {
  const words = query
    .toLowerCase()
    .replace(/[+\-*~^:]/g, " ")
    .split(/\s+/)
    .filter(Boolean);
  if (!words.length) return result;
  const ranked = result.data.items.map((group, index) => ({ group, index, tier: tier(group, words) }));
  ranked.sort((a, b) => a.tier - b.tier || a.index - b.index);
  return { ...result, data: { ...result.data, items: ranked.map(({ group }) => group) } };
}

const post = postMessage;
self.postMessage = (message, ...rest) =>
  post(message && message.type === RESULT ? rerank(message, queries.shift() || "") : message, ...rest);

// In a worker, location is this script's address. From file:// (the offline copy) material runs its worker in an
// iframe (the iframe-worker shim), whose location is the page's: there this script is the current script.
const here = self.document?.currentScript?.src || location.href;
importScripts(new URL(here).searchParams.get("worker"));
