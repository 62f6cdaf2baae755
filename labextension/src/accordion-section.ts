/**
 * A section of the Jobs sidebar's accordion that collapses to its title while it has nothing to
 * show and, when opened, gets the room its rows need (Remote sessions, Definitions).
 *
 * The accordion restores the size a section had when it was closed; a section that started
 * collapsed never had one and would get 0 px, so on opening it is measured at the sidebar's
 * width and given what its rows need, up to half the sidebar, taken from the other sections.
 */

import { AccordionPanel, Widget } from '@lumino/widgets';

/** The least height of an open section, in px. */
export const MIN_SECTION_HEIGHT = 96;

/** The accordion the section sits in (the Jobs sidebar's), if any. */
export function sectionAccordion(section: Widget): AccordionPanel | null {
  return section.parent instanceof AccordionPanel ? section.parent : null;
}

/**
 * Open the section when it gets something to show (`has`), collapse it when it has nothing;
 * only changes from `expanded` (the state last applied) are applied, so a user who opens an
 * empty section keeps it open. Inside the accordion this goes through the accordion, so its
 * title's caret and the sizes follow. Returns the state now applied.
 */
export function syncSectionExpanded(
  section: Widget,
  has: boolean,
  expanded: boolean | null
): boolean | null {
  if (has === expanded) {
    return expanded;
  }
  const accordion = sectionAccordion(section);
  if (accordion && section.isAttached) {
    const index = accordion.widgets.indexOf(section);
    if (has) {
      accordion.expand(index);
    } else {
      accordion.collapse(index);
    }
    return has;
  }
  if (!accordion) {
    section.setHidden(!has);
    return has;
  }
  if (!has) {
    // in the accordion but not attached yet: start collapsed (its title follows at insert)
    section.setHidden(true);
    return has;
  }
  return expanded;
}

/**
 * Give the open section at `index` the room the children of `body` need (after `render`);
 * false when the sidebar has no size yet (size it at the next resize).
 */
export function fitSectionSize(
  section: Widget,
  body: Widget,
  accordion: AccordionPanel,
  index: number,
  render: () => void
): boolean {
  const sizes = (accordion.layout as unknown as { absoluteSizes(): number[] }).absoluteSizes();
  const total = sizes.reduce((a, b) => a + b, 0);
  if (total <= 0) {
    return false; // the sidebar is closed: size it when it opens
  }
  if (total < 2) {
    return true; // relative sizes: the accordion restored the size the section had when closed
  }
  render(); // now, to measure the rows
  // at the sidebar's width: a section never laid out has none yet (its text would wrap a word
  // a line); the layout sets its own width right after
  const style = section.node.style;
  const width = style.width;
  style.width = `${accordion.node.clientWidth}px`;
  let natural = 8;
  for (const child of Array.from(body.node.children)) {
    natural += (child as HTMLElement).offsetHeight;
  }
  style.width = width;
  const wanted = Math.round(Math.min(total / 2, Math.max(MIN_SECTION_HEIGHT, natural)));
  const mine = sizes[index];
  if (Math.abs(mine - wanted) < 2) {
    return true;
  }
  const others = total - mine;
  const share = others > 0 ? (total - wanted) / others : 0;
  accordion.setRelativeSizes(sizes.map((size, i) => (i === index ? wanted : size * share)));
  return true;
}
