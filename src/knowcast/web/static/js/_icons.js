// icon(name): an <svg> that shows one icon of the bundled lucide sprite (static/icons.txt lists the names),
// the browser twin of the icon() helper the templates use. Decorative unless a label is given.
const SVG = "http://www.w3.org/2000/svg";

export function icon(name, label) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", `icon icon-${name}`);
  svg.setAttribute("focusable", "false");
  if (label) {
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", label);
  } else {
    svg.setAttribute("aria-hidden", "true");
  }
  const use = document.createElementNS(SVG, "use");
  use.setAttribute("href", `${document.documentElement.dataset.icons || "/static/dist/icons.svg"}#${name}`);
  svg.append(use);
  return svg;
}
