import { LabIcon } from '@jupyterlab/ui-components';

/** The Jobs sidebar icon: stacked task bars with a play mark. */
const JOBS_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <rect x="2" y="3" width="13" height="4" rx="1"/>
    <rect x="2" y="10" width="9" height="4" rx="1"/>
    <rect x="2" y="17" width="11" height="4" rx="1"/>
    <path d="M16 9.5v11l7-5.5z"/>
  </g>
</svg>`;

export const jobsIcon = new LabIcon({ name: 'jupyter-jobs:jobs', svgstr: JOBS_SVG });

/** "Run in background": a play mark over a clock-ish ring. */
const RUN_BG_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M12 2a10 10 0 1 0 10 10h-2a8 8 0 1 1-8-8z"/>
    <path d="M9 7.5v9l7-4.5z"/>
    <circle cx="19" cy="5" r="3"/>
  </g>
</svg>`;

export const runInBackgroundIcon = new LabIcon({
  name: 'jupyter-jobs:run-background',
  svgstr: RUN_BG_SVG
});
