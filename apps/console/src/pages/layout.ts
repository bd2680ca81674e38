import { html, type Html } from './html.ts';

export interface LayoutOptions {
  title: string;
  /** Who is looking, shown in the header with the way out, when someone is signed in. */
  who?: Html | undefined;
  /** How often the page's main part refreshes itself; 0 or absent for never. */
  refreshMs?: number | undefined;
  body: Html;
}

/** The page around every view: one stylesheet and one small script, both served by the console itself. */
export function layout({ title, who, refreshMs = 0, body }: LayoutOptions): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · tenant-sync console</title>
<link rel="stylesheet" href="/assets/console.css">
<script src="/assets/console.js" defer></script>
</head>
<body>
<header class="top">
  <a class="brand" href="/">tenant-sync <span>console</span></a>
  ${who ? html`<div class="who">${who}</div>` : ''}
</header>
<main data-refresh-ms="${refreshMs}">
${body}
</main>
</body>
</html>
`.markup;
}
