// Each visible text's contrast against the background it is drawn on, by WCAG 2's ratio (4.5:1,
// or 3:1 for large text); returns the texts that fall short. Backgrounds are blended up through
// the ancestors, down to the page's white. Disabled controls are exempt, as WCAG has them.
() => {
  const rgba = (css) => (css.match(/[\d.]+/g) || [0, 0, 0, 0]).map(Number).concat(1).slice(0, 4);
  const over = ([r, g, b, a], under) => [r, g, b].map((v, i) => v * a + under[i] * (1 - a));
  const background = (el) => {
    const layers = [];
    for (let node = el; node; node = node.parentElement) {
      const color = rgba(getComputedStyle(node).backgroundColor);
      if (color[3] > 0) layers.push(color);
      if (color[3] === 1) break;
    }
    return layers.reduceRight((under, layer) => over(layer, under), [255, 255, 255]);
  };
  const luminance = (rgb) => {
    const linear = (v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
    const [r, g, b] = rgb.map((v) => linear(v / 255));
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const short = [];
  for (const el of document.querySelectorAll("body *")) {
    const own = [...el.childNodes].filter((node) => node.nodeType === Node.TEXT_NODE);
    const text = own.map((node) => node.textContent).join("").trim();
    const style = getComputedStyle(el);
    if (!text || el.disabled || !el.checkVisibility() || style.visibility === "hidden") continue;
    const back = background(el);
    const ink = over(rgba(style.color), back);
    const [light, dark] = [luminance(ink), luminance(back)].sort((a, b) => b - a);
    const ratio = (light + 0.05) / (dark + 0.05);
    const size = parseFloat(style.fontSize), bold = parseInt(style.fontWeight) >= 700;
    const needed = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    if (ratio < needed) {
      short.push(`${ratio.toFixed(2)} < ${needed}: <${el.tagName.toLowerCase()}> ${text.slice(0, 40)}`);
    }
  }
  return short;
}
