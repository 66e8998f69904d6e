// The attention explorer of chapter 9: the cross-attention of a trained model, for a few numbers, layer by layer and
// head by head.
//
// The page holds the data (book/figures/translation.py writes it when the site is built, as JSON inside
// <figure class="attention-explorer">); this script only draws it. Rows are the tokens the model wrote, columns the
// source tokens it read. Pointing at an output token (mouse, finger or keyboard focus) lights up the source tokens it
// attends to, each as strongly as its weight; pointing at a source token lights up the output tokens that attend to
// it. Cells and lit tokens carry their weight in data-weight (a percentage), as the JSON does.
(() => {
  const LABELS = {
    en: {
      example: "Example",
      layer: "Layer",
      head: "Head",
      directions: { "en-zh": "English → Chinese", "zh-en": "Chinese → English" },
      wrong: " (wrong)",
      grid: "Cross-attention weights: one row per output token, one column per source token",
      hint: "Point at, tap or tab to a token to see where it looks.",
      rows: "output",
      columns: "source",
      outputLooks: (token, list) => `Writing ${token}, the decoder looks at ${list}.`,
      sourceSeen: (token, list) => `Source token ${token} is looked at by ${list}.`,
      nobody: "no token above 5 %",
      percent: (weight) => `${weight} %`,
      separator: ", ",
    },
    zh: {
      example: "例子",
      layer: "层",
      head: "注意力头",
      directions: { "en-zh": "英译中", "zh-en": "中译英" },
      wrong: "（译错）",
      grid: "交叉注意力权重：每行是一个输出词元，每列是一个源词元",
      hint: "把鼠标移到某个词元上、轻点它，或用 Tab 键选中它，就能看到它看向哪里。",
      rows: "输出",
      columns: "源",
      outputLooks: (token, list) => `写出 ${token} 时，解码器看向 ${list}。`,
      sourceSeen: (token, list) => `看向源词元 ${token} 的有 ${list}。`,
      nobody: "没有超过 5% 的词元",
      percent: (weight) => `${weight}%`,
      separator: "、",
    },
  };
  const SVG = "http://www.w3.org/2000/svg";
  const FONT_PX = 12;
  const MIN_CELL = 14;
  const MAX_CELL = 30;
  const SHOWN_IN_TEXT = 5; // weights at or above this percentage are named in the sentence under the grid

  const fill = (node, attributes, text) => {
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
    if (text) node.textContent = text;
    return node;
  };
  const element = (tag, attributes = {}, text = "") => fill(document.createElementNS(SVG, tag), attributes, text);
  const html = (tag, attributes = {}, text = "") => fill(document.createElement(tag), attributes, text);

  // The width a label needs, measured once per text with a canvas in the page's font.
  const measure = (() => {
    const context = document.createElement("canvas").getContext("2d");
    return (text, font) => {
      context.font = font;
      return context.measureText(text).width;
    };
  })();

  const select = (label, options, className) => {
    const wrapper = html("label", { class: "attention-explorer__control" });
    wrapper.append(html("span", {}, label));
    const menu = html("select", { class: className });
    options.forEach(([value, text]) => menu.append(html("option", { value }, text)));
    wrapper.append(menu);
    return [wrapper, menu];
  };

  const explorer = (figure) => {
    const data = JSON.parse(figure.querySelector("script[type='application/json']").textContent);
    const text = LABELS[document.documentElement.lang] || LABELS.en;
    const live = html("div", { class: "attention-explorer__live" });
    const controls = html("div", { class: "attention-explorer__controls" });
    const examples = data.examples.map((example, i) => {
      const mark = example.correct ? "" : text.wrong;
      return [String(i), `${example.label} · ${text.directions[example.direction]}${mark}`];
    });
    const [exampleControl, exampleMenu] = select(text.example, examples, "attention-explorer__example");
    const layers = [...Array(data.layers).keys()].map((i) => [String(i), String(i)]);
    const [layerControl, layerMenu] = select(text.layer, layers, "attention-explorer__layer");
    const heads = [...Array(data.heads).keys()].map((i) => [String(i), String(i)]);
    const [headControl, headMenu] = select(text.head, heads, "attention-explorer__head");
    controls.append(exampleControl, layerControl, headControl);
    const scroll = html("div", { class: "attention-explorer__scroll" });
    const readout = html("p", { class: "attention-explorer__readout", "aria-live": "polite" }, text.hint);
    live.append(controls, scroll, readout);
    figure.prepend(live);

    let active = null; // {side: "out" | "src", index}

    const weightsNow = () => data.examples[+exampleMenu.value].weights[+layerMenu.value][+headMenu.value];

    const describe = (tokens, weights) => {
      const named = weights
        .map((weight, i) => [weight, i])
        .filter(([weight]) => weight >= SHOWN_IN_TEXT)
        .sort((a, b) => b[0] - a[0])
        .map(([weight, i]) => `${tokens[i]} ${text.percent(weight)}`);
      return named.length ? named.join(text.separator) : text.nobody;
    };

    const light = () => {
      const example = data.examples[+exampleMenu.value];
      const weights = weightsNow();
      for (const cell of scroll.querySelectorAll(".attention-explorer__cell")) {
        const on = active && +cell.dataset[active.side === "out" ? "row" : "col"] === active.index;
        cell.classList.toggle("is-active", Boolean(on));
      }
      for (const token of scroll.querySelectorAll(".attention-explorer__token")) {
        const side = token.dataset.side;
        const index = +token.dataset.index;
        const mark = token.querySelector("rect");
        token.classList.toggle("is-active", Boolean(active && active.side === side && active.index === index));
        if (!active || active.side === side) {
          token.classList.remove("is-lit");
          token.removeAttribute("data-weight");
          mark.style.fillOpacity = "";
          continue;
        }
        const weight = side === "src" ? weights[active.index][index] : weights[index][active.index];
        token.classList.add("is-lit");
        token.dataset.weight = String(weight);
        mark.style.fillOpacity = String(weight / 100);
      }
      if (!active) {
        readout.textContent = text.hint;
      } else if (active.side === "out") {
        const list = describe(example.source, weights[active.index]);
        readout.textContent = text.outputLooks(example.output[active.index], list);
      } else {
        const column = weights.map((row) => row[active.index]);
        readout.textContent = text.sourceSeen(example.source[active.index], describe(example.output, column));
      }
    };

    const activate = (side, index) => {
      active = { side, index };
      light();
    };

    const draw = () => {
      const example = data.examples[+exampleMenu.value];
      const weights = weightsNow();
      const font = `${FONT_PX}px ${getComputedStyle(figure).fontFamily}`;
      const widest = (tokens) => Math.max(...tokens.map((token) => measure(token, font)));
      const left = Math.ceil(widest(example.output)) + 12; // the output tokens, right-aligned before their row
      const columns = example.source.length;
      const room = Math.floor((scroll.clientWidth - left - 4) / columns);
      const cell = Math.max(MIN_CELL, Math.min(MAX_CELL, room)); // narrower than the screen: the box scrolls
      // A source token that fits its column (a Chinese character) stands upright over it; a longer one is written
      // upwards.
      const upright = example.source.map((token) => measure(token, font) <= cell - 2);
      const heights = example.source.map((token, j) => (upright[j] ? FONT_PX : measure(token, font)));
      const top = Math.ceil(Math.max(...heights)) + 12;
      const width = left + columns * cell + 4;
      const height = top + example.output.length * cell + 4;
      const svg = element("svg", {
        class: "attention-explorer__grid",
        width,
        height,
        viewBox: `0 0 ${width} ${height}`,
        role: "group",
        "aria-label": text.grid,
      });
      const tokenLabel = (side, index, token) => {
        const group = element("g", {
          class: "attention-explorer__token",
          "data-side": side,
          "data-index": index,
          tabindex: "0",
          role: "button",
          "aria-label": `${side === "out" ? text.rows : text.columns} ${index + 1}: ${token}`,
        });
        if (side === "out") {
          const y = top + index * cell;
          group.append(element("rect", { x: 0, y: y + 1, width: left - 4, height: cell - 2, rx: 3 }));
          group.append(element("text", { x: left - 8, y: y + cell / 2, "text-anchor": "end" }, token));
        } else {
          const x = left + index * cell;
          group.append(element("rect", { x: x + 1, y: 0, width: cell - 2, height: top - 4, rx: 3 }));
          const label = upright[index]
            ? element("text", { x: x + cell / 2, y: top - 8 - FONT_PX / 2, "text-anchor": "middle" }, token)
            : element("text", { x: 0, y: 0, "text-anchor": "start" }, token);
          if (!upright[index]) label.setAttribute("transform", `translate(${x + cell / 2} ${top - 8}) rotate(-90)`);
          group.append(label);
        }
        for (const event of ["pointerenter", "focus", "click"]) {
          group.addEventListener(event, () => activate(side, index));
        }
        group.addEventListener("keydown", (event) => {
          if (event.key === "Enter" || event.key === " ") {
            event.preventDefault();
            activate(side, index);
          }
        });
        return group;
      };
      example.output.forEach((token, i) => svg.append(tokenLabel("out", i, token)));
      example.source.forEach((token, j) => svg.append(tokenLabel("src", j, token)));
      weights.forEach((row, i) =>
        row.forEach((weight, j) => {
          const rect = element("rect", {
            class: "attention-explorer__cell",
            x: left + j * cell,
            y: top + i * cell,
            width: cell,
            height: cell,
            "data-row": i,
            "data-col": j,
            "data-weight": weight,
          });
          rect.style.fillOpacity = String(Math.max(weight / 100, 0.03));
          rect.addEventListener("pointerenter", () => activate("out", i));
          svg.append(rect);
        }),
      );
      scroll.replaceChildren(svg);
      const fits = active && active.index < (active.side === "out" ? example.output.length : columns);
      if (!fits) active = null;
      light();
    };

    exampleMenu.addEventListener("change", () => {
      active = null;
      draw();
    });
    layerMenu.addEventListener("change", draw);
    headMenu.addEventListener("change", draw);
    let width = scroll.clientWidth;
    new ResizeObserver(() => {
      if (scroll.clientWidth !== width) {
        width = scroll.clientWidth;
        draw();
      }
    }).observe(scroll);
    draw();
  };

  for (const figure of document.querySelectorAll("figure.attention-explorer")) explorer(figure);
})();
