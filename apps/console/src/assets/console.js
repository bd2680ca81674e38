/* global document, setInterval, fetch, location, DOMParser */
// Refreshes the numbers of an open page: fetches the page again and swaps its <main> in place,
// every data-refresh-ms milliseconds (0: never). No framework, nothing else.
(() => {
  const main = document.querySelector('main[data-refresh-ms]');
  const every = Number(main?.dataset.refreshMs ?? 0);
  if (!main || !(every > 0)) return;
  let busy = false;
  setInterval(async () => {
    if (busy || document.hidden) return;
    busy = true;
    try {
      const response = await fetch(location.href, { headers: { accept: 'text/html' }, credentials: 'same-origin', cache: 'no-store' });
      if (response.status === 401 || response.status === 403) return location.assign('/sign-in');
      if (!response.ok) return;
      const next = new DOMParser().parseFromString(await response.text(), 'text/html').querySelector('main');
      if (next) main.replaceChildren(...next.childNodes);
    } catch {
      // offline for a moment: the next round tries again
    } finally {
      busy = false;
    }
  }, every);
})();
