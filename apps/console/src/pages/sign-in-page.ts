import { html } from './html.ts';
import { layout } from './layout.ts';

/** The form a tenant admin pastes their token into once; the console keeps it in a cookie. */
export function signInPage({ problem }: { problem?: string | undefined } = {}): string {
  const body = html`<section class="sign-in card">
  <h1>Sign in</h1>
  <p>Paste the token you use for the users API (<span class="mono">https://localhost:8001</span>). It must be a tenant admin's.
  The console keeps it in a cookie that no script can read and that leaves this browser for this console only, and forgets it when it expires.</p>
  ${problem ? html`<p class="problem" role="alert">${problem}</p>` : ''}
  <form method="post" action="/sign-in">
    <label for="token">Token</label>
    <textarea id="token" name="token" rows="5" required spellcheck="false" autocomplete="off" placeholder="eyJhbGciOiJFUzI1NiIs…"></textarea>
    <button type="submit">Sign in</button>
  </form>
  <p class="hint">Development: <code>npm run -s token -- --org &lt;your org id&gt;</code> prints one.</p>
  <p class="hint">Operators open <a href="/operator">/operator</a> with their client certificate instead; a tenant token never opens it.</p>
</section>`;
  return layout({ title: 'Sign in', body });
}
