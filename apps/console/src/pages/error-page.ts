import { html } from './html.ts';
import { layout } from './layout.ts';

export interface ErrorBody {
  statusCode: number;
  code: string;
  error: string;
  message: string;
}

const advice: Record<number, string> = {
  401: 'Sign in again with a valid token of an active member of the organisation.',
  403: 'Your role does not allow this: the console needs a tenant admin.',
  503: 'A part of the system does not answer right now; try again in a moment.',
};

/** The one error body of the console's handler, shown to a person. */
export function errorPage(body: ErrorBody, { operatorView }: { operatorView: boolean }): string {
  const next =
    body.statusCode === 401 && operatorView
      ? html`<p>The operator view opens only with an operator's client certificate (a SPIFFE ID in <code>CONSOLE_OPERATORS</code>); a tenant token does not open it.</p>`
      : body.statusCode === 401 || body.statusCode === 403
        ? html`<p><a class="button" href="/sign-in">Sign in</a></p>`
        : html`<p><a href="${operatorView ? '/operator' : '/'}">Back to the console</a></p>`;
  return layout({
    title: body.error,
    body: html`<section class="card error-page">
  <h1>${body.statusCode} ${body.error}</h1>
  <p class="problem">${body.message} <span class="mono muted">${body.code}</span></p>
  ${advice[body.statusCode] && !(operatorView && body.statusCode === 401) ? html`<p>${advice[body.statusCode]}</p>` : ''}
  ${next}
</section>`,
  });
}
